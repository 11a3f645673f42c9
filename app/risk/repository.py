"""The only place that builds SQL for risk control's tables, plus the named read models it needs of other
domains' rows (a draw-down to claim on, its outstanding principal when it was written off)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.audit import AuditEntry
from app.core.db import utcnow
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.drawdowns.models import Drawdown
from app.risk.models import (
    BridgeLoan,
    BridgeStatus,
    CompensationClaim,
    FundEntry,
    RiskFund,
    RiskPolicy,
    SharingScheme,
)

MAX_BALANCE_FEN = 10**17


async def policy(session: AsyncSession) -> RiskPolicy:
    memo: RiskPolicy | None = session.info.get("risk_policy")
    if memo is not None:
        return memo
    row = await session.get(RiskPolicy, 1)
    out = row if row is not None else RiskPolicy()
    session.info["risk_policy"] = out
    return out


def _page(stmt: Any, keys: list[tuple[Any, bool]], cursor: str | None, limit: int) -> Any:
    if cursor:
        stmt = stmt.where(after(keys, decode_cursor(cursor, [parse_dt, parse_uuid])))
    return stmt.order_by(*order_by(keys)).limit(limit + 1)


async def _paged(
    session: AsyncSession, stmt: Any, keys: list[tuple[Any, bool]], cursor: str | None, limit: int
) -> tuple[list[Any], str | None]:
    rows = (await session.execute(_page(stmt, keys, cursor, limit))).scalars().all()
    return page_of(rows, limit, lambda r: (r.created_at, r.id))


def _in_scope(column: Any, scope: str | None) -> Any:
    return col(column).startswith(scope) if scope else None


def _owned(stmt: Any, model: Any, bank_id: uuid.UUID | None, scope: str | None) -> Any:
    """Only the bank's own rows (`bank_id`), or a regulator's counties (`scope`, a region code prefix)."""
    if bank_id is not None:
        stmt = stmt.where(model.bank_id == bank_id)
    if scope:
        stmt = stmt.where(_in_scope(model.county_code, scope))
    return stmt


async def _one(
    session: AsyncSession, model: Any, row_id: uuid.UUID, bank_id: uuid.UUID | None, scope: str | None, lock: bool
) -> Any:
    stmt = _owned(select(model).where(model.id == row_id), model, bank_id, scope)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


# ---- funds -------------------------------------------------------------------------------------------------


async def fund(session: AsyncSession, fund_id: uuid.UUID, scope: str | None = None) -> RiskFund | None:
    stmt = select(RiskFund).where(RiskFund.id == fund_id).execution_options(populate_existing=True)
    if scope:
        stmt = stmt.where(_in_scope(RiskFund.county_code, scope))
    return (await session.execute(stmt)).scalar_one_or_none()


async def fund_of(session: AsyncSession, county_code: str, kind: str) -> RiskFund | None:
    return (
        await session.execute(
            select(RiskFund)
            .where(RiskFund.county_code == county_code, RiskFund.kind == kind)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()


async def list_funds(
    session: AsyncSession,
    *,
    scope: str | None,
    county_code: str | None,
    kind: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[RiskFund], str | None]:
    stmt = select(RiskFund)
    if scope:
        stmt = stmt.where(_in_scope(RiskFund.county_code, scope))
    if county_code:
        stmt = stmt.where(RiskFund.county_code == county_code)
    if kind:
        stmt = stmt.where(RiskFund.kind == kind)
    keys = [(RiskFund.created_at, True), (RiskFund.id, True)]
    return await _paged(session, stmt, keys, cursor, limit)


async def funds_of_counties(session: AsyncSession, counties: Sequence[str]) -> list[RiskFund]:
    if not counties:
        return []
    return list(
        (await session.execute(select(RiskFund).where(col(RiskFund.county_code).in_(list(counties))))).scalars().all()
    )


async def move(
    session: AsyncSession, fund_id: uuid.UUID, delta: int, *, paid_out: int = 0, recovered: int = 0
) -> int | None:
    """Add `delta` (negative: take money out) to the balance in one conditional UPDATE; the new balance, or None
    when the balance is too small (or would pass MAX_BALANCE_FEN) and nothing changed. Concurrent movers queue
    on the row and each re-checks."""
    stmt = (
        update(RiskFund)
        .where(RiskFund.id == fund_id)
        .values(
            balance_fen=RiskFund.balance_fen + delta,
            paid_out_fen=RiskFund.paid_out_fen + paid_out,
            recovered_fen=RiskFund.recovered_fen + recovered,
            updated_at=utcnow(),
        )
        .returning(RiskFund.balance_fen)
        .execution_options(synchronize_session=False)
    )
    if delta < 0:
        stmt = stmt.where(RiskFund.balance_fen >= -delta)
    else:  # far below a 64-bit overflow: a deposit that would pass it is refused, not a 500
        stmt = stmt.where(RiskFund.balance_fen <= MAX_BALANCE_FEN - delta)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_entries(
    session: AsyncSession, fund_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[FundEntry], str | None]:
    keys = [(FundEntry.created_at, True), (FundEntry.id, True)]
    return await _paged(session, select(FundEntry).where(FundEntry.fund_id == fund_id), keys, cursor, limit)


# ---- sharing -----------------------------------------------------------------------------------------------


async def current_schemes(session: AsyncSession, fund_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SharingScheme]:
    """The scheme in force (the latest) of each fund; a fund without one is absent."""
    if not fund_ids:
        return {}
    rows = (
        await session.execute(
            select(SharingScheme)
            .where(col(SharingScheme.fund_id).in_(list(fund_ids)))
            .order_by(col(SharingScheme.created_at).desc(), col(SharingScheme.id).desc())
        )
    ).scalars()
    out: dict[uuid.UUID, SharingScheme] = {}
    for s in rows:
        out.setdefault(s.fund_id, s)
    return out


async def list_schemes(
    session: AsyncSession, fund_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[SharingScheme], str | None]:
    keys = [(SharingScheme.created_at, True), (SharingScheme.id, True)]
    return await _paged(session, select(SharingScheme).where(SharingScheme.fund_id == fund_id), keys, cursor, limit)


# ---- claims ------------------------------------------------------------------------------------------------


async def claim(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    bank_id: uuid.UUID | None = None,
    scope: str | None = None,
    lock: bool = False,
) -> CompensationClaim | None:
    found: CompensationClaim | None = await _one(session, CompensationClaim, claim_id, bank_id, scope, lock)
    return found


async def claim_of_drawdown(session: AsyncSession, drawdown_id: uuid.UUID, *, lock: bool) -> CompensationClaim | None:
    stmt = select(CompensationClaim).where(CompensationClaim.drawdown_id == drawdown_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one_or_none()


async def list_claims(
    session: AsyncSession,
    *,
    bank_id: uuid.UUID | None = None,
    scope: str | None = None,
    status: str | None = None,
    county_code: str | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[CompensationClaim], str | None]:
    stmt = _owned(select(CompensationClaim), CompensationClaim, bank_id, scope)
    if status:
        stmt = stmt.where(CompensationClaim.status == status)
    if county_code:
        stmt = stmt.where(CompensationClaim.county_code == county_code)
    keys = [(CompensationClaim.created_at, True), (CompensationClaim.id, True)]
    return await _paged(session, stmt, keys, cursor, limit)


# ---- bridge loans ------------------------------------------------------------------------------------------


async def bridge(
    session: AsyncSession,
    bridge_id: uuid.UUID,
    *,
    bank_id: uuid.UUID | None = None,
    scope: str | None = None,
    lock: bool = False,
) -> BridgeLoan | None:
    found: BridgeLoan | None = await _one(session, BridgeLoan, bridge_id, bank_id, scope, lock)
    return found


def bridge_status_filter(status: str, today: date) -> Any:
    """SQL for "effective status is `status`": a lent bridge past due_on is overdue whether or not the sweep has
    recorded it."""
    past_due = and_(BridgeLoan.status == BridgeStatus.lent, col(BridgeLoan.due_on) < today)
    if status == BridgeStatus.overdue:
        return or_(BridgeLoan.status == BridgeStatus.overdue, past_due)
    if status == BridgeStatus.lent:
        return and_(BridgeLoan.status == BridgeStatus.lent, col(BridgeLoan.due_on) >= today)
    return BridgeLoan.status == status


async def list_bridges(
    session: AsyncSession,
    *,
    today: date,
    bank_id: uuid.UUID | None = None,
    scope: str | None = None,
    status: str | None = None,
    county_code: str | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[BridgeLoan], str | None]:
    stmt = _owned(select(BridgeLoan), BridgeLoan, bank_id, scope)
    if status:
        stmt = stmt.where(bridge_status_filter(status, today))
    if county_code:
        stmt = stmt.where(BridgeLoan.county_code == county_code)
    keys = [(BridgeLoan.created_at, True), (BridgeLoan.id, True)]
    return await _paged(session, stmt, keys, cursor, limit)


async def bridges_past_due(session: AsyncSession, today: date, batch: int) -> list[BridgeLoan]:
    return list(
        (
            await session.execute(
                select(BridgeLoan)
                .where(BridgeLoan.status == BridgeStatus.lent, col(BridgeLoan.due_on) < today)
                .order_by(BridgeLoan.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )


# ---- read models of the draw-down domain's rows -------------------------------------------------------------


@dataclass(frozen=True)
class LoanForClaim:
    """Read model: what a claim needs of a draw-down."""

    id: uuid.UUID
    bank_id: uuid.UUID
    county_code: str
    status: str
    outstanding_fen: int
    # The principal outstanding when it was written off: the write-off's audit entry records it (the draw-down
    # row keeps only today's figure, which repayments since the write-off have lowered).
    written_off_fen: int | None


async def loan_for_claim(session: AsyncSession, drawdown_id: uuid.UUID, bank_id: uuid.UUID) -> LoanForClaim | None:
    row = (
        await session.execute(
            select(
                Drawdown.id, Drawdown.bank_id, Drawdown.county_code, Drawdown.status, Drawdown.outstanding_fen
            ).where(Drawdown.id == drawdown_id, Drawdown.bank_id == bank_id)
        )
    ).one_or_none()
    if row is None:
        return None
    summary = (
        await session.execute(
            select(AuditEntry.summary)
            .where(AuditEntry.object_id == str(drawdown_id), AuditEntry.action == "drawdown.write_off")
            .order_by(col(AuditEntry.created_at).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    written_off: int | None = None
    if isinstance(summary, dict):
        value = (summary.get("after") or {}).get("outstanding_fen")
        written_off = int(value) if isinstance(value, int) else None
    return LoanForClaim(row.id, row.bank_id, row.county_code, row.status, row.outstanding_fen, written_off)


async def loan_outstanding(session: AsyncSession, drawdown_id: uuid.UUID) -> int:
    """Read model: a draw-down's principal outstanding now."""
    return int((await session.execute(select(Drawdown.outstanding_fen).where(Drawdown.id == drawdown_id))).scalar_one())


async def first_bank_serving(session: AsyncSession, county_code: str) -> uuid.UUID | None:
    """Read model (demo seed): an active bank serving the county, a county's own bank first."""
    from app.banks.models import Bank, BankCounty

    row = (
        await session.execute(
            select(Bank.id, Bank.region_code)
            .join(BankCounty, BankCounty.bank_id == Bank.id)
            .where(BankCounty.county_code == county_code, col(Bank.is_active).is_(True))
            .order_by(Bank.region_code != county_code, Bank.name)
            .limit(1)
        )
    ).first()
    return row[0] if row else None


async def written_off_loan(
    session: AsyncSession, county_code: str, villages: Sequence[str]
) -> tuple[uuid.UUID, uuid.UUID, str, bool] | None:
    """Read model (demo seed): the first written-off draw-down in these villages (the county's first), its
    lender, county, and whether a claim was filed on it."""
    row = (
        await session.execute(
            select(Drawdown.id, Drawdown.bank_id, Drawdown.county_code, CompensationClaim.id)
            .outerjoin(CompensationClaim, CompensationClaim.drawdown_id == Drawdown.id)
            .where(Drawdown.status == "written_off", col(Drawdown.village_code).in_(villages))
            .order_by(Drawdown.county_code != county_code, Drawdown.created_at)
            .limit(1)
        )
    ).first()
    return (row[0], row[1], row[2], row[3] is not None) if row else None


async def any_bridge(session: AsyncSession, county_code: str) -> bool:
    q = select(BridgeLoan.id).where(BridgeLoan.county_code == county_code).limit(1)
    return (await session.execute(q)).first() is not None
