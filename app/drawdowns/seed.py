"""Demo draw-downs: a few in several states on the demo households' active certificates, and one isolated
village. Runs after the credit seeder; creates nothing when no active certificate exists. Idempotent."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.dependencies import Principal
from app.credit.models import Certificate, Household
from app.drawdowns import lending
from app.drawdowns.dates import china_today
from app.drawdowns.models import Drawdown, DrawdownPolicy, DrawdownStatus
from app.drawdowns.schemas import ApproveIn, DisburseIn, ReasonIn, RepaymentCreate
from app.drawdowns.service import change_certificate

# (final state, amount in fen, term in months, purpose)
PLAN = [
    ("submitted", 1_000_000, 12, "planting"),
    ("approved", 800_000, 6, "livestock"),
    ("disbursed", 2_000_000, 12, "farm_machinery"),
    ("repaid", 500_000, 3, "commerce"),
    ("rejected", 300_000, 12, "other"),
    ("overdue", 1_000_000, 12, "livestock"),  # last: its village becomes isolated
]


async def _submit(
    session: AsyncSession, h: Household, c: Certificate, amount: int, term: int, purpose: str
) -> Drawdown:
    assert c.lead_bank_id is not None
    await change_certificate(session, c.id, pending=amount)
    dd = Drawdown(
        certificate_id=c.id,
        household_id=h.id,
        user_id=h.user_id,
        bank_id=c.lead_bank_id,
        village_code=h.village_code,
        township_code=h.township_code,
        county_code=h.county_code,
        amount_fen=amount,
        term_months=term,
        purpose=purpose,
        repayment_method="equal_installment",
        rate_cap_bp=c.max_annual_rate_bp,
        status=DrawdownStatus.submitted,
        submitted_on=china_today(),
    )
    session.add(dd)
    await session.flush()
    return dd


async def seed_drawdowns(session: AsyncSession) -> None:
    if await session.get(DrawdownPolicy, 1) is None:
        session.add(DrawdownPolicy())
        await session.flush()
    if (await session.execute(select(func.count()).select_from(Drawdown))).scalar_one():
        return
    rows = (
        await session.execute(
            select(Certificate, Household)
            .join(Household, Household.id == Certificate.household_id)
            .where(
                Certificate.status == "active",
                col(Certificate.is_current).is_(True),
                col(Certificate.lead_bank_id).is_not(None),
                Certificate.outstanding_fen == 0,
                Certificate.pending_fen == 0,
            )
            .order_by(Certificate.number)
            .limit(len(PLAN))
        )
    ).all()
    today = china_today()
    for (state, amount, term, purpose), (c, h) in zip(PLAN, rows, strict=False):
        amount = min(amount, c.limit_fen)
        if amount <= 0:
            continue
        assert c.lead_bank_id is not None
        bank = Principal(kind="user", id=uuid.uuid4(), role="bank_staff", jti="seed", bank_id=c.lead_bank_id)
        dd = await _submit(session, h, c, amount, term, purpose)
        if state == "submitted":
            continue
        if state == "rejected":
            await lending.reject(session, bank, dd.id, ReasonIn(reason="经营用途材料不全，请补充后重新申请"))
            continue
        await lending.approve(session, bank, dd.id, ApproveIn(annual_rate_bp=min(600, c.max_annual_rate_bp)))
        if state == "approved":
            continue
        await lending.disburse(session, bank, dd.id, DisburseIn(disbursed_on=today))
        if state == "disbursed":
            await lending.repay(session, bank, dd.id, RepaymentCreate(amount_fen=amount // 4, paid_on=today))
        elif state == "repaid":
            await lending.repay(session, bank, dd.id, RepaymentCreate(amount_fen=amount, paid_on=today))
        elif state == "overdue":
            # Reported by the bank's core system: the village's overdue ratio passes 5% and new draws stop there.
            await lending.report_overdue(session, bank, dd.id)
