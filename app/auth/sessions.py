"""Sessions: access tokens (JWT, 15 min) and rotating opaque refresh tokens grouped in families.

A family is one login; its id is the access token's `sid` claim. Every refresh spends the presented token and
issues the next one. A spent token presented again within the grace period (a retry after a lost answer) gets
the same new pair, kept encrypted in Redis for those seconds; later, the whole family is revoked (RFC 9700).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import revocation
from app.auth.models import RefreshToken, User
from app.core import crypto
from app.core.config import get_settings
from app.core.security import create_access_token, keyed_hash, new_token


@dataclass
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    sid: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }


class RefreshRefused(Exception):
    """The refresh token is unknown, expired, revoked, or was replayed after the grace period."""


def _now() -> datetime:
    return datetime.now(UTC)


def refresh_hash(token: str) -> str:
    return keyed_hash(token, "refresh-token")


def access_claims(user: User, sid: str) -> dict[str, Any]:
    extra: dict[str, Any] = {"sid": sid}
    if user.bank_id:
        extra["bank"] = str(user.bank_id)
    if user.region_code:
        extra["region"] = user.region_code
    if user.station_id:
        extra["station"] = str(user.station_id)
    return extra


def _access(user: User, sid: str) -> tuple[str, int]:
    token, _, ttl = create_access_token(sub=str(user.id), role=user.role, extra=access_claims(user, sid))
    return token, ttl


async def _new_refresh(session: AsyncSession, user: User, sid: str, started: datetime) -> str:
    s = get_settings()
    token = new_token(32)
    now = _now()
    absolute = started + timedelta(seconds=s.refresh_absolute_ttl_seconds)
    session.add(
        RefreshToken(
            token_hash=refresh_hash(token),
            family_id=sid,
            user_id=user.id,
            family_started_at=started,
            expires_at=min(now + timedelta(seconds=s.refresh_idle_ttl_seconds), absolute),
        )
    )
    await session.flush()
    return token


async def start_session(session: AsyncSession, user: User) -> TokenPair:
    sid = uuid.uuid4().hex
    refresh = await _new_refresh(session, user, sid, _now())
    access, ttl = _access(user, sid)
    return TokenPair(access, refresh, ttl, sid)


def _grace_key(token_hash: str) -> str:
    return f"refresh:grace:{token_hash}"


async def revoke_family(session: AsyncSession, redis: Any, sid: str) -> None:
    """Revoke every refresh token of the family and deny its access tokens until they expire."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == sid, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    await revocation.revoke(session, redis, revocation.SID, sid)


async def live_families(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    rows = await session.execute(
        select(RefreshToken.family_id)
        .where(
            RefreshToken.user_id == user_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > _now(),
        )
        .distinct()
    )
    return [r[0] for r in rows]


async def revoke_user_sessions(
    session: AsyncSession, redis: Any, user_id: uuid.UUID, *, keep_sid: str | None = None
) -> int:
    """End every session of a user (but `keep_sid`). Returns how many families were revoked."""
    families = [f for f in await live_families(session, user_id) if f != keep_sid]
    for sid in families:
        await revoke_family(session, redis, sid)
    return len(families)


async def deny_user_tokens(session: AsyncSession, redis: Any, user_id: uuid.UUID) -> None:
    """Every access token of this account (or API client) issued up to now stops working (disabled or deleted
    account, revoked or rotated client)."""
    await revocation.revoke(session, redis, revocation.USER, user_id.hex, not_before=int(time.time()))


async def refresh(session: AsyncSession, redis: Any, token: str) -> TokenPair:
    s = get_settings()
    h = refresh_hash(token)
    row = (
        await session.execute(select(RefreshToken).where(RefreshToken.token_hash == h).with_for_update())
    ).scalar_one_or_none()
    now = _now()
    if row is None or row.revoked_at is not None:
        raise RefreshRefused()
    if row.used_at is not None:
        cached = await redis.get(_grace_key(h))
        if cached and (now - row.used_at).total_seconds() <= s.refresh_grace_seconds:
            data = json.loads(crypto.decrypt(cached, "refresh-grace"))
            return TokenPair(data["access_token"], data["refresh_token"], int(data["expires_in"]), row.family_id)
        await revoke_family(session, redis, row.family_id)
        raise RefreshRefused()
    absolute = row.family_started_at + timedelta(seconds=s.refresh_absolute_ttl_seconds)
    if row.expires_at <= now or absolute <= now:
        raise RefreshRefused()
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active or user.deleted_at is not None:
        raise RefreshRefused()
    row.used_at = now
    session.add(row)
    new_refresh = await _new_refresh(session, user, row.family_id, row.family_started_at)
    access, ttl = _access(user, row.family_id)
    pair = TokenPair(access, new_refresh, ttl, row.family_id)
    if s.refresh_grace_seconds > 0:
        payload = json.dumps({"access_token": access, "refresh_token": new_refresh, "expires_in": ttl})
        await redis.set(_grace_key(h), crypto.encrypt(payload, "refresh-grace"), ex=s.refresh_grace_seconds)
    return pair


async def logout(session: AsyncSession, redis: Any, sid: str | None, jti: str, exp: int) -> None:
    await revocation.revoke(session, redis, revocation.JTI, jti, until=datetime.fromtimestamp(exp, UTC))
    if sid:
        await revoke_family(session, redis, sid)
