"""Signing in: farmers by phone + SMS code, staff by password (optionally + SMS), step-up, logout."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import otp, sessions
from app.auth.models import User
from app.core import audit, ratelimit
from app.core.config import get_settings
from app.core.errors import CredentialsInvalid, Forbidden, InvalidState, ValidationFailed, field_error
from app.core.identity import normalize_mobile
from app.core.principal import Role
from app.core.security import verify_password


def require_mobile(phone: str, field: str = "phone") -> str:
    normalized = normalize_mobile(phone)
    if normalized is None:
        raise ValidationFailed(
            errors=[field_error(field, "phone_invalid", "须为中国大陆手机号（如 13912345678 或 +8613912345678）")]
        )
    return normalized


async def request_code(
    session: AsyncSession, redis: Any, *, phone: str, purpose: str, ip: str, caller_id: uuid.UUID | None
) -> dict[str, int]:
    """POST /auth/sms-codes. A `step_up` code goes only to the phone of the account that asks for it."""
    phone = require_mobile(phone)
    if purpose == otp.Purpose.step_up:
        user = await session.get(User, caller_id) if caller_id else None
        if user is None or user.phone != phone:
            raise Forbidden(("只能向本人手机号发送确认验证码", "Step-up codes go only to your own phone"))
    return await otp.send_code(redis, phone, purpose, ip)


async def _farmer_by_phone(session: AsyncSession, phone: str) -> User | None:
    return (
        await session.execute(select(User).where(User.phone == phone, User.role == Role.farmer))
    ).scalar_one_or_none()


@dataclass
class SignedIn:
    pair: sessions.TokenPair
    user: User


async def sms_login(session: AsyncSession, redis: Any, *, phone: str, code: str) -> SignedIn:
    """POST /auth/sessions: a `login` code; the first login creates the farmer account."""
    phone = require_mobile(phone)
    await otp.verify_code(redis, phone, otp.Purpose.login, code)
    user = await _farmer_by_phone(session, phone)
    if user is None:
        user = User(role=Role.farmer, phone=phone)
        session.add(user)
        await session.flush()
        await audit.record(
            session,
            action="user.register",
            object_type="user",
            object_id=user.id,
            after={"role": Role.farmer},
            actor=audit.Actor("user", str(user.id), Role.farmer),
        )
    elif not user.is_active or user.deleted_at is not None:
        raise Forbidden(("该账号已停用", "This account is disabled"))
    pair = await sessions.start_session(session, user)
    return SignedIn(pair, user)


def _failure_tag(username: str) -> str:
    # A digest, not the text: the username is whatever a caller typed (length, braces of hash tags).
    return "login-fail:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


_THROTTLED = ("登录失败次数过多，请稍后再试", "Too many failed sign-ins; try again later")


@dataclass
class SecondFactorPending:
    expires_in: int
    resend_after: int


async def password_login(
    session: AsyncSession, redis: Any, *, username: str, password: str, code: str | None, ip: str
) -> SignedIn | SecondFactorPending:
    """POST /auth/password-sessions. Same answer and the same argon2 work for an unknown username."""
    s = get_settings()
    tag = _failure_tag(username)
    rules = [ratelimit.Rule("n", s.login_failures_per_window, s.login_failure_window_seconds, _THROTTLED)]
    # Counted before the password is checked, in one atomic step with the check of the limit: however many
    # attempts arrive at once, at most `login_failures_per_window` passwords are checked per window. A right
    # password takes its count back.
    attempt = await ratelimit.reserve(redis, tag, rules)
    user = (
        await session.execute(select(User).where(User.username == username, User.role != Role.farmer))
    ).scalar_one_or_none()
    ok, new_hash = await verify_password(password, user.password_hash if user else None)
    if not ok or user is None or not user.is_active or user.deleted_at is not None:
        raise CredentialsInvalid()
    await ratelimit.refund(redis, attempt)
    if new_hash:
        user.password_hash = new_hash
        session.add(user)
    if s.staff_sms_second_factor or user.sms_second_factor:
        if not user.phone:
            raise Forbidden(("账号未登记手机号，无法完成短信验证", "No phone on record for the SMS second factor"))
        if not code:
            sent = await otp.send_code(redis, user.phone, otp.Purpose.second_factor, ip)
            await session.flush()
            return SecondFactorPending(sent["expires_in"], sent["resend_after"])
        await otp.verify_code(redis, user.phone, otp.Purpose.second_factor, code)
    await ratelimit.clear(redis, tag, rules)
    pair = await sessions.start_session(session, user)
    await audit.record(
        session,
        action="user.sign_in",
        object_type="user",
        object_id=user.id,
        actor=audit.Actor("user", str(user.id), user.role),
    )
    return SignedIn(pair, user)


async def step_up(session: AsyncSession, redis: Any, *, user_id: uuid.UUID, sid: str | None, code: str) -> int:
    """POST /auth/step-up: a `step_up` code confirms this session for step_up_ttl_seconds."""
    s = get_settings()
    user = await session.get(User, user_id)
    if user is None or not user.phone or not sid:
        raise Forbidden(("该会话无法进行短信确认", "This session cannot be confirmed by SMS"))
    await otp.verify_code(redis, user.phone, otp.Purpose.step_up, code)
    await redis.set(f"stepup:{sid}", "1", ex=s.step_up_ttl_seconds)
    return s.step_up_ttl_seconds


_SELF = ("不能停用自己的账号", "You cannot disable your own account")
_LAST_ADMIN = ("至少须保留一个在用的平台管理员账号", "The platform must keep at least one active admin")
_LAST_BANK_ADMIN = ("该银行至少须保留一个在用的银行管理员账号", "The bank must keep at least one active bank_admin")


async def _keep_one_other(session: AsyncSession, target: User) -> None:
    """Refuse to disable the last active admin, or a bank's last active bank_admin.

    Locks every active peer row in id order before the target's own row, so that two admins disabling each
    other at once serialize (the second, once the first commits, no longer sees the first's target as active
    and is refused) and never deadlock."""
    if target.role == Role.admin:
        peers = select(User.id).where(User.role == Role.admin)
        msg = _LAST_ADMIN
    elif target.role == Role.bank_admin:
        peers = select(User.id).where(User.role == Role.bank_admin, User.bank_id == target.bank_id)
        msg = _LAST_BANK_ADMIN
    else:
        return
    active = peers.where(col(User.is_active).is_(True), col(User.deleted_at).is_(None))
    ids = (await session.execute(active.order_by(User.id).with_for_update())).scalars().all()
    if target.id in ids and not any(i != target.id for i in ids):
        raise InvalidState(msg)


async def set_active(
    session: AsyncSession, redis: Any, user_id: uuid.UUID, active: bool, *, actor_id: uuid.UUID | None = None
) -> User:
    """Admin: disable (every session ends at its next request) or enable an account. Nobody disables their own
    account, the platform's last active admin or a bank's last active bank_admin (409 invalid_state)."""
    from app.core.errors import NotFound

    if not active:
        if user_id == actor_id:
            raise InvalidState(_SELF)
        found = await session.get(User, user_id)
        if found is not None:
            await _keep_one_other(session, found)
    user = await session.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None or user.deleted_at is not None:
        raise NotFound()
    before = {"is_active": user.is_active}
    user.is_active = active
    session.add(user)
    if not active:
        await sessions.revoke_user_sessions(session, redis, user.id)
        await sessions.deny_user_tokens(session, redis, user.id)
    await session.flush()
    await audit.record(
        session,
        action="user.enable" if active else "user.disable",
        object_type="user",
        object_id=user.id,
        before=before,
        after={"is_active": active},
    )
    return user
