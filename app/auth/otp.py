"""SMS one-time codes: 6 digits from `secrets`, 300 s, single use, bound to phone + purpose.

Only a keyed hash of the code lives in Redis (`otp:{purpose:phone}` → hash + wrong tries, with a TTL). A resend
replaces the code; spent and replaced codes are remembered (as hashes) for their lifetime so that they answer
`otp_expired` rather than `otp_invalid`. Five wrong tries kill the code; checking a code and counting the try
are one Lua script. Codes are never logged.
"""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any

from app.core import ratelimit
from app.core.config import get_settings
from app.core.errors import OtpExpired, OtpInvalid, RateLimited, ValidationFailed, field_error
from app.core.identity import normalize_mobile
from app.core.security import keyed_hash
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
    return f"otp:{{{purpose}:{phone}}}"


def _spent_key(phone: str, purpose: str) -> str:
    return f"otp:{{{purpose}:{phone}}}:spent"


def _hash(phone: str, purpose: str, code: str) -> str:
    return keyed_hash(f"{purpose}:{phone}:{code}", "otp")


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


_TOO_SOON = ("发送过于频繁，请稍后再试", "Please wait before requesting another code")
_PHONE_LIMIT = ("该手机号今日获取验证码次数过多", "Too many codes for this phone number")
_IP_LIMIT = ("当前网络请求验证码过多，请稍后再试", "Too many codes from this network")
_GLOBAL = ("短信服务繁忙，请稍后再试", "SMS service busy, try again later")


async def reserve_send(redis: Any, phone: str, purpose: str, ip: str | None) -> None:
    """Count this send against every sending limit, or raise RateLimited and count nothing.

    The per-phone limits (the interval per purpose, the hour and day caps across purposes) are one atomic step
    under the phone's hash tag: of N concurrent sends for one phone exactly one passes the interval. The per-IP
    and global budgets have tags of their own (one Redis Cluster slot per script), so they are reserved after
    it, in order, and a refusal refunds what was reserved before. The phone goes first because it is the most
    specific and the cheapest refusal: a flood for one phone dies there without touching the shared budgets.
    """
    s = get_settings()
    phone_rules = [
        ratelimit.Rule("phone", s.sms_phone_per_hour, 3600, _PHONE_LIMIT),
        ratelimit.Rule("phone", s.sms_phone_per_day, 86400, _PHONE_LIMIT),
    ]
    if s.sms_phone_interval_seconds > 0:
        phone_rules.insert(0, ratelimit.Rule(f"interval:{purpose}", 1, s.sms_phone_interval_seconds, _TOO_SOON))
    steps = [(f"sms:{phone}", phone_rules)]
    if ip:
        steps.append((f"sms:ip:{ip}", [ratelimit.Rule("n", s.sms_ip_per_hour, 3600, _IP_LIMIT)]))
    steps.append(("sms:global", [ratelimit.Rule("n", s.sms_global_per_hour, 3600, _GLOBAL)]))
    done: list[ratelimit.Reservation] = []
    try:
        for tag, rules in steps:
            done.append(await ratelimit.reserve(redis, tag, rules))
    except RateLimited:
        for r in reversed(done):
            await ratelimit.refund(redis, r)
        raise


# KEYS[1] = the code's hash, KEYS[2] = spent hashes (one tag). ARGV: new hash, ttl (s). The replaced code, if
# any, is remembered as spent so that it answers otp_expired.
_STORE = """
local old = redis.call('HGET', KEYS[1], 'h')
if old then
  redis.call('SADD', KEYS[2], old)
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'fails', 0)
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS as above. ARGV: the presented code's hash ('' for none), max attempts, ttl (s).
# Returns {'ok'}, {'expired'} or {'invalid', attempts left}. Reading, comparing and counting are one step, so
# at most `max attempts` guesses are ever compared per code whatever the concurrency; the last wrong one kills
# the code (remembered as spent, so the right code after it answers otp_expired).
# The compare is a plain `==` of two HMAC-SHA256 digests: a timing difference could only tell how many leading
# characters of the HMAC of a guess match the stored one, which says nothing about the code to someone who does
# not hold the key, and each such probe costs one of the five tries anyway.
_VERIFY = """
local stored = redis.call('HGET', KEYS[1], 'h')
if not stored then return {'expired'} end
if ARGV[1] ~= '' and ARGV[1] == stored then
  redis.call('DEL', KEYS[1])
  redis.call('SADD', KEYS[2], stored)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return {'ok'}
end
if ARGV[1] ~= '' and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return {'expired'} end
local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
local left = tonumber(ARGV[2]) - fails
if left <= 0 then
  redis.call('DEL', KEYS[1])
  redis.call('SADD', KEYS[2], stored)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  left = 0
end
return {'invalid', left}
"""


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
    await reserve_send(redis, phone, purpose, ip)
    code = new_code()
    keys = (_key(phone, purpose), _spent_key(phone, purpose))
    await redis.eval(_STORE, 2, *keys, _hash(phone, purpose, code), s.otp_ttl_seconds)
    await send_sms(phone, TEXTS[purpose].format(code=code))
    return {"expires_in": s.otp_ttl_seconds, "resend_after": max(s.sms_phone_interval_seconds, 0)}


async def verify_code(redis: Any, phone: str, purpose: str, code: str) -> None:
    """Accept the code once, or raise `OtpInvalid` (with `attempts_left`) / `OtpExpired`."""
    s = get_settings()
    purpose = Purpose(purpose)
    phone = normalize_mobile(phone) or phone
    given = _hash(phone, purpose, code.strip()) if code and code.strip() else ""
    keys = (_key(phone, purpose), _spent_key(phone, purpose))
    answer = await redis.eval(_VERIFY, 2, *keys, given, s.otp_max_attempts, s.otp_ttl_seconds)
    if answer[0] == "ok":
        return
    if answer[0] == "expired":
        raise OtpExpired()
    left = int(answer[1])
    raise OtpInvalid(
        (f"验证码错误，还可尝试 {left} 次", f"Wrong code; {left} attempts left"), extra={"attempts_left": left}
    )
