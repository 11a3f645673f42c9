"""Compensation claims on written-off loans, their payout, and the recovery (冲回) of later repayments
(private to the package; `service` is its front).

Lock order everywhere: the draw-down (held by the draw-down domain when it announces
`drawdowns.written_off_repaid`), then the claim, then the fund row.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit, hooks
from app.core.db import utcnow
from app.core.errors import Conflict, InvalidState, NotFound
from app.core.money import yuan_text
from app.core.principal import Principal
from app.events.service import emit
from app.risk import repository as repo
from app.risk.funds import book, region_scope
from app.risk.models import ClaimStatus, CompensationClaim, EntryKind, FundKind
from app.risk.schemas import ClaimCreate, ClaimPublic, ReasonIn
from app.webhooks.schemas import CompensationClaimPayload

BP = 10000
STATUS_ZH = {ClaimStatus.submitted: "待审核", ClaimStatus.paid: "已代偿", ClaimStatus.rejected: "已驳回"}


class Shares(NamedTuple):
    fund: int
    bank: int
    insurer: int
    guarantor: int


def shares(loss_fen: int, government_bp: int, bank_bp: int, insurer_bp: int, guarantor_bp: int) -> Shares:
    """Each party's share = loss × its bp ÷ 10000 rounded down; the fund's share takes the fen left over, so the
    four always add up to the loss exactly."""
    assert government_bp + bank_bp + insurer_bp + guarantor_bp == BP
    bank = loss_fen * bank_bp // BP
    insurer = loss_fen * insurer_bp // BP
    guarantor = loss_fen * guarantor_bp // BP
    return Shares(loss_fen - bank - insurer - guarantor, bank, insurer, guarantor)


def recovery_share(amount_fen: int, government_bp: int, fund_share_fen: int, returned_fen: int) -> int:
    """The fund's part of a repayment on a compensated loan: amount × government_bp ÷ 10000 rounded down, never
    taking what has been returned past what the fund paid."""
    return max(0, min(amount_fen * government_bp // BP, fund_share_fen - returned_fen))


def claim_public(c: CompensationClaim) -> ClaimPublic:
    return ClaimPublic(
        id=c.id,
        drawdown_id=c.drawdown_id,
        bank_id=c.bank_id,
        county_code=c.county_code,
        fund_id=c.fund_id,
        status=ClaimStatus(c.status),
        loss_fen=c.loss_fen,
        fund_share_fen=c.fund_share_fen,
        bank_share_fen=c.bank_share_fen,
        insurer_share_fen=c.insurer_share_fen,
        guarantor_share_fen=c.guarantor_share_fen,
        recovered_fen=c.recovered_fen,
        returned_fen=c.returned_fen,
        government_bp=c.government_bp,
        bank_bp=c.bank_bp,
        insurer_bp=c.insurer_bp,
        guarantor_bp=c.guarantor_bp,
        reason=c.reason,
        created_at=c.created_at,
        decided_at=c.decided_at,
    )


def claim_not_found() -> NotFound:
    return NotFound(("代偿申请不存在", "No such claim"))


def _claim_conflict() -> Conflict:
    return Conflict(("该笔贷款已提交过代偿申请", "A claim on this draw-down exists already"))


async def file(session: AsyncSession, p: Principal, body: ClaimCreate) -> ClaimPublic:
    assert p.bank_id is not None
    loan = await repo.loan_for_claim(session, body.drawdown_id, p.bank_id)
    if loan is None:
        raise NotFound(("用信不存在", "No such draw-down"))
    if loan.status != "written_off":
        raise InvalidState(("只有已核销的贷款可以申请风险补偿", "Only a written-off loan can be claimed"))
    if await repo.claim_of_drawdown(session, loan.id, lock=False) is not None:
        raise _claim_conflict()
    fund = await repo.fund_of(session, loan.county_code, FundKind.compensation)
    scheme = (await repo.current_schemes(session, [fund.id])).get(fund.id) if fund else None
    if fund is None or scheme is None:
        raise InvalidState(
            ("该县区尚未设立风险补偿金或未设定分担比例", "The county has no compensation fund or sharing scheme")
        )
    loss = loan.written_off_fen if loan.written_off_fen else loan.outstanding_fen
    s = shares(loss, scheme.government_bp, scheme.bank_bp, scheme.insurer_bp, scheme.guarantor_bp)
    c = CompensationClaim(
        drawdown_id=loan.id,
        bank_id=p.bank_id,
        county_code=loan.county_code,
        fund_id=fund.id,
        scheme_id=scheme.id,
        government_bp=scheme.government_bp,
        bank_bp=scheme.bank_bp,
        insurer_bp=scheme.insurer_bp,
        guarantor_bp=scheme.guarantor_bp,
        status=ClaimStatus.submitted,
        loss_fen=loss,
        fund_share_fen=s.fund,
        bank_share_fen=s.bank,
        insurer_share_fen=s.insurer,
        guarantor_share_fen=s.guarantor,
    )
    try:
        async with session.begin_nested():
            session.add(c)
            await session.flush()
    except IntegrityError as exc:  # a concurrent claim on the same draw-down committed first
        raise _claim_conflict() from exc
    await audit.record(
        session,
        action="compensation_claim.file",
        object_type="compensation_claim",
        object_id=c.id,
        after={"status": c.status, "loss_fen": loss, "fund_share_fen": s.fund},
        drawdown_id=str(loan.id),
        scheme_id=str(scheme.id),
    )
    return claim_public(c)


async def get_for_bank(session: AsyncSession, p: Principal, claim_id: uuid.UUID) -> ClaimPublic:
    c = await repo.claim(session, claim_id, bank_id=p.bank_id)
    if c is None:
        raise claim_not_found()
    return claim_public(c)


async def list_for_bank(
    session: AsyncSession, p: Principal, status: str | None, limit: int, cursor: str | None
) -> tuple[list[ClaimPublic], str | None]:
    assert p.bank_id is not None
    rows, nxt = await repo.list_claims(session, bank_id=p.bank_id, status=status, limit=limit, cursor=cursor)
    return [claim_public(c) for c in rows], nxt


async def list_for_admin(
    session: AsyncSession, p: Principal, status: str | None, county_code: str | None, limit: int, cursor: str | None
) -> tuple[list[ClaimPublic], str | None]:
    rows, nxt = await repo.list_claims(
        session, scope=region_scope(p), status=status, county_code=county_code, limit=limit, cursor=cursor
    )
    return [claim_public(c) for c in rows], nxt


async def get_for_admin(session: AsyncSession, p: Principal, claim_id: uuid.UUID) -> ClaimPublic:
    c = await repo.claim(session, claim_id, scope=region_scope(p))
    if c is None:
        raise claim_not_found()
    return claim_public(c)


async def _pending(session: AsyncSession, p: Principal, claim_id: uuid.UUID) -> CompensationClaim:
    c = await repo.claim(session, claim_id, scope=region_scope(p), lock=True)
    if c is None:
        raise claim_not_found()
    if c.status != ClaimStatus.submitted:
        now = STATUS_ZH[ClaimStatus(c.status)]
        raise InvalidState((f"该代偿申请{now}，只有待审核的申请可以审批", f"The claim is {c.status}"))
    return c


async def _tell_bank(session: AsyncSession, c: CompensationClaim, type: str) -> None:
    await emit(
        session,
        type=type,
        bank_id=c.bank_id,
        data=CompensationClaimPayload(
            claim_id=c.id,
            drawdown_id=c.drawdown_id,
            county_code=c.county_code,
            status=c.status,
            loss_fen=c.loss_fen,
            fund_share_fen=c.fund_share_fen,
            reason=c.reason,
        ).model_dump(mode="json"),
    )


async def approve(session: AsyncSession, p: Principal, claim_id: uuid.UUID) -> ClaimPublic:
    """Pay the fund's share out of the county's compensation fund; the fund too small changes nothing."""
    c = await _pending(session, p, claim_id)
    fund = await repo.fund(session, c.fund_id)
    assert fund is not None
    await book(session, fund, EntryKind.compensation, c.fund_share_fen, claim_id=c.id, note="风险补偿代偿")
    c.status = ClaimStatus.paid
    c.decided_at = c.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="compensation_claim.approve",
        object_type="compensation_claim",
        object_id=c.id,
        before={"status": ClaimStatus.submitted},
        after={"status": c.status, "fund_share_fen": c.fund_share_fen},
    )
    # Principal the bank recovered after the write-off but before this payout flows back now, by the same ratio.
    recovered_before = c.loss_fen - await repo.loan_outstanding(session, c.drawdown_id)
    if recovered_before > 0:
        await _return(session, c, fund_id=fund.id, amount_fen=recovered_before, repayment_id=None)
    await _tell_bank(session, c, "compensation_claim.paid")
    return claim_public(c)


async def reject(session: AsyncSession, p: Principal, claim_id: uuid.UUID, body: ReasonIn) -> ClaimPublic:
    c = await _pending(session, p, claim_id)
    c.status = ClaimStatus.rejected
    c.reason = body.reason
    c.decided_at = c.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="compensation_claim.reject",
        object_type="compensation_claim",
        object_id=c.id,
        before={"status": ClaimStatus.submitted},
        after={"status": c.status},
    )
    await _tell_bank(session, c, "compensation_claim.rejected")
    return claim_public(c)


async def _return(
    session: AsyncSession, c: CompensationClaim, *, fund_id: uuid.UUID, amount_fen: int, repayment_id: uuid.UUID | None
) -> None:
    back = recovery_share(amount_fen, c.government_bp, c.fund_share_fen, c.returned_fen)
    c.recovered_fen += amount_fen
    c.returned_fen += back
    c.updated_at = utcnow()
    await session.flush()
    if back > 0:
        fund = await repo.fund(session, fund_id)
        assert fund is not None
        await book(
            session,
            fund,
            EntryKind.recovery,
            back,
            claim_id=c.id,
            repayment_id=repayment_id,
            note=f"追偿冲回：收回本金 {yuan_text(amount_fen, always_cents=True)} 元",
        )


@hooks.subscribe("drawdowns.written_off_repaid")
async def recover(session: AsyncSession, *, drawdown_id: uuid.UUID, repayment_id: uuid.UUID, amount_fen: int) -> None:
    """A repayment was recorded on a written-off loan (in the caller's transaction, the draw-down row locked):
    if its claim has been paid, return the fund's share of it (冲回) until what the fund paid is back."""
    c = await repo.claim_of_drawdown(session, drawdown_id, lock=True)
    if c is None or c.status != ClaimStatus.paid:
        return
    await _return(session, c, fund_id=c.fund_id, amount_fen=amount_fen, repayment_id=repayment_id)
