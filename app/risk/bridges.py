"""Bridge loans (还贷应急周转) out of a county's bridge fund (private to the package; `service` is its front).

Lock order: the bridge loan, then the fund row.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.banks.service import bank_serves_county
from app.core import audit
from app.core.crypto import decrypt, encrypt
from app.core.dates import china_today
from app.core.db import utcnow
from app.core.errors import (
    BankNotServingCounty,
    InvalidState,
    NotFound,
    TermNotAllowed,
    ValidationFailed,
    field_error,
)
from app.core.identity import normalize_uscc
from app.core.money import yuan_text
from app.core.principal import Principal
from app.events.service import emit
from app.risk import repository as repo
from app.risk.funds import book, region_scope
from app.risk.models import BridgeLoan, BridgeStatus, EntryKind, FundKind
from app.risk.schemas import BridgeCreate, BridgePublic, BridgeRepay, ReasonIn
from app.webhooks.schemas import BridgeLoanPayload

S = BridgeStatus
USCC_CONTEXT = "bridge_loan"
STATUS_ZH = {S.requested: "待审批", S.lent: "已放款", S.overdue: "已逾期", S.repaid: "已归还", S.rejected: "已驳回"}


def effective_status(b: BridgeLoan, today: date) -> S:
    """A lent bridge not repaid after due_on is overdue, whether or not the sweep has recorded it."""
    if b.status == S.lent and b.due_on is not None and b.due_on < today:
        return S.overdue
    return S(b.status)


def days_used(lent_on: date, repaid_on: date) -> int:
    return max(1, (repaid_on - lent_on).days)


def fee(amount_fen: int, daily_fee_bp: int, days: int) -> int:
    """Principal × daily fee rate (bp per day) × days used, rounded down, in integer arithmetic."""
    return amount_fen * daily_fee_bp * days // 10000


def _uscc(b: BridgeLoan) -> str:
    with contextlib.suppress(Exception):
        return decrypt(b.uscc_enc, USCC_CONTEXT)
    return ""


def bridge_public(b: BridgeLoan, today: date | None = None) -> BridgePublic:
    return BridgePublic(
        id=b.id,
        bank_id=b.bank_id,
        county_code=b.county_code,
        unified_social_credit_code=_uscc(b),
        enterprise_name=b.enterprise_name,
        loan_reference=b.loan_reference,
        amount_fen=b.amount_fen,
        days=b.days,
        daily_fee_bp=b.daily_fee_bp,
        status=effective_status(b, today or china_today()),
        fee_fen=b.fee_fen,
        lent_on=b.lent_on,
        due_on=b.due_on,
        repaid_on=b.repaid_on,
        reason=b.reason,
        created_at=b.created_at,
    )


def bridge_not_found() -> NotFound:
    return NotFound(("周转申请不存在", "No such bridge loan"))


def _wrong_state(b: BridgeLoan, wanted: str, today: date) -> InvalidState:
    now = effective_status(b, today)
    return InvalidState((f"该周转申请{STATUS_ZH[now]}，只有{wanted}的申请可以这样操作", f"Not allowed while {now}"))


async def request(session: AsyncSession, p: Principal, body: BridgeCreate) -> BridgePublic:
    assert p.bank_id is not None
    uscc = normalize_uscc(body.unified_social_credit_code)
    if uscc is None:
        raise ValidationFailed(
            errors=[field_error("unified_social_credit_code", "uscc_invalid", "统一社会信用代码无效（校验位不符）")]
        )
    policy = await repo.policy(session)
    if body.days > policy.bridge_max_days:
        msg = f"周转天数不能超过 {policy.bridge_max_days} 天"
        raise TermNotAllowed(
            (msg, f"At most {policy.bridge_max_days} days"), errors=[field_error("days", "term_not_allowed", msg)]
        )
    if not await bank_serves_county(session, p.bank_id, body.county_code):
        raise BankNotServingCounty(
            ("本行不服务该县区，不能申请该县的周转金", "The bank does not serve this county"),
            errors=[field_error("county_code", "bank_not_serving_county", "本行不服务该县区")],
        )
    b = BridgeLoan(
        bank_id=p.bank_id,
        county_code=body.county_code,
        uscc_enc=encrypt(uscc, USCC_CONTEXT),
        enterprise_name=body.enterprise_name,
        loan_reference=body.loan_reference,
        amount_fen=body.amount_fen,
        days=body.days,
        daily_fee_bp=policy.bridge_daily_fee_bp,
        status=S.requested,
    )
    session.add(b)
    await session.flush()
    await audit.record(
        session,
        action="bridge_loan.request",
        object_type="bridge_loan",
        object_id=b.id,
        after={"status": b.status, "amount_fen": b.amount_fen, "days": b.days, "county_code": b.county_code},
    )
    return bridge_public(b)


async def get_for_bank(session: AsyncSession, p: Principal, bridge_id: uuid.UUID) -> BridgePublic:
    b = await repo.bridge(session, bridge_id, bank_id=p.bank_id)
    if b is None:
        raise bridge_not_found()
    return bridge_public(b)


async def list_for_bank(
    session: AsyncSession, p: Principal, status: str | None, limit: int, cursor: str | None
) -> tuple[list[BridgePublic], str | None]:
    assert p.bank_id is not None
    today = china_today()
    rows, nxt = await repo.list_bridges(
        session, today=today, bank_id=p.bank_id, status=status, limit=limit, cursor=cursor
    )
    return [bridge_public(b, today) for b in rows], nxt


async def list_for_admin(
    session: AsyncSession, p: Principal, status: str | None, county_code: str | None, limit: int, cursor: str | None
) -> tuple[list[BridgePublic], str | None]:
    today = china_today()
    rows, nxt = await repo.list_bridges(
        session, today=today, scope=region_scope(p), status=status, county_code=county_code, limit=limit, cursor=cursor
    )
    return [bridge_public(b, today) for b in rows], nxt


async def get_for_admin(session: AsyncSession, p: Principal, bridge_id: uuid.UUID) -> BridgePublic:
    b = await repo.bridge(session, bridge_id, scope=region_scope(p))
    if b is None:
        raise bridge_not_found()
    return bridge_public(b)


async def _requested(session: AsyncSession, p: Principal, bridge_id: uuid.UUID) -> tuple[BridgeLoan, date]:
    """The bridge loan, locked, in the caller's counties and awaiting a decision (approve and reject)."""
    b = await repo.bridge(session, bridge_id, scope=region_scope(p), lock=True)
    if b is None:
        raise bridge_not_found()
    today = china_today()
    if b.status != S.requested:
        raise _wrong_state(b, "待审批", today)
    return b, today


async def approve(session: AsyncSession, p: Principal, bridge_id: uuid.UUID) -> BridgePublic:
    """Lend out of the county's bridge fund (`bridge_out`); a fund too small (or none) changes nothing."""
    b, today = await _requested(session, p, bridge_id)
    fund = await repo.fund_of(session, b.county_code, FundKind.bridge)
    if fund is None:
        raise InvalidState(("该县区尚未设立还贷应急周转金", "The county has no bridge fund"))
    await book(session, fund, EntryKind.bridge_out, b.amount_fen, bridge_loan_id=b.id, note=f"周转：{b.loan_reference}")
    b.status = S.lent
    b.lent_on = today
    b.due_on = date.fromordinal(today.toordinal() + b.days)
    b.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="bridge_loan.approve",
        object_type="bridge_loan",
        object_id=b.id,
        before={"status": S.requested},
        after={"status": b.status, "due_on": b.due_on.isoformat()},
    )
    await emit(
        session,
        type="bridge_loan.approved",
        bank_id=b.bank_id,
        data=BridgeLoanPayload(
            bridge_loan_id=b.id,
            county_code=b.county_code,
            enterprise_name=b.enterprise_name,
            loan_reference=b.loan_reference,
            amount_fen=b.amount_fen,
            days=b.days,
            due_on=b.due_on,
            status=b.status,
        ).model_dump(mode="json"),
    )
    return bridge_public(b, today)


async def reject(session: AsyncSession, p: Principal, bridge_id: uuid.UUID, body: ReasonIn) -> BridgePublic:
    b, today = await _requested(session, p, bridge_id)
    b.status = S.rejected
    b.reason = body.reason
    b.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="bridge_loan.reject",
        object_type="bridge_loan",
        object_id=b.id,
        before={"status": S.requested},
        after={"status": b.status},
    )
    return bridge_public(b, today)


async def repay(session: AsyncSession, p: Principal, bridge_id: uuid.UUID, body: BridgeRepay) -> BridgePublic:
    """All of the principal back, with the fee for the days used: one `bridge_back` entry of both."""
    b = await repo.bridge(session, bridge_id, bank_id=p.bank_id, lock=True)
    if b is None:
        raise bridge_not_found()
    today = china_today()
    if b.status not in (S.lent, S.overdue):
        raise _wrong_state(b, "已放款或逾期", today)
    if body.amount_fen != b.amount_fen:
        msg = f"须一次归还全部周转本金 {yuan_text(b.amount_fen, always_cents=True)} 元"
        raise ValidationFailed(errors=[field_error("amount_fen", "amount_not_principal", msg)])
    assert b.lent_on is not None
    was = effective_status(b, today)
    b.fee_fen = fee(b.amount_fen, b.daily_fee_bp, days_used(b.lent_on, today))
    fund = await repo.fund_of(session, b.county_code, FundKind.bridge)
    assert fund is not None  # it lent the money
    await book(
        session,
        fund,
        EntryKind.bridge_back,
        b.amount_fen + b.fee_fen,
        bridge_loan_id=b.id,
        note=f"归还周转本金 {yuan_text(b.amount_fen, always_cents=True)} 元，"
        f"资金占用费 {yuan_text(b.fee_fen, always_cents=True)} 元",
    )
    b.status = S.repaid
    b.repaid_on = today
    b.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="bridge_loan.repay",
        object_type="bridge_loan",
        object_id=b.id,
        before={"status": was},
        after={"status": b.status, "fee_fen": b.fee_fen},
        amount_fen=b.amount_fen,
    )
    return bridge_public(b, today)


async def flag_overdue(session: AsyncSession, today: date | None = None, batch: int = 500) -> int:
    """Record lent bridges past due_on as overdue (reads already show them so)."""
    today = today or china_today()
    rows = await repo.bridges_past_due(session, today, batch)
    for b in rows:
        b.status = S.overdue
        b.updated_at = utcnow()
        await audit.record(
            session,
            action="bridge_loan.overdue",
            object_type="bridge_loan",
            object_id=b.id,
            before={"status": S.lent},
            after={"status": S.overdue},
        )
    await session.flush()
    return len(rows)
