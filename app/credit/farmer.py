"""The farmer's side of credit: `/me/credit`, activation (启信) and objections."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import rights
from app.auth.models import User
from app.banks.models import Bank, BankCounty
from app.consents import service as consents
from app.core import audit, hooks
from app.core.db import utcnow
from app.core.errors import BankNotServingCounty, CertificateInactive, InvalidState, NotFound
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.core.principal import Principal
from app.credit import areas, rates, rating_engine, repository
from app.credit.certificates import effective_status
from app.credit.models import Certificate, CertificateLedgerEntry, Household, Objection, RatingChange
from app.credit.rating_updates import factor_catalogue
from app.credit.schemas import (
    BlockedReason,
    CertificatePublic,
    FactorExplained,
    LeadBank,
    LedgerEntryPublic,
    MyCredit,
    ObjectionCreate,
    ObjectionPublic,
    RatingComponents,
    RatingFactors,
    RatingPublic,
    TownshipPublic,
    VillagePublic,
)
from app.credit.service import _tell, objection_public
from app.notifications import service as notifications
from app.regions.service import display_name


async def household_of(session: AsyncSession, user_id: uuid.UUID, lock: bool = False) -> Household | None:
    stmt = select(Household).where(Household.user_id == user_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def _current(session: AsyncSession, household_id: uuid.UUID, lock: bool = False) -> Certificate | None:
    stmt = select(Certificate).where(Certificate.household_id == household_id, col(Certificate.is_current).is_(True))
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def certificate_public(
    session: AsyncSession, cert: Certificate, *, lead_bank_name: str | None = None
) -> CertificatePublic:
    lead = None
    if cert.lead_bank_id is not None:
        name = lead_bank_name
        if name is None:
            name = await session.scalar(select(Bank.name).where(Bank.id == cert.lead_bank_id))
        lead = LeadBank(id=cert.lead_bank_id, name=name or "")
    return CertificatePublic(
        id=cert.id,
        number=cert.number,
        color=cert.color,
        stars=cert.stars,
        limit_fen=cert.limit_fen,
        outstanding_fen=cert.outstanding_fen,
        pending_fen=cert.pending_fen,
        available_fen=max(0, cert.limit_fen - cert.outstanding_fen - cert.pending_fen),
        status=effective_status(cert),
        lead_bank=lead,
        max_annual_rate_bp=cert.max_annual_rate_bp,
        issued_on=cert.issued_on,
        expires_on=cert.expires_on,
    )


def _explain(h: Household) -> str:
    if h.composite_score is None:
        return "尚未完成信用评定。"
    base = (
        f"综合得分 {h.composite_score} = 省农户信用信息系统评分 {h.provincial_score} × 70% + "
        f"村评定小组评分 {h.village_score} × 30%（四舍五入保留一位小数）。"
    )
    if h.vetoed:
        return base + "因存在一票否决项，暂不能评为信用户。"
    if h.stars == 0:
        return base + "综合得分低于 76 分，暂不能评为信用户。"
    return base + f"评定为 {h.stars} 星信用户。加分项和减分项由村评定小组在村级评分中综合考虑。"


# `/me/credit` asks the draw-down domain, which keeps the loans and the isolation figures and sits above credit,
# whether the household may draw: the signal `credit.drawing_state` (answered by `app.drawdowns.admission`).
DRAWING_STATE = "credit.drawing_state"


@dataclass(frozen=True)
class DrawingState:
    """The answer to `credit.drawing_state`: the area's isolation (None outside a village) and every reason the
    household cannot draw the smallest amount, as (code, message) — the rules of `POST /me/drawdowns`."""

    village_isolated: bool | None
    township_isolated: bool | None
    blocked: list[tuple[str, str]] = field(default_factory=list)


async def drawing_state(
    session: AsyncSession, h: Household | None, cert: Certificate | None, village_code: str | None, english: bool
) -> DrawingState:
    answers = await hooks.publish(
        DRAWING_STATE, session, household=h, certificate=cert, village_code=village_code, english=english
    )
    if len(answers) != 1:
        raise RuntimeError(f"{DRAWING_STATE} needs exactly one handler (app.wiring), has {len(answers)}")
    state: DrawingState = answers[0]
    return state


async def my_credit(session: AsyncSession, p: Principal, *, english: bool = False) -> MyCredit:
    h, cert, bank_name = await repository.mine(session, p.id)
    account = (await session.execute(select(User.village_code, User.household_type).where(User.id == p.id))).first()
    user_village, household_type = (account[0], account[1]) if account is not None else (None, None)
    village_code: str | None = h.village_code if h else user_village
    rating_out = cert_out = None
    if h is not None:
        catalogue = await factor_catalogue(session)

        def explained(codes: list[str]) -> list[FactorExplained]:
            return [FactorExplained(code=c, label=catalogue.get(c, ("", c))[1]) for c in codes]

        rating_out = RatingPublic(
            stars=h.stars if h.is_credit_household else 0,
            composite_score=h.composite_score,
            provincial_score=h.provincial_score,
            village_score=h.village_score,
            is_credit_household=h.is_credit_household,
            vetoed=h.vetoed,
            factors=RatingFactors(
                components=RatingComponents(
                    provincial_score=h.provincial_score,
                    provincial_weight=rating_engine.PROVINCIAL_WEIGHT,
                    village_score=h.village_score,
                    village_weight=rating_engine.VILLAGE_WEIGHT,
                    composite_score=h.composite_score,
                ),
                positives=explained(list(h.positives or [])),
                negatives=explained(list(h.negatives or [])),
                vetoes=explained(list(h.vetoes or [])),
                explanation=_explain(h),
            ),
            rated_at=h.rated_at,
        )
        if cert is not None:
            cert_out = await certificate_public(session, cert, lead_bank_name=bank_name or "")
    state = await drawing_state(session, h, cert, village_code, english)
    village = township = None
    if village_code and len(village_code) == 12:
        vs, ts = await areas.village_and_township_status(session, village_code)
        village = VillagePublic(
            code=vs.code,
            name=display_name(vs.name),
            is_credit_village=vs.is_credit,
            isolated=bool(state.village_isolated),
        )
        township = TownshipPublic(
            code=ts.code, name=ts.name, is_credit_township=ts.is_credit, isolated=bool(state.township_isolated)
        )
    drawdown_rate, products = (
        (await rates.of_household(session, h, cert, rates.terms_of(h, cert, household_type))) if h else (None, [])
    )
    return MyCredit(
        rating=rating_out,
        certificate=cert_out,
        village=village,
        township=township,
        can_draw=not state.blocked,
        blocked_reasons=[BlockedReason(code=code, message=message) for code, message in state.blocked],
        drawdown_rate=drawdown_rate,
        matching_products=products,
    )


async def activate(session: AsyncSession, p: Principal, lead_bank_id: uuid.UUID) -> CertificatePublic:
    """启信: the household picks a lead bank serving its county; that choice is its consent to that bank."""
    h = await household_of(session, p.id)
    cert = await _current(session, h.id, lock=True) if h else None
    bank = await session.get(Bank, lead_bank_id)
    if bank is None or not bank.is_active:
        raise NotFound(("银行不存在", "No such bank"))
    if h is None or cert is None or effective_status(cert) not in ("issued", "active"):
        raise CertificateInactive()
    serves = await session.scalar(
        select(BankCounty.bank_id).where(BankCounty.bank_id == bank.id, BankCounty.county_code == h.county_code)
    )
    if serves is None:
        raise BankNotServingCounty()
    previous = cert.lead_bank_id
    if previous == bank.id and cert.status == "active":
        return await certificate_public(session, cert)
    if previous is not None and previous != bank.id:
        if cert.pending_fen != 0 or cert.outstanding_fen != 0:
            raise InvalidState(
                ("当前主办银行尚有在途或未还贷款，暂不能更换", "Loans are pending or outstanding with the lead bank")
            )
        await consents.withdraw_for_bank(
            session, household_id=h.id, bank_id=previous, source="activation", reason="lead_bank_changed"
        )
    old_status = cert.status
    cert.lead_bank_id, cert.status, cert.activated_at, cert.updated_at = bank.id, "active", utcnow(), utcnow()
    await session.flush()
    await consents.grant(session, user_id=p.id, household_id=h.id, bank_id=bank.id, source="activation")
    await audit.record(
        session,
        action="certificate.activate",
        object_type="certificate",
        object_id=cert.id,
        before={"status": old_status, "lead_bank_id": str(previous) if previous else None},
        after={"status": "active", "lead_bank_id": str(bank.id)},
    )
    await _tell(session, cert, ["activated"], "activation")
    return await certificate_public(session, cert)


async def object_to_rating(session: AsyncSession, p: Principal, body: ObjectionCreate) -> ObjectionPublic:
    h = await household_of(session, p.id)
    o = Objection(
        user_id=p.id,
        household_id=h.id if h else None,
        village_code=h.village_code if h else None,
        reason=body.reason,
    )
    session.add(o)
    await session.flush()
    await audit.record(session, action="objection.create", object_type="objection", object_id=o.id)
    await notifications.notify(
        session,
        kind="objection.received",
        user_id=p.id,
        title="已收到您的信用评级异议",
        body="我们已收到您对信用评级的异议，监管部门将尽快核实处理并通知您结果。",
        data={"objection_id": str(o.id)},
    )
    return objection_public(o)


async def my_objections(
    session: AsyncSession, p: Principal, limit: int, cursor: str | None
) -> tuple[list[ObjectionPublic], str | None]:
    cols = [(Objection.created_at, True), (Objection.id, True)]
    stmt = select(Objection).where(Objection.user_id == p.id)
    if cursor:
        stmt = stmt.where(after(cols, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    items, nxt = page_of(rows, limit, lambda o: [o.created_at, o.id])
    return [objection_public(o) for o in items], nxt


async def my_objection(session: AsyncSession, p: Principal, objection_id: uuid.UUID) -> ObjectionPublic:
    o = await session.scalar(select(Objection).where(Objection.id == objection_id, Objection.user_id == p.id))
    if o is None:
        raise NotFound()
    return objection_public(o)


# ---- the farmer's rights -----------------------------------------------------------------------------------


async def export_credit(session: AsyncSession, user: User) -> dict[str, Any]:
    """`GET /me/export` section: the rating with its factors and explanation, the certificates (current and
    past), the limit ledger, the rating history and the objections."""
    me = Principal(kind="user", id=user.id, role=user.role, jti="export")
    out: dict[str, Any] = (await my_credit(session, me)).model_dump(mode="json")
    h = await household_of(session, user.id)
    certs: list[Certificate] = []
    ledger: list[CertificateLedgerEntry] = []
    history: list[RatingChange] = []
    if h is not None:
        certs = list(
            (
                await session.execute(
                    select(Certificate).where(Certificate.household_id == h.id).order_by(Certificate.issued_on)
                )
            )
            .scalars()
            .all()
        )
        ledger = list(
            (
                await session.execute(
                    select(CertificateLedgerEntry)
                    .where(CertificateLedgerEntry.household_id == h.id)
                    .order_by(CertificateLedgerEntry.created_at)
                    .limit(5000)
                )
            )
            .scalars()
            .all()
        )
        history = list(
            (
                await session.execute(
                    select(RatingChange)
                    .where(RatingChange.household_id == h.id)
                    .order_by(RatingChange.created_at)
                    .limit(5000)
                )
            )
            .scalars()
            .all()
        )
    objections = (
        (await session.execute(select(Objection).where(Objection.user_id == user.id).order_by(Objection.created_at)))
        .scalars()
        .all()
    )
    out["certificates"] = [(await certificate_public(session, c)).model_dump(mode="json") for c in certs]
    out["ledger"] = [LedgerEntryPublic.model_validate(e, from_attributes=True).model_dump(mode="json") for e in ledger]
    # Who changed the rating is named by role and source only: staff identities are not the farmer's data.
    out["rating_history"] = [
        {
            "source": r.source,
            "actor_role": r.actor_role,
            "before": r.before,
            "after": r.after,
            "created_at": r.created_at.isoformat(),
        }
        for r in history
    ]
    out["objections"] = [objection_public(o).model_dump(mode="json") for o in objections]
    return out


async def keep_credit(session: AsyncSession, user: User) -> tuple[list[str], list[dict[str, str]]]:
    kept: list[dict[str, str]] = []
    if await household_of(session, user.id) is not None:
        kept.append(
            {
                "what": "credit_rating_and_certificates",
                "why": "信用评定结果、授信证及额度变动台账是农户信用信息，依《征信业管理条例》第十六条须保存 5 年，"
                "且由村评定小组和监管部门管理，不随个人账号删除",
            }
        )
    if await session.scalar(select(Objection.id).where(Objection.user_id == user.id).limit(1)) is not None:
        kept.append(
            {
                "what": "rating_objections",
                "why": "信用评级异议及其处理结果是监管处理记录（《个人信息保护法》第二十四条、《征信业管理条例》"
                "第二十五条），须留存备查",
            }
        )
    return [], kept


rights.register_exporter("credit", export_credit)
rights.register_eraser(keep_credit)
