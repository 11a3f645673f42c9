"""County funds, their ledger and the loss-sharing schemes (private to the package; `service` is its front)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.errors import Conflict, InsufficientFunds, InvalidState, NotFound, ValidationFailed, field_error
from app.core.money import yuan_text
from app.core.principal import Principal, Role
from app.regions.models import Level
from app.regions.service import find as find_region
from app.risk import repository as repo
from app.risk.models import OUTFLOWS, EntryKind, FundEntry, FundKind, RiskFund, SharingScheme
from app.risk.schemas import EntryCreate, EntryPublic, FundCreate, FundPublic, SharingIn, SharingPublic

KIND_ZH = {FundKind.compensation: "风险补偿金", FundKind.bridge: "还贷应急周转金"}
BP_FIELDS = ("government_bp", "bank_bp", "insurer_bp", "guarantor_bp")


def region_scope(p: Principal) -> str | None:
    """A regulator reaches the funds of its region (none set, or the city: all of them); an admin all of them."""
    if p.role != Role.regulator or p.region_code in (None, "", "4117", "41"):
        return None
    return p.region_code


def fund_not_found() -> NotFound:
    return NotFound(("资金池不存在", "No such fund"))


def sharing_public(s: SharingScheme) -> SharingPublic:
    return SharingPublic(
        id=s.id,
        government_bp=s.government_bp,
        bank_bp=s.bank_bp,
        insurer_bp=s.insurer_bp,
        guarantor_bp=s.guarantor_bp,
        scheme="四位一体" if s.guarantor_bp else "三位一体",
        effective_from=s.created_at,
    )


def fund_public(f: RiskFund, scheme: SharingScheme | None) -> FundPublic:
    return FundPublic(
        id=f.id,
        county_code=f.county_code,
        kind=FundKind(f.kind),
        balance_fen=f.balance_fen,
        minimum_fen=f.minimum_fen,
        below_minimum=f.balance_fen < f.minimum_fen,
        paid_out_fen=f.paid_out_fen,
        recovered_fen=f.recovered_fen,
        sharing=sharing_public(scheme) if scheme is not None else None,
        created_at=f.created_at,
    )


def entry_public(e: FundEntry) -> EntryPublic:
    return EntryPublic(
        id=e.id,
        kind=EntryKind(e.kind),
        amount_fen=e.amount_fen,
        balance_after_fen=e.balance_after_fen,
        created_at=e.created_at,
        note=e.note,
        claim_id=e.claim_id,
        repayment_id=e.repayment_id,
        bridge_loan_id=e.bridge_loan_id,
    )


async def present(session: AsyncSession, f: RiskFund) -> FundPublic:
    schemes = await repo.current_schemes(session, [f.id])
    return fund_public(f, schemes.get(f.id))


async def create(session: AsyncSession, body: FundCreate) -> FundPublic:
    region = await find_region(session, body.county_code)
    if region is None or region.level != Level.county:
        raise ValidationFailed(errors=[field_error("county_code", "county_unknown", "县区代码不存在")])
    if await repo.fund_of(session, body.county_code, body.kind) is not None:
        raise Conflict((f"该县区已有{KIND_ZH[body.kind]}", "This county already has a fund of this kind"))
    policy = await repo.policy(session)
    minimum = body.minimum_fen
    if minimum is None:
        minimum = policy.compensation_minimum_fen if body.kind == FundKind.compensation else policy.bridge_minimum_fen
    f = RiskFund(county_code=body.county_code, kind=body.kind, minimum_fen=minimum)
    try:
        async with session.begin_nested():
            session.add(f)
            await session.flush()
    except IntegrityError as exc:  # another request created it first
        raise Conflict((f"该县区已有{KIND_ZH[body.kind]}", "This county already has a fund of this kind")) from exc
    await audit.record(
        session,
        action="risk_fund.create",
        object_type="risk_fund",
        object_id=f.id,
        after={"county_code": f.county_code, "kind": f.kind, "minimum_fen": f.minimum_fen},
    )
    return fund_public(f, None)


async def get(session: AsyncSession, p: Principal, fund_id: uuid.UUID) -> FundPublic:
    f = await repo.fund(session, fund_id, region_scope(p))
    if f is None:
        raise fund_not_found()
    return await present(session, f)


async def list_funds(
    session: AsyncSession, p: Principal, county_code: str | None, kind: str | None, limit: int, cursor: str | None
) -> tuple[list[FundPublic], str | None]:
    rows, nxt = await repo.list_funds(
        session, scope=region_scope(p), county_code=county_code, kind=kind, limit=limit, cursor=cursor
    )
    schemes = await repo.current_schemes(session, [f.id for f in rows])
    return [fund_public(f, schemes.get(f.id)) for f in rows], nxt


def insufficient(f: RiskFund, amount: int, balance: int) -> InsufficientFunds:
    return InsufficientFunds(
        (
            f"{KIND_ZH.get(FundKind(f.kind), '资金池')}余额 {yuan_text(balance, always_cents=True)} 元，"
            f"不足以支付 {yuan_text(amount, always_cents=True)} 元",
            "The fund's balance is too small for this payment",
        ),
        extra={"balance_fen": balance, "amount_fen": amount},
    )


async def book(
    session: AsyncSession,
    f: RiskFund,
    kind: EntryKind,
    amount: int,
    *,
    note: str | None = None,
    claim_id: uuid.UUID | None = None,
    repayment_id: uuid.UUID | None = None,
    bridge_loan_id: uuid.UUID | None = None,
    **audit_extra: Any,
) -> FundEntry:
    """Move `amount` in or out of the fund (one conditional UPDATE), write the ledger entry and its audit entry.
    Money out past the balance is 409 `insufficient_funds` and changes nothing."""
    out = kind in OUTFLOWS
    balance = await repo.move(
        session,
        f.id,
        -amount if out else amount,
        paid_out=amount if kind == EntryKind.compensation else 0,
        recovered=amount if kind == EntryKind.recovery else 0,
    )
    if balance is None:
        current = await repo.fund(session, f.id)
        if not out:
            raise ValidationFailed(
                errors=[field_error("amount_fen", "balance_too_large", "注资后余额超出系统上限，请核对金额")]
            )
        raise insufficient(f, amount, current.balance_fen if current else 0)
    entry = FundEntry(
        fund_id=f.id,
        kind=kind,
        amount_fen=amount,
        balance_after_fen=balance,
        note=note,
        claim_id=claim_id,
        repayment_id=repayment_id,
        bridge_loan_id=bridge_loan_id,
    )
    session.add(entry)
    await session.flush()
    links = {
        k: str(v)
        for k, v in (("claim_id", claim_id), ("repayment_id", repayment_id), ("bridge_loan_id", bridge_loan_id))
        if v is not None
    }
    await audit.record(
        session,
        action=f"risk_fund.{kind.value}",
        object_type="risk_fund",
        object_id=f.id,
        before={"balance_fen": balance + amount if out else balance - amount},
        after={"balance_fen": balance},
        entry_id=str(entry.id),
        amount_fen=amount,
        **links,
        **audit_extra,
    )
    return entry


async def add_entry(session: AsyncSession, fund_id: uuid.UUID, body: EntryCreate) -> EntryPublic:
    f = await repo.fund(session, fund_id)
    if f is None:
        raise fund_not_found()
    entry = await book(session, f, EntryKind(body.kind.value), body.amount_fen, note=body.note)
    return entry_public(entry)


async def entries(
    session: AsyncSession, p: Principal, fund_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[EntryPublic], str | None]:
    if await repo.fund(session, fund_id, region_scope(p)) is None:
        raise fund_not_found()
    rows, nxt = await repo.list_entries(session, fund_id, limit, cursor)
    return [entry_public(e) for e in rows], nxt


def check_sharing(body: SharingIn) -> None:
    total = sum(getattr(body, k) for k in BP_FIELDS)
    if total != 10000:
        msg = f"政府、银行、保险、担保四方分担比例合计须为 10000 基点（100%），现为 {total} 基点"
        raise ValidationFailed(errors=[field_error(k, "sharing_sum", msg) for k in BP_FIELDS])


async def set_sharing(session: AsyncSession, p: Principal, fund_id: uuid.UUID, body: SharingIn) -> FundPublic:
    check_sharing(body)
    f = await repo.fund(session, fund_id)
    if f is None:
        raise fund_not_found()
    if f.kind != FundKind.compensation:
        raise InvalidState(("风险分担比例只适用于风险补偿金", "Sharing applies to compensation funds only"))
    old = (await repo.current_schemes(session, [f.id])).get(f.id)
    scheme = SharingScheme(fund_id=f.id, created_by=str(p.id), **{k: getattr(body, k) for k in BP_FIELDS})
    session.add(scheme)
    await session.flush()
    await audit.record(
        session,
        action="risk_fund.sharing",
        object_type="risk_fund",
        object_id=f.id,
        before={k: getattr(old, k) for k in BP_FIELDS} if old else None,
        after={k: getattr(scheme, k) for k in BP_FIELDS},
        scheme_id=str(scheme.id),
    )
    return fund_public(f, scheme)


async def sharing_history(
    session: AsyncSession, p: Principal, fund_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[SharingPublic], str | None]:
    if await repo.fund(session, fund_id, region_scope(p)) is None:
        raise fund_not_found()
    rows, nxt = await repo.list_schemes(session, fund_id, limit, cursor)
    return [sharing_public(s) for s in rows], nxt


async def county_figures(session: AsyncSession, counties: list[str]) -> dict[str, dict[str, Any]]:
    """Per county: the two funds' balances and whether either is below its minimum (a missing fund has 0 and
    counts as below the policy's minimum)."""
    policy = await repo.policy(session)
    funds = {(f.county_code, f.kind): f for f in await repo.funds_of_counties(session, counties)}
    out: dict[str, dict[str, Any]] = {}
    for c in counties:
        comp, bridge = funds.get((c, FundKind.compensation)), funds.get((c, FundKind.bridge))
        comp_bal, bridge_bal = (comp.balance_fen if comp else 0), (bridge.balance_fen if bridge else 0)
        comp_min = comp.minimum_fen if comp else policy.compensation_minimum_fen
        bridge_min = bridge.minimum_fen if bridge else policy.bridge_minimum_fen
        out[c] = {
            "compensation_balance_fen": comp_bal,
            "bridge_balance_fen": bridge_bal,
            "fund_below_minimum": comp_bal < comp_min or bridge_bal < bridge_min,
        }
    return out
