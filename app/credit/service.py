"""Credit: households for staff, `/me/credit`, activation (启信), freezing, objections, unlinking."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import audit, crypto, hooks
from app.core.db import utcnow
from app.core.errors import (
    InvalidState,
    NotFound,
    ValidationFailed,
)
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.core.principal import Principal, Role
from app.credit import rating_engine
from app.credit.certificates import effective_status, status_after_unfreeze
from app.credit.models import Certificate, CertificateLedgerEntry, Household, Objection, RatingChange, RatingFactor
from app.credit.rating_updates import check_codes, factor_catalogue, rate_household
from app.credit.schemas import (
    CertificateAdminPublic,
    CertificateSummary,
    HouseholdDetail,
    HouseholdPublic,
    LedgerEntryPublic,
    ObjectionPublic,
    ObjectionResolve,
    RatingChangePublic,
    RatingFactorPublic,
    RatingUpdate,
)
from app.events import service as events
from app.notifications import service as notifications


def region_scope(p: Principal) -> str | None:
    """A regulator sees its region (None or the city = everything); an admin sees everything."""
    if p.role != Role.regulator or p.region_code in (None, "", "4117", "41"):
        return None
    return p.region_code


def _in_scope(p: Principal, village_code: str | None) -> bool:
    scope = region_scope(p)
    return scope is None or (village_code or "").startswith(scope)


async def list_factors(session: AsyncSession) -> list[RatingFactorPublic]:
    rows = (
        (
            await session.execute(
                select(RatingFactor).where(col(RatingFactor.is_active).is_(True)).order_by(RatingFactor.sort_order)
            )
        )
        .scalars()
        .all()
    )
    return [RatingFactorPublic(code=r.code, kind=r.kind, label=r.label_zh) for r in rows]


# ---- households (staff) -------------------------------------------------------------------------------


def _summary(c: Certificate | None) -> CertificateSummary | None:
    if c is None:
        return None
    return CertificateSummary(
        id=c.id, number=c.number, color=c.color, stars=c.stars, limit_fen=c.limit_fen,
        outstanding_fen=c.outstanding_fen, pending_fen=c.pending_fen, status=effective_status(c),
        lead_bank_id=c.lead_bank_id, expires_on=c.expires_on,
    )  # fmt: skip


def _household_fields(h: Household, cert: Certificate | None) -> dict[str, Any]:
    try:
        id_number = crypto.mask_id_number(crypto.decrypt(h.id_number_enc, "resident_id"))
    except Exception:  # a row encrypted under a rotated key still lists, without the number
        id_number = None
    return {
        "id": h.id,
        "real_name": crypto.mask_name(h.real_name),
        "phone": crypto.mask_phone(h.phone),
        "id_number": id_number,
        "village_code": h.village_code,
        "township_code": h.township_code,
        "county_code": h.county_code,
        "is_registered_poor": h.is_registered_poor,
        "provincial_score": h.provincial_score,
        "village_score": h.village_score,
        "composite_score": h.composite_score,
        "stars": h.stars,
        "is_credit_household": h.is_credit_household,
        "vetoed": h.vetoed,
        "positives": list(h.positives or []),
        "negatives": list(h.negatives or []),
        "vetoes": list(h.vetoes or []),
        "rated_at": h.rated_at,
        "linked": h.user_id is not None,
        "certificate": _summary(cert),
    }


async def _current_certs(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Certificate]:
    if not ids:
        return {}
    rows = (
        (
            await session.execute(
                select(Certificate).where(col(Certificate.household_id).in_(ids), col(Certificate.is_current).is_(True))
            )
        )
        .scalars()
        .all()
    )
    return {c.household_id: c for c in rows}


async def list_households(
    session: AsyncSession, p: Principal, village_code: str | None, limit: int, cursor: str | None
) -> tuple[list[HouseholdPublic], str | None]:
    stmt = select(Household)
    if village_code:
        stmt = stmt.where(Household.village_code == village_code)
    scope = region_scope(p)
    if scope:
        stmt = stmt.where(col(Household.village_code).startswith(scope))
    if cursor:
        stmt = stmt.where(Household.id > decode_cursor(cursor, [parse_uuid])[0])
    rows = (await session.execute(stmt.order_by(Household.id).limit(limit + 1))).scalars().all()
    items, nxt = page_of(rows, limit, lambda h: [h.id])
    certs = await _current_certs(session, [h.id for h in items])
    return [HouseholdPublic(**_household_fields(h, certs.get(h.id))) for h in items], nxt


async def _household_for(session: AsyncSession, p: Principal, household_id: uuid.UUID, lock: bool = False) -> Household:
    stmt = select(Household).where(Household.id == household_id)
    if lock:
        stmt = stmt.with_for_update()
    h = await session.scalar(stmt)
    if h is None or not _in_scope(p, h.village_code):
        raise NotFound()
    return h


async def get_household(session: AsyncSession, p: Principal, household_id: uuid.UUID) -> HouseholdDetail:
    h = await _household_for(session, p, household_id)
    certs = await _current_certs(session, [h.id])
    history = (
        (
            await session.execute(
                select(RatingChange)
                .where(RatingChange.household_id == h.id)
                .order_by(col(RatingChange.created_at).desc())
                .limit(50)
            )
        )
        .scalars()
        .all()
    )
    ledger = (
        (
            await session.execute(
                select(CertificateLedgerEntry)
                .where(CertificateLedgerEntry.household_id == h.id)
                .order_by(col(CertificateLedgerEntry.created_at).desc())
                .limit(50)
            )
        )
        .scalars()
        .all()
    )
    return HouseholdDetail(
        **_household_fields(h, certs.get(h.id)),
        history=[RatingChangePublic.model_validate(r, from_attributes=True) for r in history],
        ledger=[LedgerEntryPublic.model_validate(e, from_attributes=True) for e in ledger],
    )


async def update_rating(
    session: AsyncSession, p: Principal, household_id: uuid.UUID, body: RatingUpdate
) -> HouseholdDetail:
    h = await _household_for(session, p, household_id, lock=True)
    catalogue = await factor_catalogue(session)
    errs = (
        check_codes(catalogue, "positive", body.positives, "positives")
        + check_codes(catalogue, "negative", body.negatives, "negatives")
        + check_codes(catalogue, "veto", body.vetoes, "vetoes")
    )
    if errs:
        raise ValidationFailed(errors=errs)
    await rate_household(
        session,
        h,
        provincial=body.provincial_score.quantize(rating_engine.TWO_DECIMALS),
        village=body.village_score.quantize(rating_engine.TWO_DECIMALS),
        positives=list(dict.fromkeys(body.positives)),
        negatives=list(dict.fromkeys(body.negatives)),
        vetoes=list(dict.fromkeys(body.vetoes)),
        is_registered_poor=h.is_registered_poor if body.is_registered_poor is None else body.is_registered_poor,
        actor=p.actor(),
        source="admin",
    )
    return await get_household(session, p, household_id)


async def unlink(session: AsyncSession, household_id: uuid.UUID) -> HouseholdDetail:
    h = await session.scalar(select(Household).where(Household.id == household_id).with_for_update())
    if h is None:
        raise NotFound()
    if h.user_id is None:
        raise InvalidState(("该农户未绑定账号", "The household is not linked to an account"))
    old = h.user_id
    h.user_id, h.updated_at = None, utcnow()
    await session.flush()
    await hooks.publish("credit.households_changed", session, deltas={h.village_code: (0, -1)})  # supervision
    await audit.record(
        session,
        action="household.unlink",
        object_type="household",
        object_id=h.id,
        before={"user_id": str(old)},
        after={"user_id": None},
    )
    await notifications.notify(
        session,
        kind="household.unlinked",
        user_id=old,
        title="账号已与农户信息解除绑定",
        body="您的账号已由平台管理员与农户信息解除绑定。如有疑问请联系所在村服务站。",
    )
    return await get_household(session, _admin_view(), h.id)


def _admin_view() -> Principal:
    return Principal(kind="user", id=uuid.UUID(int=0), role=Role.admin, jti="internal")


# ---- certificates: freeze / unfreeze (regulator, admin, or the lead bank's admin) -----------------------


async def _certificate_for(session: AsyncSession, p: Principal, certificate_id: uuid.UUID) -> Certificate:
    cert = await session.scalar(select(Certificate).where(Certificate.id == certificate_id).with_for_update())
    if cert is None:
        raise NotFound()
    if p.role == Role.bank_admin:
        if cert.lead_bank_id is None or cert.lead_bank_id != p.bank_id:
            raise NotFound()
    else:
        village = await session.scalar(select(Household.village_code).where(Household.id == cert.household_id))
        if not _in_scope(p, village):
            raise NotFound()
    return cert


async def set_frozen(
    session: AsyncSession, p: Principal, certificate_id: uuid.UUID, frozen: bool, reason: str
) -> CertificateAdminPublic:
    cert = await _certificate_for(session, p, certificate_id)
    status = effective_status(cert)
    old_status = cert.status
    if frozen:
        if status not in ("issued", "active"):
            raise InvalidState(("只能冻结有效的授信证", "Only a valid certificate can be frozen"))
        cert.status, kind = "frozen", "frozen"
    else:
        if status != "frozen":
            raise InvalidState(("该授信证未被冻结", "The certificate is not frozen"))
        cert.status, kind = status_after_unfreeze(cert), "unfrozen"
    cert.status_reason, cert.updated_at = reason, utcnow()
    session.add(
        CertificateLedgerEntry(
            certificate_id=cert.id,
            household_id=cert.household_id,
            kind=kind,
            old_limit_fen=cert.limit_fen,
            new_limit_fen=cert.limit_fen,
            old_status=old_status,
            new_status=cert.status,
            reason=reason,
            actor_type=p.kind,
            actor_id=str(p.id),
        )
    )
    await session.flush()
    await audit.record(
        session,
        action=f"certificate.{'freeze' if frozen else 'unfreeze'}",
        object_type="certificate",
        object_id=cert.id,
        before={"status": old_status},
        after={"status": cert.status},
        reason=reason,
    )
    await _tell(session, cert, [kind], reason)
    return _admin_public(cert)


def _admin_public(cert: Certificate) -> CertificateAdminPublic:
    base = _summary(cert)
    assert base is not None
    return CertificateAdminPublic(**base.model_dump(), household_id=cert.household_id, status_reason=cert.status_reason)


async def _tell(session: AsyncSession, cert: Certificate, kinds: list[str], reason: str) -> None:
    if cert.lead_bank_id is not None:
        await events.emit(
            session,
            type="certificate.changed",
            bank_id=cert.lead_bank_id,
            data={
                "certificate_id": str(cert.id),
                "household_id": str(cert.household_id),
                "number": cert.number,
                "status": cert.status,
                "limit_fen": cert.limit_fen,
                "changes": kinds,
                "reason": reason,
            },
        )
    user_id = await session.scalar(select(Household.user_id).where(Household.id == cert.household_id))
    if user_id is not None:
        texts = {
            "frozen": f"您的授信证（{cert.number}）已被冻结，原因：{reason}。",
            "unfrozen": f"您的授信证（{cert.number}）已解除冻结。",
            "activated": f"您的授信证（{cert.number}）已启用（启信）。",
        }
        await notifications.notify(
            session,
            kind="certificate.changed",
            user_id=user_id,
            title="您的授信证有变化",
            body=texts.get(kinds[0], f"您的授信证（{cert.number}）状态已更新。"),
            data={"certificate_id": str(cert.id), "changes": kinds},
        )


# ---- objections (admin side) ----------------------------------------------------------------------------


def objection_public(o: Objection) -> ObjectionPublic:
    return ObjectionPublic.model_validate(o, from_attributes=True)


async def list_objections(
    session: AsyncSession, p: Principal, status: str | None, limit: int, cursor: str | None
) -> tuple[list[ObjectionPublic], str | None]:
    cols = [(Objection.created_at, True), (Objection.id, True)]
    stmt = select(Objection)
    if status:
        stmt = stmt.where(Objection.status == status)
    scope = region_scope(p)
    if scope:
        stmt = stmt.where(col(Objection.village_code).startswith(scope))
    if cursor:
        stmt = stmt.where(after(cols, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    items, nxt = page_of(rows, limit, lambda o: [o.created_at, o.id])
    return [objection_public(o) for o in items], nxt


async def resolve_objection(
    session: AsyncSession, p: Principal, objection_id: uuid.UUID, body: ObjectionResolve
) -> ObjectionPublic:
    o = await session.scalar(select(Objection).where(Objection.id == objection_id).with_for_update())
    if o is None or not _in_scope(p, o.village_code):
        raise NotFound()
    if o.status != "open":
        raise InvalidState(("该异议已处理", "This objection is already resolved"))
    o.status, o.outcome, o.resolution = "resolved", body.outcome, body.resolution
    o.resolved_by, o.resolved_at = p.id, utcnow()
    await session.flush()
    await audit.record(
        session,
        action="objection.resolve",
        object_type="objection",
        object_id=o.id,
        before={"status": "open"},
        after={"status": "resolved", "outcome": body.outcome},
    )
    await notifications.notify(
        session,
        kind="objection.resolved",
        user_id=o.user_id,
        title="您的信用评级异议已处理",
        body=f"处理结果：{'异议成立' if body.outcome == 'upheld' else '维持原评级'}。{body.resolution}",
        data={"objection_id": str(o.id), "outcome": body.outcome},
    )
    return objection_public(o)
