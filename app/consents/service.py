"""Consents (PIPL; JR/T 0171): granted by choosing a lead bank or accepting an offer, withdrawn at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import profile, rights
from app.auth.models import User
from app.banks import service as banks
from app.consents.models import Consent, ConsentText
from app.consents.schemas import ConsentBank, ConsentPublic, ConsentTextPublic
from app.core import audit
from app.core.db import utcnow
from app.core.errors import InvalidState, NotFound
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.events import service as events

DEFAULT_TEXT = ConsentTextPublic(
    version="2026-01",
    text=(
        "本人同意将姓名、身份证号、手机号、信用评级及授信信息提供给本人选定的银行，仅用于办理普惠授信贷款的审批、"
        "发放和贷后管理。本人可随时撤回本授权，撤回后即时生效。"
    ),
    fields=["real_name", "id_number", "phone", "rating", "certificate"],
    purpose="普惠授信贷款审批、发放与贷后管理",
)


async def current_text(session: AsyncSession) -> ConsentTextPublic:
    row = await session.scalar(
        select(ConsentText)
        .where(col(ConsentText.is_current).is_(True))
        .order_by(col(ConsentText.created_at).desc(), col(ConsentText.version).desc())
        .limit(1)
    )
    if row is None:
        return DEFAULT_TEXT
    return ConsentTextPublic(version=row.version, text=row.text, fields=list(row.fields), purpose=row.purpose)


async def grant(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    household_id: uuid.UUID | None,
    bank_id: uuid.UUID,
    source: str,
    fields: Sequence[str] | None = None,
    purpose: str | None = None,
    source_id: uuid.UUID | None = None,
    witness_agent_id: uuid.UUID | None = None,
) -> Consent:
    """Record a consent on the wording now shown; `fields`/`purpose` default to that wording's.

    Either the account (`user_id`) consents, or a household without one through a station agent
    (`witness_agent_id`, `household_id` set, `user_id` None)."""
    if user_id is None and (household_id is None or witness_agent_id is None):
        raise ValueError("a consent without an account needs the household and the witnessing agent")
    text = await current_text(session)
    consent = Consent(
        user_id=user_id,
        household_id=household_id,
        bank_id=bank_id,
        fields=list(fields if fields is not None else text.fields),
        purpose=purpose or text.purpose,
        wording_version=text.version,
        source=source,
        source_id=source_id,
        witness_agent_id=witness_agent_id,
    )
    session.add(consent)
    await session.flush()
    await audit.record(
        session,
        action="consent.grant",
        object_type="consent",
        object_id=consent.id,
        after={"bank_id": str(bank_id), "source": source, "fields": consent.fields, "version": text.version},
        witness_agent_id=str(witness_agent_id) if witness_agent_id else None,
    )
    return consent


async def has_consent(session: AsyncSession, bank_id: uuid.UUID, household_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Consent.id)
        .where(
            Consent.bank_id == bank_id,
            Consent.household_id == household_id,
            col(Consent.withdrawn_at).is_(None),
        )
        .limit(1)
    )
    return found is not None


async def offer_consents(
    session: AsyncSession, offer_ids: Iterable[uuid.UUID], bank_id: uuid.UUID | None = None
) -> dict[uuid.UUID, Consent]:
    """The standing consents given by accepting these offers (by offer id), optionally only to one bank."""
    wanted = {i for i in offer_ids if i is not None}
    if not wanted:
        return {}
    q = select(Consent).where(
        Consent.source == "offer", col(Consent.source_id).in_(wanted), col(Consent.withdrawn_at).is_(None)
    )
    if bank_id is not None:
        q = q.where(Consent.bank_id == bank_id)
    rows = (await session.execute(q.order_by(Consent.granted_at, Consent.id))).scalars().all()
    return {c.source_id: c for c in rows if c.source_id is not None}


async def activation_consents(
    session: AsyncSession, household_ids: Iterable[uuid.UUID], bank_id: uuid.UUID | None = None
) -> dict[uuid.UUID, Consent]:
    """Each household's standing lead-bank consent (启信: identity for lending), optionally only to one bank."""
    wanted = {i for i in household_ids if i is not None}
    if not wanted:
        return {}
    q = select(Consent).where(
        Consent.source == "activation",
        col(Consent.household_id).in_(wanted),
        col(Consent.withdrawn_at).is_(None),
    )
    if bank_id is not None:
        q = q.where(Consent.bank_id == bank_id)
    rows = (await session.execute(q.order_by(Consent.granted_at, Consent.id))).scalars().all()
    return {c.household_id: c for c in rows if c.household_id is not None}


async def _withdraw(session: AsyncSession, consent: Consent, reason: str) -> None:
    consent.withdrawn_at = utcnow()
    await events.emit(
        session,
        type="consent.withdrawn",
        bank_id=consent.bank_id,
        data={
            "consent_id": str(consent.id),
            "household_id": str(consent.household_id) if consent.household_id else None,
            "source": consent.source,
            "reason": reason,
        },
    )
    await audit.record(
        session,
        action="consent.withdraw",
        object_type="consent",
        object_id=consent.id,
        before={"withdrawn": False},
        after={"withdrawn": True, "reason": reason},
    )


async def withdraw_for_bank(
    session: AsyncSession, *, household_id: uuid.UUID, bank_id: uuid.UUID, source: str, reason: str
) -> int:
    """Withdraw the household's standing consents of one source to one bank (e.g. a change of lead bank)."""
    rows = (
        (
            await session.execute(
                select(Consent).where(
                    Consent.household_id == household_id,
                    Consent.bank_id == bank_id,
                    Consent.source == source,
                    col(Consent.withdrawn_at).is_(None),
                )
            )
        )
        .scalars()
        .all()
    )
    for c in rows:
        await _withdraw(session, c, reason)
    return len(rows)


async def _bank_names(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    return await banks.bank_names(session, ids)


def _public(c: Consent, names: dict[uuid.UUID, str]) -> ConsentPublic:
    return ConsentPublic(
        id=c.id,
        bank=ConsentBank(id=c.bank_id, name=names.get(c.bank_id, "")),
        fields=list(c.fields),
        purpose=c.purpose,
        wording_version=c.wording_version,
        source=c.source,
        granted_at=c.granted_at,
        withdrawn_at=c.withdrawn_at,
        active=c.withdrawn_at is None,
    )


async def _owned_by(session: AsyncSession, user_id: uuid.UUID) -> ColumnElement[bool]:
    """The account's own consents, and those its household gave through a station agent before it had one."""
    household = await profile.linked_household(session, user_id)
    household_id = household.id if household is not None else None
    own: ColumnElement[bool] = col(Consent.user_id) == user_id
    if household_id is None:
        return own
    return or_(own, and_(col(Consent.user_id).is_(None), Consent.household_id == household_id))


async def list_mine(
    session: AsyncSession, user_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[ConsentPublic], str | None]:
    cols = [(Consent.granted_at, True), (Consent.id, True)]
    stmt = select(Consent).where(await _owned_by(session, user_id))
    if cursor:
        stmt = stmt.where(after(cols, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    items, nxt = page_of(rows, limit, lambda c: [c.granted_at, c.id])
    names = await _bank_names(session, {c.bank_id for c in items})
    return [_public(c, names) for c in items], nxt


async def withdraw_mine(session: AsyncSession, user_id: uuid.UUID, consent_id: uuid.UUID) -> ConsentPublic:
    consent = await session.scalar(
        select(Consent).where(Consent.id == consent_id, await _owned_by(session, user_id)).with_for_update()
    )
    if consent is None:
        raise NotFound()
    if consent.withdrawn_at is not None:
        raise InvalidState(("该授权已撤回", "This consent is already withdrawn"))
    await _withdraw(session, consent, "withdrawn_by_household")
    names = await _bank_names(session, {consent.bank_id})
    return _public(consent, names)


# ---- the farmer's rights -----------------------------------------------------------------------------------


async def export_consents(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """`GET /me/export` section: every consent given (also through a station agent), withdrawn ones too."""
    rows = (
        (
            await session.execute(
                select(Consent)
                .where(await _owned_by(session, user.id))
                .order_by(Consent.granted_at, Consent.id)
                .limit(1000)
            )
        )
        .scalars()
        .all()
    )
    names = await _bank_names(session, {c.bank_id for c in rows})
    return [
        {**_public(c, names).model_dump(mode="json"), "via_station_agent": c.witness_agent_id is not None} for c in rows
    ]


async def keep_consents(session: AsyncSession, user: User) -> tuple[list[str], list[dict[str, str]]]:
    found = await session.scalar(select(Consent.id).where(await _owned_by(session, user.id)).limit(1))
    if found is None:
        return [], []
    return [], [
        {
            "what": "consents",
            "why": "授权记录证明银行获取您个人信息的合法依据（《个人信息保护法》第十三、十四条），须与相关贷款档案"
            "一并保存；删除请求不会撤回仍有效的授权，如需撤回请在“我的授权”中操作",
        }
    ]


rights.register_exporter("consents", export_consents)
rights.register_eraser(keep_consents)
