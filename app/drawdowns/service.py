"""Draw-downs: the farmer's side (submit, list, cancel), shared state rules and presentation.

Money moves only through credit's operations on the certificate row (`app.credit.certificates.hold` and
`release`: conditional UPDATEs), in the transaction that writes the draw-down, its audit entry, notifications and
events (and the idempotency record, by the router): `pending_fen` holds submitted + approved amounts,
`outstanding_fen` disbursed unpaid principal.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from app.auth import rights
from app.auth.models import User
from app.core import audit, ratelimit
from app.core.config import get_settings
from app.core.crypto import mask_name
from app.core.dates import china_today
from app.core.db import utcnow
from app.core.errors import (
    InvalidState,
    NotFound,
    TermNotAllowed,
    field_error,
)
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.core.principal import Principal
from app.credit import certificates
from app.credit.models import Certificate, Household
from app.drawdowns import admission, isolation, repository
from app.drawdowns.models import Drawdown, DrawdownPolicy, DrawdownStatus
from app.drawdowns.presentation import (
    STATUS_ZH,
    present,
    public_fields,
    repayments_of,
    status_filter,
    yuan,
)
from app.drawdowns.presentation import (
    effective_status as effective_status,  # the domain's rule, for callers of this front
)
from app.drawdowns.schemas import DrawdownCreate, DrawdownPublic
from app.events.service import emit
from app.notifications.models import Notification
from app.notifications.service import notify

S = DrawdownStatus


async def tell_farmer(session: AsyncSession, dd: Drawdown, status: str, extra: str = "") -> Notification | None:
    if dd.user_id is None:
        return None
    return await notify(
        session,
        user_id=dd.user_id,
        kind=f"drawdown.{status}",
        title=f"用信申请{STATUS_ZH.get(S(status), status)}",
        body=f"您 {yuan(dd.amount_fen)} 元的用信{STATUS_ZH.get(S(status), status)}。{extra}".strip(),
        data={"drawdown_id": str(dd.id), "status": status},
    )


async def set_status(
    session: AsyncSession,
    dd: Drawdown,
    status: S,
    *,
    action: str,
    note: str = "",
    outstanding_before: int | None = None,
    **audit_extra: Any,
) -> None:
    """`outstanding_before`: the principal before this change, where the caller has already moved it."""
    was = dd.outstanding_fen if outstanding_before is None else outstanding_before
    before = {"status": dd.status, "outstanding_fen": was}
    dd.status = status
    dd.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action=action,
        object_type="drawdown",
        object_id=dd.id,
        before=before,
        after={"status": dd.status, "outstanding_fen": dd.outstanding_fen},
        **audit_extra,
    )
    await tell_farmer(session, dd, status, note)


async def expire(session: AsyncSession, dd: Drawdown) -> None:
    """An approval that lapsed: release the held amount."""
    await certificates.release(session, dd.certificate_id, pending=-dd.amount_fen)
    await set_status(session, dd, S.expired, action="drawdown.expire", note="审批后超过有效期未放款，额度已释放。")


async def expire_stale(
    session: AsyncSession,
    policy: DrawdownPolicy,
    today: date,
    certificate_id: uuid.UUID | None = None,
    batch: int = 200,
) -> int:
    lapse = today - timedelta(days=policy.approval_valid_days)
    q = select(Drawdown).where(Drawdown.status == S.approved, col(Drawdown.approved_on) < lapse)
    if certificate_id is not None:
        q = q.where(Drawdown.certificate_id == certificate_id)
    q = q.order_by(Drawdown.certificate_id, Drawdown.id).limit(batch).with_for_update(skip_locked=True)
    rows = (await session.execute(q)).scalars().all()
    for dd in rows:
        await expire(session, dd)
    return len(rows)


# ---- the farmer --------------------------------------------------------------------------------------------

# The admission rules live in app.drawdowns.admission (`/me/credit` explains them with the same code).


def _check_term(policy: DrawdownPolicy, term_months: int) -> None:
    if not policy.min_term_months <= term_months <= policy.max_term_months:
        msg = f"用信期限须为 {policy.min_term_months}–{policy.max_term_months} 个月"
        raise TermNotAllowed(
            (msg, f"The term must be {policy.min_term_months}-{policy.max_term_months} months"),
            errors=[field_error("term_months", "term_not_allowed", msg)],
        )


async def _hold(session: AsyncSession, cert: Certificate, amount_fen: int, today: date) -> None:
    """Credit's conditional UPDATE admits the amount atomically; refused, say why with the same rules."""
    if await certificates.hold(session, cert.id, amount_fen, today):
        return
    # Something changed since the read (a concurrent draw-down, a freeze).
    fresh = await certificates.as_it_is_now(session, cert.id)
    block = admission.certificate_block(fresh, today) or admission.limit_block(
        fresh.limit_fen, fresh.outstanding_fen, fresh.pending_fen, amount_fen
    )
    assert block is not None
    raise block.error


async def submit(session: AsyncSession, redis: Any, p: Principal, body: DrawdownCreate) -> DrawdownPublic:
    await ratelimit.hit(
        redis,
        f"drawdowns:{p.id.hex}",
        get_settings().drawdowns_per_day,
        86400,
        ("今日用信申请次数已达上限，请明天再试", "Too many draw-downs today"),
    )
    policy = await isolation.get_policy(session)
    _check_term(policy, body.term_months)
    household, cert = await repository.borrower(session, p.id)
    today = china_today()
    facts = await admission.facts_of(session, household, cert, policy, today) if household is not None else None
    refused = await admission.blocks(session, household, cert, policy, today, body.amount_fen, facts=facts)
    if refused:
        raise refused[0].error
    assert household is not None and cert is not None and cert.lead_bank_id is not None and facts is not None
    if facts.lapsed_fen:  # lapsed approvals on this certificate: release them first (none, nothing to sweep)
        await expire_stale(session, policy, today, cert.id)
    await _hold(session, cert, body.amount_fen, today)
    dd = Drawdown(
        certificate_id=cert.id,
        household_id=household.id,
        user_id=p.id,
        bank_id=cert.lead_bank_id,
        village_code=household.village_code,
        township_code=household.township_code,
        county_code=household.county_code,
        amount_fen=body.amount_fen,
        outstanding_fen=0,
        term_months=body.term_months,
        purpose=body.purpose,
        repayment_method=body.repayment_method,
        rate_cap_bp=cert.max_annual_rate_bp,
        status=S.submitted,
        submitted_on=today,
    )
    # The draw-down with its audit entry, event and notifications: one statement (PostgreSQL), no ORM flush.
    await repository.insert_together(session, [dd, *await _announce_submitted(session, dd, household, cert)])
    # A draw-down just submitted has no repayments: no need to read them.
    return DrawdownPublic(**public_fields(dd, [], policy, today))


async def _announce_submitted(
    session: AsyncSession, dd: Drawdown, household: Household, cert: Certificate
) -> list[SQLModel]:
    """The audit entry, the lead bank's event and notification, the farmer's notification (built by their
    domains' services, not yet written)."""
    entry = await audit.record(
        session,
        action="drawdown.submit",
        object_type="drawdown",
        object_id=dd.id,
        after={"status": dd.status, "amount_fen": dd.amount_fen, "term_months": dd.term_months},
        certificate_id=str(cert.id),
    )
    event = await emit(
        session,
        type="drawdown.submitted",
        bank_id=dd.bank_id,
        data={
            "drawdown_id": str(dd.id),
            "certificate_number": cert.number,
            "amount_fen": dd.amount_fen,
            "term_months": dd.term_months,
            "purpose": dd.purpose,
            "borrower": {
                "name": mask_name(household.real_name),
                "village_code": household.village_code,
                "stars": cert.stars,
            },
        },
    )
    to_bank = await notify(
        session,
        bank_id=dd.bank_id,
        kind="drawdown.submitted",
        title="新的用信申请",
        body=f"{mask_name(household.real_name)}申请用信 {yuan(dd.amount_fen)} 元，期限 {dd.term_months} 个月，请审批。",
        data={"drawdown_id": str(dd.id)},
    )
    to_farmer = await tell_farmer(session, dd, S.submitted, "请等待主办银行审批。")
    return [entry, event, to_bank, *([to_farmer] if to_farmer is not None else [])]


async def _mine(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID, lock: bool = False) -> Drawdown:
    q = select(Drawdown).where(Drawdown.id == drawdown_id, Drawdown.user_id == p.id)
    if lock:
        q = q.with_for_update()
    dd = (await session.execute(q)).scalar_one_or_none()
    if dd is None:
        raise NotFound()
    return dd


async def get_mine(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID) -> DrawdownPublic:
    return await present(session, await _mine(session, p, drawdown_id))


ORDER = [(Drawdown.created_at, True), (Drawdown.id, True)]


async def list_mine(
    session: AsyncSession, p: Principal, status: S | None, limit: int, cursor: str | None
) -> tuple[list[DrawdownPublic], str | None]:
    policy = await isolation.get_policy(session)
    today = china_today()
    q = select(Drawdown).where(Drawdown.user_id == p.id)
    if status is not None:
        q = q.where(status_filter(status, policy, today))
    if cursor:
        q = q.where(after([c for c in ORDER], decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(q.order_by(*order_by(ORDER)).limit(limit + 1))).scalars().all()
    items, nxt = page_of(rows, limit, lambda d: (d.created_at, d.id))
    reps = await repayments_of(session, [d.id for d in items])
    return [DrawdownPublic(**public_fields(d, reps[d.id], policy, today)) for d in items], nxt


async def cancel_mine(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID) -> DrawdownPublic:
    dd = await _mine(session, p, drawdown_id, lock=True)
    if dd.status != S.submitted:
        raise InvalidState(("只有待审批的用信申请可以取消", "Only a submitted draw-down can be cancelled"))
    await certificates.release(session, dd.certificate_id, pending=-dd.amount_fen)
    await set_status(session, dd, S.cancelled, action="drawdown.cancel", note="额度已释放。", by="borrower")
    await emit(
        session,
        type="drawdown.cancelled",
        bank_id=dd.bank_id,
        data={"drawdown_id": str(dd.id), "amount_fen": dd.amount_fen, "by": "borrower"},
    )
    await notify(
        session,
        bank_id=dd.bank_id,
        kind="drawdown.cancelled",
        title="用信申请已被借款人取消",
        body=f"一笔 {yuan(dd.amount_fen)} 元的用信申请已由借款人取消。",
        data={"drawdown_id": str(dd.id)},
    )
    return await present(session, dd)


# ---- the farmer's rights -----------------------------------------------------------------------------------


async def _of_user(session: AsyncSession, user: User) -> Any:
    """The account's draw-downs and its linked household's (also those drawn under an earlier account)."""
    household_id = await session.scalar(select(Household.id).where(Household.user_id == user.id))
    if household_id is None:
        return Drawdown.user_id == user.id
    return or_(Drawdown.user_id == user.id, Drawdown.household_id == household_id)


async def export_drawdowns(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """`GET /me/export` section: the draw-downs with repayments and plans."""
    where = await _of_user(session, user)
    rows = (
        (await session.execute(select(Drawdown).where(where).order_by(Drawdown.created_at).limit(1000))).scalars().all()
    )
    policy = await isolation.get_policy(session)
    reps = await repayments_of(session, [d.id for d in rows])
    today = china_today()
    return [DrawdownPublic(**public_fields(d, reps[d.id], policy, today)).model_dump(mode="json") for d in rows]


async def keep_drawdowns(session: AsyncSession, user: User) -> tuple[list[str], list[dict[str, str]]]:
    found = await session.scalar(select(Drawdown.id).where(await _of_user(session, user)).limit(1))
    if found is None:
        return [], []
    return [], [
        {
            "what": "drawdowns_and_repayments",
            "why": "贷款及还款记录是金融机构的业务档案，须依《反洗钱法》《征信业管理条例》等规定在业务结束后"
            "至少保存 5 年，不能因删除请求而删除",
        }
    ]


rights.register_exporter("drawdowns", export_drawdowns)
rights.register_eraser(keep_drawdowns)
