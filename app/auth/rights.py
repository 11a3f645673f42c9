"""The farmer's rights over their data (PIPL Art. 45, 47): export, and deletion with what must be kept.

Other domains extend both: `register_exporter(name, fn)` adds a section to `GET /me/export`;
`register_eraser(fn)` erases what that domain may erase and reports what it must keep and why.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import sessions
from app.auth.models import DeletionRequest, EnterpriseProfile, RefreshToken, User
from app.auth.profile import ID_KIND, USCC_KIND, enterprise_of, linked_household, load_user
from app.core import audit, crypto

Exporter = Callable[[AsyncSession, User], Awaitable[Any]]
# An eraser returns (what it erased, [{"what","why"} kept]).
Eraser = Callable[[AsyncSession, User], Awaitable[tuple[list[str], list[dict[str, str]]]]]

EXPORTERS: dict[str, Exporter] = {}
ERASERS: list[Eraser] = []


def register_exporter(name: str, fn: Exporter) -> None:
    EXPORTERS[name] = fn


def register_eraser(fn: Eraser) -> None:
    if fn not in ERASERS:
        ERASERS.append(fn)


async def _profile(session: AsyncSession, user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "role": user.role,
        "phone": user.phone,
        "real_name": user.real_name,
        "id_number": crypto.decrypt(user.id_number_enc, ID_KIND) if user.id_number_enc else None,
        "village_code": user.village_code,
        "household_type": user.household_type,
        "created_at": user.created_at.isoformat(),
    }


async def _household(session: AsyncSession, user: User) -> dict[str, Any] | None:
    h = await linked_household(session, user.id)
    if h is None:
        return None
    return {
        "id": str(h.id),
        "real_name": h.real_name,
        "village_code": h.village_code,
        "township_code": h.township_code,
        "county_code": h.county_code,
        "is_registered_poor": h.is_registered_poor,
    }


async def _enterprise(session: AsyncSession, user: User) -> dict[str, Any] | None:
    e = await enterprise_of(session, user.id)
    if e is None:
        return None
    return {"name": e.name, "unified_social_credit_code": crypto.decrypt(e.uscc_enc, USCC_KIND)}


async def _sessions(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(RefreshToken)
            .where(RefreshToken.user_id == user.id)
            .order_by(RefreshToken.created_at.desc())  # type: ignore[attr-defined]
            .limit(500)
        )
    ).scalars()
    families: dict[str, dict[str, Any]] = {}
    for r in rows:
        f = families.setdefault(
            r.family_id,
            {"sid": r.family_id, "started_at": r.family_started_at.isoformat(), "last_used_at": None, "active": False},
        )
        stamp = (r.used_at or r.created_at).isoformat()
        if f["last_used_at"] is None or stamp > f["last_used_at"]:
            f["last_used_at"] = stamp
        if r.revoked_at is None and r.used_at is None and r.expires_at > datetime.now(UTC):
            f["active"] = True
    return list(families.values())


register_exporter("profile", _profile)
register_exporter("household", _household)
register_exporter("enterprise", _enterprise)
register_exporter("sessions", _sessions)


async def export(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    user = await load_user(session, user_id)
    out: dict[str, Any] = {"exported_at": datetime.now(UTC).isoformat()}
    for name, fn in EXPORTERS.items():
        out[name] = await fn(session, user)
    await audit.record(session, action="user.export", object_type="user", object_id=user.id)
    return out


async def _erase_account(session: AsyncSession, user: User) -> tuple[list[str], list[dict[str, str]]]:
    erased = ["enterprise_profile", "household_type", "sessions"]
    kept: list[dict[str, str]] = [
        {
            "what": "audit_trail",
            "why": "操作审计记录依法留存，且不含姓名、手机号、身份证号等个人信息",
        }
    ]
    await session.execute(delete(EnterpriseProfile).where(EnterpriseProfile.user_id == user.id))
    user.household_type = None
    household = await linked_household(session, user.id)
    if household is not None:
        kept.append(
            {
                "what": "identity_and_household_link",
                "why": "账号已绑定农户，授信与贷款记录须依《征信业管理条例》等规定保存（不少于 5 年），"
                "姓名、身份证号、手机号与农户的绑定随之保留",
            }
        )
    else:
        erased += ["real_name", "id_number", "phone", "village_code"]
        user.real_name = None
        user.id_number_enc = None
        user.id_number_hash = None
        user.phone = None
        user.village_code = None
        user.is_active = False
        user.deleted_at = datetime.now(UTC)
    session.add(user)
    return erased, kept


async def request_deletion(session: AsyncSession, redis: Any, user_id: uuid.UUID) -> DeletionRequest:
    user = await load_user(session, user_id, lock=True)
    erased: list[str] = []
    kept: list[dict[str, str]] = []
    for fn in [*ERASERS, _erase_account]:  # other domains first: they may still need the account's identity
        e, k = await fn(session, user)
        erased += e
        kept += k
    await sessions.revoke_user_sessions(session, redis, user.id)
    await sessions.deny_user_tokens(session, redis, user.id)
    req = DeletionRequest(
        user_id=user.id,
        status="completed" if user.deleted_at else "restricted",
        erased=json.dumps(erased, ensure_ascii=False),
        kept=json.dumps(kept, ensure_ascii=False),
    )
    session.add(req)
    await session.flush()
    await audit.record(
        session, action="user.deletion", object_type="user", object_id=user.id, after={"status": req.status}
    )
    return req
