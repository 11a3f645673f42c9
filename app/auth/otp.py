"""SMS one-time codes: 6 digits from `secrets`, 300 s, single use, bound to phone + purpose.

Only a keyed hash of the code lives in Redis (`otp:{purpose}:{phone}` → hash + wrong tries, with a TTL). A resend
replaces the code; spent and replaced codes are remembered (as hashes) for their lifetime so that they answer
`otp_expired` rather than `otp_invalid`. Five wrong tries kill the code. Codes are never logged.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any

from app.core import ratelimit
from app.core.config import get_settings
from app.core.errors import OtpExpired, OtpInvalid, RateLimited, ValidationFailed, field_error
from app.core.identity import normalize_mobile
from app.core.security import constant_time_equal, keyed_hash
from app.sms import send_sms


class Purpose(StrEnum):
    login = "login"
    step_up = "step_up"
    consent = "consent"
    second_factor = "second_factor"  # staff password + SMS (internal; not requestable via /auth/sms-codes)


TEXTS = {
    Purpose.login: "您的登录验证码为{code}，5分钟内有效。请勿告诉他人。",
    Purpose.step_up: "您正在确认一项重要操作，验证码为{code}，5分钟内有效。如非本人操作请忽略。",
    Purpose.consent: "服务站正在为您代办业务，需要您的授权，验证码为{code}，5分钟内有效。请确认是本人意愿后再告知。",
    Purpose.second_factor: "您的工作人员登录验证码为{code}，5分钟内有效。",
}


def _key(phone: str, purpose: str) -> str:
    return f"otp:{purpose}:{phone}"


def _spent_key(phone: str, purpose: str) -> str:
    return f"otp:spent:{purpose}:{phone}"


def _hash(phone: str, purpose: str, code: str) -> str:
    return keyed_hash(f"{purpose}:{phone}:{code}", "otp")


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


_TOO_SOON = ("发送过于频繁，请稍后再试", "Please wait before requesting another code")
_PHONE_LIMIT = ("该手机号今日获取验证码次数过多", "Too many codes for this phone number")
_IP_LIMIT = ("当前网络请求验证码过多，请稍后再试", "Too many codes from this network")
_GLOBAL = ("短信服务繁忙，请稍后再试", "SMS service busy, try again later")


async def check_send_limits(redis: Any, phone: str, purpose: str, ip: str | None) -> None:
    """Raise RateLimited when any sending limit is reached; counts nothing."""
    s = get_settings()
    if s.sms_phone_interval_seconds > 0:
        ttl = await redis.ttl(f"sms:last:{purpose}:{phone}")
        if ttl and int(ttl) > 0:
            raise RateLimited(int(ttl), _TOO_SOON)
    checks = [
        (f"sms:phone:{phone}", s.sms_phone_per_hour, 3600, _PHONE_LIMIT),
        (f"sms:phone:{phone}", s.sms_phone_per_day, 86400, _PHONE_LIMIT),
        ("sms:global", s.sms_global_per_hour, 3600, _GLOBAL),
    ]
    if ip:
        checks.insert(2, (f"sms:ip:{ip}", s.sms_ip_per_hour, 3600, _IP_LIMIT))
    for key, limit, window, msg in checks:
        retry = await ratelimit.peek(redis, key, limit, window)
        if retry is not None:
            raise RateLimited(retry, msg)


async def _count_send(redis: Any, phone: str, purpose: str, ip: str | None) -> None:
    s = get_settings()
    if s.sms_phone_interval_seconds > 0:
        await redis.set(f"sms:last:{purpose}:{phone}", "1", ex=s.sms_phone_interval_seconds)
    await ratelimit.hit(redis, f"sms:phone:{phone}", s.sms_phone_per_hour, 3600, _PHONE_LIMIT)
    await ratelimit.hit(redis, f"sms:phone:{phone}", s.sms_phone_per_day, 86400, _PHONE_LIMIT)
    if ip:
        await ratelimit.hit(redis, f"sms:ip:{ip}", s.sms_ip_per_hour, 3600, _IP_LIMIT)
    await ratelimit.hit(redis, "sms:global", s.sms_global_per_hour, 3600, _GLOBAL)


async def send_code(redis: Any, phone: str, purpose: str, ip: str | None) -> dict[str, int]:
    """Send a fresh code for (phone, purpose), replacing any older one. Enforces every sending limit.

    Returns `{"expires_in", "resend_after"}`. A phone that is not a mainland mobile is ValidationFailed (422).
    """
    s = get_settings()
    purpose = Purpose(purpose)
    normalized = normalize_mobile(phone)
    if normalized is None:
        raise ValidationFailed(errors=[field_error("phone", "phone_invalid", "须为中国大陆手机号")])
    phone = normalized
    await check_send_limits(redis, phone, purpose, ip)
    await _count_send(redis, phone, purpose, ip)
    code = new_code()
    key = _key(phone, purpose)
    old = await redis.hget(key, "h")
    async with redis.pipeline(transaction=True) as pipe:
        if old:
            pipe.sadd(_spent_key(phone, purpose), old)
            pipe.expire(_spent_key(phone, purpose), s.otp_ttl_seconds)
        pipe.delete(key)
        pipe.hset(key, mapping={"h": _hash(phone, purpose, code), "fails": 0})
        pipe.expire(key, s.otp_ttl_seconds)
        await pipe.execute()
    await send_sms(phone, TEXTS[purpose].format(code=code))
    return {"expires_in": s.otp_ttl_seconds, "resend_after": max(s.sms_phone_interval_seconds, 0)}


async def verify_code(redis: Any, phone: str, purpose: str, code: str) -> None:
    """Accept the code once, or raise `OtpInvalid` (with `attempts_left`) / `OtpExpired`."""
    s = get_settings()
    purpose = Purpose(purpose)
    phone = normalize_mobile(phone) or phone
    key = _key(phone, purpose)
    given = _hash(phone, purpose, code.strip()) if code else ""
    stored = await redis.hgetall(key)
    if not stored or "h" not in stored:
        raise OtpExpired()
    if given and constant_time_equal(given, stored["h"]):
        # Single use: only the caller whose DELETE removed the key wins a race.
        if await redis.delete(key) != 1:
            raise OtpExpired()
        async with redis.pipeline(transaction=True) as pipe:
            pipe.sadd(_spent_key(phone, purpose), given)
            pipe.expire(_spent_key(phone, purpose), s.otp_ttl_seconds)
            await pipe.execute()
        return
    if given and await redis.sismember(_spent_key(phone, purpose), given):
        raise OtpExpired()
    fails = int(await redis.hincrby(key, "fails", 1))
    if int(await redis.ttl(key)) == -1:  # the code expired between the read and the count
        await redis.delete(key)
        raise OtpExpired()
    left = max(0, s.otp_max_attempts - fails)
    if left == 0:
        await redis.delete(key)
    raise OtpInvalid(
        (f"验证码错误，还可尝试 {left} 次", f"Wrong code; {left} attempts left"), extra={"attempts_left": left}
    )
