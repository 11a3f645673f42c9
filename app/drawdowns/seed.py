"""Demo draw-downs: every status on the demo farmers' active certificates (app.credit.seed.FARMERS), driven
through the lending service so the certificates' amounts, the villages' loan figures (credit isolation) and the
supervision counters stay true. 马庄村's overdue and written-off loans put it (and its township) under credit
isolation. Runs after the credit seeder; a household that has any draw-down is left alone (idempotent).

Dates in the past (a loan disbursed 13 months ago, an approval 20 days old) are set the way the bank's core
system reports them: `submitted_on` of the seeded application, then `disbursed_on` through the service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import crypto
from app.core.dates import add_months, china_today
from app.core.principal import Principal
from app.credit import certificates
from app.credit.models import Certificate, Household
from app.drawdowns import isolation, lending, service
from app.drawdowns.models import Drawdown, DrawdownPolicy, DrawdownStatus
from app.drawdowns.schemas import ApproveIn, DisburseIn, ReasonIn, RepaymentCreate

S = DrawdownStatus


@dataclass(frozen=True)
class Loan:
    state: str  # the status it ends in
    amount_fen: int
    term_months: int
    purpose: str
    months_ago: int = 0  # submitted (and disbursed) this many months before today
    repaid_fen: int = 0  # for `disbursed`: principal repaid since


# Per demo farmer (index into app.credit.seed.FARMERS): the loans the demo shows.
PLAN: dict[int, list[Loan]] = {
    0: [  # the demo farmer: one loan running, one repaid; 35,000 yuan left to draw
        Loan("repaid", 500_000, 3, "commerce", months_ago=4),
        Loan("disbursed", 2_000_000, 12, "farm_machinery", months_ago=2, repaid_fen=500_000),
    ],
    1: [Loan("submitted", 1_000_000, 12, "planting"), Loan("approved", 800_000, 6, "livestock")],
    2: [Loan("rejected", 300_000, 12, "other"), Loan("cancelled", 400_000, 6, "planting")],
    3: [Loan("expired", 600_000, 12, "livestock")],
    4: [Loan("overdue", 1_000_000, 12, "livestock", months_ago=13)],  # past due_on: 马庄村 is isolated
    5: [Loan("written_off", 500_000, 12, "planting", months_ago=14)],
}
APPROVAL_AGE_DAYS = 20  # the expired approval: older than the policy's 15 days


async def _submit(session: AsyncSession, h: Household, c: Certificate, loan: Loan, submitted_on: date) -> Drawdown:
    """The application as `POST /me/drawdowns` records it (the farmer's step-up and key are the app's part)."""
    assert c.lead_bank_id is not None
    held = await certificates.hold(session, c.id, loan.amount_fen, china_today())
    assert held, "a demo loan fits its certificate"
    dd = Drawdown(
        certificate_id=c.id,
        household_id=h.id,
        user_id=h.user_id,
        bank_id=c.lead_bank_id,
        village_code=h.village_code,
        township_code=h.township_code,
        county_code=h.county_code,
        amount_fen=loan.amount_fen,
        term_months=loan.term_months,
        purpose=loan.purpose,
        repayment_method="equal_installment",
        rate_cap_bp=c.max_annual_rate_bp,
        status=S.submitted,
        submitted_on=submitted_on,
    )
    session.add(dd)
    await session.flush()
    return dd


async def _run(session: AsyncSession, h: Household, c: Certificate, loan: Loan) -> None:
    assert c.lead_bank_id is not None
    bank = Principal(kind="user", id=uuid.uuid4(), role="bank_staff", jti="seed", bank_id=c.lead_bank_id)
    today = china_today()
    since = add_months(today, -loan.months_ago) if loan.months_ago else today
    if loan.state == "expired":
        since = today - timedelta(days=APPROVAL_AGE_DAYS)
    dd = await _submit(session, h, c, loan, since)
    if loan.state == "submitted":
        return
    if loan.state == "rejected":
        await lending.reject(session, bank, dd.id, ReasonIn(reason="经营用途材料不全，请补充后重新申请"))
        return
    await lending.approve(session, bank, dd.id, ApproveIn(annual_rate_bp=min(600, c.max_annual_rate_bp)))
    if loan.state == "approved":
        return
    if loan.state == "cancelled":
        await lending.cancel(session, bank, dd.id, ReasonIn(reason="客户改用其他资金，不再放款"))
        return
    if loan.state == "expired":
        # approved on the day it was submitted, never disbursed: lapsed after the policy's 15 days
        dd.approved_on = since
        await session.flush()
        await service.expire(session, dd)
        return
    await lending.disburse(session, bank, dd.id, DisburseIn(disbursed_on=since))
    if dd.approved_on != since:  # the core system approved it the day it was applied for (and disbursed)
        dd.approved_on = since
        await session.flush()
    if loan.state == "disbursed":
        if loan.repaid_fen:
            paid_on = add_months(since, 1)
            await lending.repay(session, bank, dd.id, RepaymentCreate(amount_fen=loan.repaid_fen, paid_on=paid_on))
    elif loan.state == "repaid":
        paid_on = min(today, add_months(since, loan.term_months))
        await lending.repay(session, bank, dd.id, RepaymentCreate(amount_fen=loan.amount_fen, paid_on=paid_on))
    elif loan.state == "overdue":
        # past due_on with principal outstanding; recorded as the worker's sweep records it
        await isolation.adjust(session, dd.village_code, overdue=dd.outstanding_fen)
        await service.set_status(
            session, dd, S.overdue, action="drawdown.overdue", note="已超过到期日，请尽快还款。", reported=False
        )
    elif loan.state == "written_off":
        await lending.report_overdue(session, bank, dd.id)
        await lending.write_off(session, bank, dd.id)


async def seed_drawdowns(session: AsyncSession) -> None:
    from app.credit.seed import FARMERS, demo_identity

    if await session.get(DrawdownPolicy, 1) is None:
        session.add(DrawdownPolicy())
        await session.flush()
    for n, (_, village, i) in enumerate(FARMERS):
        id_number, _ = demo_identity(village, i)
        row = (
            await session.execute(
                select(Household, Certificate)
                .join(Certificate, Certificate.household_id == Household.id)
                .where(
                    Household.id_number_hash == crypto.index_hash(id_number, "resident_id"),
                    col(Certificate.is_current).is_(True),
                    Certificate.status == "active",
                    col(Certificate.lead_bank_id).is_not(None),
                )
            )
        ).first()
        if row is None:
            continue  # no active certificate (no demo bank): nothing to lend on
        h, c = row
        if await session.scalar(select(Drawdown.id).where(Drawdown.household_id == h.id).limit(1)):
            continue
        for loan in PLAN.get(n, []):
            await _run(session, h, c, loan)
