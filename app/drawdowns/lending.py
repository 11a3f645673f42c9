"""The lead bank's side: decisions, disbursement, repayments, 展期/续贷, overdue and write-off reports (its queue
and views: `app.drawdowns.bank_view`).

Every operation locks the draw-down row first, then moves money on the certificate row, then the village's
loan figures: one lock order everywhere, so concurrent operations queue instead of deadlocking.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import User
from app.catalog import incentives
from app.core import audit, hooks
from app.core.dates import add_months, china_today
from app.core.errors import (
    CertificateInactive,
    InvalidState,
    NotFound,
    RateAboveCap,
    RepaymentInvalid,
    TermNotAllowed,
    ValidationFailed,
    field_error,
)
from app.core.messages import status_zh
from app.core.money import percent_text
from app.core.principal import Principal
from app.credit import certificates
from app.credit.models import Certificate, Household
from app.drawdowns import isolation
from app.drawdowns.bank_view import get_for_bank as get_for_bank  # the queue and one draw-down, for the router
from app.drawdowns.bank_view import list_for_bank as list_for_bank
from app.drawdowns.bank_view import present
from app.drawdowns.models import FLAGGED_OVERDUE, Drawdown, DrawdownPolicy, DrawdownStatus, Repayment
from app.drawdowns.presentation import effective_status, yuan
from app.drawdowns.schemas import (
    ApproveIn,
    BankDrawdownPublic,
    DisburseIn,
    ExtendIn,
    ReasonIn,
    RenewIn,
    RepaymentCreate,
)
from app.drawdowns.service import set_status

S = DrawdownStatus


async def _ours(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID) -> Drawdown:
    """The draw-down, locked, if this bank is its lender; anyone else's is 404 and untouched."""
    dd = (
        await session.execute(
            select(Drawdown)
            .where(Drawdown.id == drawdown_id, Drawdown.bank_id == p.bank_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if dd is None:
        raise NotFound()
    return dd


def _wrong_state(now: S, wanted: str) -> InvalidState:
    zh = f"当前状态为“{status_zh('drawdown', now.value)}”，只有{wanted}的用信可以这样操作"
    return InvalidState((zh, f"Not allowed while {now.value}"))


async def _state(session: AsyncSession, dd: Drawdown) -> tuple[S, DrawdownPolicy, date]:
    policy = await isolation.get_policy(session)
    today = china_today()
    return effective_status(dd, policy, today), policy, today


async def _certificate(session: AsyncSession, dd: Drawdown) -> Certificate:
    return (
        await session.execute(
            select(Certificate).where(Certificate.id == dd.certificate_id).execution_options(populate_existing=True)
        )
    ).scalar_one()


async def _rate_cap(session: AsyncSession, dd: Drawdown, cert: Certificate, today: date) -> incentives.Rate:
    """守信激励: the certificate's cap less the discount for the certificate's stars at the lead bank."""
    h = await _household(session, dd)
    household_type = (
        await session.scalar(select(User.household_type).where(User.id == dd.user_id)) if dd.user_id else None
    )
    return await incentives.drawdown_cap(
        session,
        certificate_cap_bp=cert.max_annual_rate_bp,
        lead_bank_id=cert.lead_bank_id,
        county_code=h.county_code,
        applicant_mask=incentives.household_mask(registered_poor=h.is_registered_poor, household_type=household_type),
        stars=cert.stars,
        today=today,
    )


async def approve(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID, body: ApproveIn) -> BankDrawdownPublic:
    dd = await _ours(session, p, drawdown_id)
    now, _, today = await _state(session, dd)
    if now != S.submitted:
        raise _wrong_state(now, "待审批")
    cert = await _certificate(session, dd)
    if cert.status != "active":
        raise CertificateInactive(("授信证不可用，不能审批", "The certificate is not active"))
    cap = await _rate_cap(session, dd, cert, today)
    if body.annual_rate_bp > cap.max_bp:
        msg = incentives.cap_text(cap, "授信证利率上限", cert.stars)
        raise RateAboveCap(
            (msg, f"The rate is above the cap of {percent_text(cap.max_bp)}%"),
            errors=[field_error("annual_rate_bp", "rate_above_cap", msg)],
            extra={"cap_bp": cap.max_bp},
        )
    dd.annual_rate_bp = body.annual_rate_bp
    dd.approved_on = today
    await set_status(
        session,
        dd,
        S.approved,
        action="drawdown.approve",
        note=f"年利率 {percent_text(body.annual_rate_bp)}%，请留意放款。",
        annual_rate_bp=body.annual_rate_bp,
    )
    return await present(session, dd.id)


async def reject(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID, body: ReasonIn) -> BankDrawdownPublic:
    dd = await _ours(session, p, drawdown_id)
    now, _, _ = await _state(session, dd)
    if now != S.submitted:
        raise _wrong_state(now, "待审批")
    dd.reason = body.reason
    await certificates.release(session, dd.certificate_id, pending=-dd.amount_fen)
    await set_status(session, dd, S.rejected, action="drawdown.reject", note=f"原因：{body.reason}")
    return await present(session, dd.id)


async def cancel(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID, body: ReasonIn) -> BankDrawdownPublic:
    dd = await _ours(session, p, drawdown_id)
    now, _, _ = await _state(session, dd)
    if now != S.approved:
        raise _wrong_state(now, "已批准未放款")
    dd.reason = body.reason
    await certificates.release(session, dd.certificate_id, pending=-dd.amount_fen)
    await set_status(session, dd, S.cancelled, action="drawdown.cancel", note=f"原因：{body.reason}", by="bank")
    return await present(session, dd.id)


async def disburse(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID, body: DisburseIn) -> BankDrawdownPublic:
    dd = await _ours(session, p, drawdown_id)
    now, _, today = await _state(session, dd)
    if now != S.approved:
        raise _wrong_state(now, "已批准（且在有效期内）")
    on = body.disbursed_on or today
    if on > today:
        raise ValidationFailed(errors=[field_error("disbursed_on", "future_date", "放款日不得晚于今天（中国时间）")])
    if on < dd.submitted_on:
        raise ValidationFailed(errors=[field_error("disbursed_on", "before_submission", "放款日不得早于申请日")])
    cert = await _certificate(session, dd)
    if cert.status != "active":
        raise CertificateInactive(("授信证不可用，不能放款", "The certificate is not active"))
    await certificates.release(session, dd.certificate_id, pending=-dd.amount_fen, outstanding=dd.amount_fen)
    await isolation.adjust(session, dd.village_code, outstanding=dd.amount_fen)
    dd.disbursed_on = on
    dd.due_on = add_months(on, dd.term_months)
    dd.outstanding_fen = dd.amount_fen
    await set_status(
        session,
        dd,
        S.disbursed,
        action="drawdown.disburse",
        note=f"到期日 {dd.due_on.isoformat()}。",
        disbursed_on=on.isoformat(),
    )
    return await present(session, dd.id)


async def repay(
    session: AsyncSession, p: Principal, drawdown_id: uuid.UUID, body: RepaymentCreate
) -> BankDrawdownPublic:
    dd = await _ours(session, p, drawdown_id)
    now, _, today = await _state(session, dd)
    if now not in (S.disbursed, S.overdue, S.written_off):
        raise _wrong_state(now, "已放款、逾期或已核销")
    if body.amount_fen <= 0 or body.amount_fen > dd.outstanding_fen:
        msg = f"还款本金须大于0元，且不能超过未还本金 {yuan(dd.outstanding_fen)} 元"
        raise RepaymentInvalid(
            (msg, "Amount must be positive and at most the outstanding principal"),
            errors=[field_error("amount_fen", "repayment_invalid", msg)],
        )
    assert dd.disbursed_on is not None
    if body.paid_on < dd.disbursed_on or body.paid_on > today:
        msg = "还款日不得早于放款日，也不得晚于今天（中国时间）"
        raise RepaymentInvalid(
            (msg, "paid_on must be between disbursement and today"),
            errors=[field_error("paid_on", "repayment_invalid", msg)],
        )
    flagged = dd.status in FLAGGED_OVERDUE
    dd.outstanding_fen -= body.amount_fen
    repayment = Repayment(drawdown_id=dd.id, amount_fen=body.amount_fen, paid_on=body.paid_on)
    session.add(repayment)
    if dd.status == S.written_off:  # 冲回: risk control returns the fund's share of what comes back (app.risk.claims)
        await hooks.publish(
            "drawdowns.written_off_repaid",
            session,
            drawdown_id=dd.id,
            repayment_id=repayment.id,
            amount_fen=body.amount_fen,
        )
    await certificates.release(session, dd.certificate_id, outstanding=-body.amount_fen)
    await isolation.adjust(
        session, dd.village_code, outstanding=-body.amount_fen, overdue=-body.amount_fen if flagged else 0
    )
    status = S.repaid if dd.outstanding_fen == 0 else S(dd.status)
    await set_status(
        session,
        dd,
        status,
        action="drawdown.repayment",
        outstanding_before=dd.outstanding_fen + body.amount_fen,
        note=f"收到还款 {yuan(body.amount_fen)} 元，剩余本金 {yuan(dd.outstanding_fen)} 元。",
        amount_fen=body.amount_fen,
        paid_on=body.paid_on.isoformat(),
    )
    return await present(session, dd.id)


async def _household(session: AsyncSession, dd: Drawdown) -> Household:
    return (await session.execute(select(Household).where(Household.id == dd.household_id))).scalar_one()


async def extend(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID, body: ExtendIn) -> BankDrawdownPublic:
    """展期 must be agreed before maturity: only a loan not yet past due_on."""
    dd = await _ours(session, p, drawdown_id)
    now, policy, _ = await _state(session, dd)
    if now != S.disbursed:
        raise _wrong_state(now, "已放款且未到期")
    if not (await _household(session, dd)).is_registered_poor:
        raise InvalidState(("仅建档立卡贫困户的贷款可以展期", "Only registered-poor households may extend"))
    if dd.extension_count >= policy.extensions_allowed:
        raise InvalidState((f"该笔贷款已展期 {dd.extension_count} 次，不能再展期", "Already extended"))
    if dd.extended_months + body.months > policy.extension_max_months:
        msg = f"展期累计不得超过 {policy.extension_max_months} 个月"
        raise TermNotAllowed((msg, "Extension too long"), errors=[field_error("months", "term_not_allowed", msg)])
    assert dd.disbursed_on is not None
    old_due = dd.due_on
    dd.extended_months += body.months
    dd.extension_count += 1
    dd.due_on = add_months(dd.disbursed_on, dd.term_months + dd.extended_months)
    await set_status(
        session,
        dd,
        S.disbursed,
        action="drawdown.extend",
        note=f"展期 {body.months} 个月，新到期日 {dd.due_on.isoformat()}。",
        months=body.months,
        old_due_on=str(old_due),
        new_due_on=dd.due_on.isoformat(),
    )
    return await present(session, dd.id)


async def renew(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID, body: RenewIn) -> BankDrawdownPublic:
    """续贷: at or after maturity, roll the outstanding principal into a new disbursed draw-down."""
    dd = await _ours(session, p, drawdown_id)
    now, policy, today = await _state(session, dd)
    matured = dd.status == S.disbursed and dd.due_on is not None and dd.due_on <= today
    if not (now == S.overdue or matured):
        raise _wrong_state(now, "已到期或逾期")
    if policy.renewal_registered_poor_only and not (await _household(session, dd)).is_registered_poor:
        raise InvalidState(("仅建档立卡贫困户的贷款可以续贷", "Only registered-poor households may renew"))
    if not policy.min_term_months <= body.term_months <= policy.max_term_months:
        msg = f"续贷期限须为 {policy.min_term_months}–{policy.max_term_months} 个月"
        raise TermNotAllowed((msg, "Term not allowed"), errors=[field_error("term_months", "term_not_allowed", msg)])
    amount = dd.outstanding_fen
    new = Drawdown(
        certificate_id=dd.certificate_id,
        household_id=dd.household_id,
        user_id=dd.user_id,
        bank_id=dd.bank_id,
        village_code=dd.village_code,
        township_code=dd.township_code,
        county_code=dd.county_code,
        amount_fen=amount,
        outstanding_fen=amount,
        term_months=body.term_months,
        purpose=dd.purpose,
        repayment_method=dd.repayment_method,
        annual_rate_bp=dd.annual_rate_bp,
        rate_cap_bp=dd.rate_cap_bp,
        status=S.disbursed,
        submitted_on=today,
        approved_on=today,
        disbursed_on=today,
        due_on=add_months(today, body.term_months),
        renewed_from_id=dd.id,
    )
    session.add(new)
    await session.flush()
    if dd.status in FLAGGED_OVERDUE:
        await isolation.adjust(session, dd.village_code, overdue=-amount)
    dd.outstanding_fen = 0
    dd.renewed_to_id = new.id
    await set_status(
        session,
        dd,
        S.repaid,
        action="drawdown.renew",
        note="已续贷，本金转入新的贷款。",
        renewed_to=str(new.id),
        amount_fen=amount,
    )
    await audit.record(
        session,
        action="drawdown.renewal_disburse",
        object_type="drawdown",
        object_id=new.id,
        after={"status": new.status, "amount_fen": amount, "due_on": str(new.due_on)},
        renewed_from=str(dd.id),
    )
    # An action answers with the resource as it now is (API.md): the old draw-down, repaid and linked to the new.
    return await present(session, dd.id)


async def report_overdue(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID) -> BankDrawdownPublic:
    dd = await _ours(session, p, drawdown_id)
    now, _, _ = await _state(session, dd)
    if dd.status != S.disbursed:
        raise _wrong_state(now, "已放款")
    await isolation.adjust(session, dd.village_code, overdue=dd.outstanding_fen)
    await set_status(
        session, dd, S.overdue, action="drawdown.overdue", note="请尽快还款，逾期期间不能再次用信。", reported=True
    )
    return await present(session, dd.id)


async def write_off(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID) -> BankDrawdownPublic:
    dd = await _ours(session, p, drawdown_id)
    now, _, _ = await _state(session, dd)
    if dd.status not in (S.disbursed, S.overdue):
        raise _wrong_state(now, "已放款或逾期")
    if dd.status == S.disbursed:
        await isolation.adjust(session, dd.village_code, overdue=dd.outstanding_fen)
    await set_status(session, dd, S.written_off, action="drawdown.write_off", note="该笔贷款已核销，仍须归还。")
    return await present(session, dd.id)


async def flag_past_due(session: AsyncSession, today: date, batch: int = 500) -> int:
    """Record loans that passed due_on as overdue (the figures already count them; this is bookkeeping)."""
    rows = (
        (
            await session.execute(
                select(Drawdown)
                .where(Drawdown.status == S.disbursed, col(Drawdown.due_on) < today, Drawdown.outstanding_fen > 0)
                # village order: concurrent sweepers take the village rows in one order and cannot deadlock
                .order_by(Drawdown.village_code, Drawdown.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for dd in rows:
        await isolation.adjust(session, dd.village_code, overdue=dd.outstanding_fen)
        await set_status(
            session, dd, S.overdue, action="drawdown.overdue", note="已超过到期日，请尽快还款。", reported=False
        )
    return len(rows)
