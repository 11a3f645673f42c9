"""How a draw-down looks now: its effective status (approvals lapse, loans past due_on are overdue, whether or
not a job has recorded it yet), that rule as SQL for filters, and its public fields with the repayment plan."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.dates import china_today
from app.core.messages import status_zh
from app.core.money import yuan_text
from app.drawdowns import isolation
from app.drawdowns.models import Drawdown, DrawdownPolicy, DrawdownStatus, Repayment
from app.drawdowns.schedule import plan
from app.drawdowns.schemas import (
    DrawdownPublic,
    InstallmentPublic,
    RepaymentMethod,
    RepaymentPublic,
    SchedulePublic,
)

S = DrawdownStatus

STATUS_ZH = {s: status_zh("drawdown", s.value) for s in S}


def yuan(fen: int) -> str:
    return yuan_text(fen, always_cents=True)


# ---- state rules -------------------------------------------------------------------------------------------


def approval_expires_on(dd: Drawdown, policy: DrawdownPolicy) -> date | None:
    if dd.approved_on is None or dd.status != S.approved:
        return None
    return dd.approved_on + timedelta(days=policy.approval_valid_days)


def effective_status(dd: Drawdown, policy: DrawdownPolicy, today: date) -> S:
    """The status as it is now, whether or not a job has recorded it: approvals lapse after the validity
    days; disbursed principal still owed after due_on is overdue."""
    expires = approval_expires_on(dd, policy)
    if expires is not None and today > expires:
        return S.expired
    if dd.status == S.disbursed and dd.due_on is not None and dd.due_on < today and dd.outstanding_fen > 0:
        return S.overdue
    return S(dd.status)


def status_filter(status: S, policy: DrawdownPolicy, today: date) -> Any:
    """SQL for "effective status is `status`" (see effective_status)."""
    lapse = today - timedelta(days=policy.approval_valid_days)
    past_due = and_(Drawdown.status == S.disbursed, col(Drawdown.due_on) < today)
    stale = and_(Drawdown.status == S.approved, col(Drawdown.approved_on) < lapse)
    if status == S.approved:
        return and_(Drawdown.status == S.approved, col(Drawdown.approved_on) >= lapse)
    if status == S.expired:
        return or_(Drawdown.status == S.expired, stale)
    if status == S.disbursed:
        return and_(Drawdown.status == S.disbursed, col(Drawdown.due_on) >= today)
    if status == S.overdue:
        return or_(Drawdown.status == S.overdue, past_due)
    return Drawdown.status == status


# ---- presentation ------------------------------------------------------------------------------------------


async def repayments_of(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Repayment]]:
    out: dict[uuid.UUID, list[Repayment]] = {i: [] for i in ids}
    if ids:
        rows = (
            await session.execute(
                select(Repayment)
                .where(col(Repayment.drawdown_id).in_(ids))
                .order_by(Repayment.paid_on, Repayment.created_at)
            )
        ).scalars()
        for r in rows:
            out[r.drawdown_id].append(r)
    return out


def public_fields(dd: Drawdown, repayments: list[Repayment], policy: DrawdownPolicy, today: date) -> dict[str, Any]:
    rate = dd.annual_rate_bp if dd.annual_rate_bp is not None else dd.rate_cap_bp
    items = plan(
        dd.repayment_method, dd.amount_fen, rate, dd.term_months + dd.extended_months, dd.disbursed_on or today
    )
    return {
        "id": dd.id,
        "status": effective_status(dd, policy, today),
        "amount_fen": dd.amount_fen,
        "outstanding_fen": dd.outstanding_fen,
        "annual_rate_bp": dd.annual_rate_bp,
        "term_months": dd.term_months,
        "purpose": dd.purpose,
        "repayment_method": dd.repayment_method,
        "submitted_on": dd.submitted_on,
        "approved_on": dd.approved_on,
        "approval_expires_on": approval_expires_on(dd, policy),
        "disbursed_on": dd.disbursed_on,
        "due_on": dd.due_on,
        "extended_months": dd.extended_months,
        "renewed_from_id": dd.renewed_from_id,
        "renewed_to_id": dd.renewed_to_id,
        "reason": dd.reason,
        "repayments": [RepaymentPublic(amount_fen=r.amount_fen, paid_on=r.paid_on) for r in repayments],
        "schedule": SchedulePublic(
            method=RepaymentMethod(dd.repayment_method),
            annual_rate_bp=rate,
            estimated=dd.annual_rate_bp is None or dd.disbursed_on is None,
            total_principal_fen=sum(i.principal_fen for i in items),
            total_interest_fen=sum(i.interest_fen for i in items),
            items=[
                InstallmentPublic(
                    period=i.period,
                    due_on=i.due_on,
                    principal_fen=i.principal_fen,
                    interest_fen=i.interest_fen,
                    payment_fen=i.payment_fen,
                )
                for i in items
            ],
        ),
        "created_at": dd.created_at,
        "updated_at": dd.updated_at,
    }


async def present(session: AsyncSession, dd: Drawdown) -> DrawdownPublic:
    policy = await isolation.get_policy(session)
    reps = await repayments_of(session, [dd.id])
    return DrawdownPublic(**public_fields(dd, reps[dd.id], policy, china_today()))
