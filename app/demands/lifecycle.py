"""One demand's owner lookup, open limit and status changes, shared by posting, offers and the worker's sweeps."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.dates import china_today
from app.core.db import utcnow
from app.core.errors import InvalidState, NotFound, TooManyOpenDemands
from app.core.messages import status_zh
from app.credit.models import CertificatePolicy
from app.demands import common
from app.demands.common import open_filter, yuan
from app.demands.models import Demand, DemandOffer, DemandStatus, OfferStatus
from app.demands.scoring import PURPOSE_ZH
from app.notifications.service import notify


async def star_limit(session: AsyncSession, stars: int) -> int:
    if stars < 1:
        return 0
    policy = await session.get(CertificatePolicy, stars)
    return policy.limit_fen if policy else 0


async def count_open(session: AsyncSession, *, household_id: uuid.UUID | None, user_id: uuid.UUID | None) -> int:
    q = select(func.count()).select_from(Demand).where(open_filter(china_today()))
    q = q.where(Demand.household_id == household_id) if household_id else q.where(Demand.user_id == user_id)
    return int((await session.execute(q)).scalar_one())


def too_many() -> TooManyOpenDemands:
    return TooManyOpenDemands(
        (
            f"您已有 {common.MAX_OPEN} 条进行中的融资需求，请先撤回或等待其结束后再发布",
            f"At most {common.MAX_OPEN} open demands",
        ),
        extra={"max_open": common.MAX_OPEN},
    )


async def mine(
    session: AsyncSession,
    demand_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None = None,
    household_id: uuid.UUID | None = None,
    lock: bool = False,
) -> Demand:
    if user_id is None and household_id is None:
        raise NotFound()
    q = select(Demand).where(Demand.id == demand_id)
    q = q.where(Demand.user_id == user_id) if user_id is not None else q.where(Demand.household_id == household_id)
    if lock:
        q = q.with_for_update()
    d = (await session.execute(q)).scalar_one_or_none()
    if d is None:
        raise NotFound()
    return d


def not_open(d: Demand, status: str) -> InvalidState:
    zh = status_zh("demand", status)
    return InvalidState(
        (f"该融资需求{zh}，不能执行此操作", f"The demand is {status}"), extra={"current_status": status}
    )


async def pending_offers(session: AsyncSession, demand_id: uuid.UUID) -> list[DemandOffer]:
    return list(
        (
            await session.execute(
                select(DemandOffer)
                .where(DemandOffer.demand_id == demand_id, DemandOffer.status == OfferStatus.pending)
                .order_by(DemandOffer.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )


async def close_offers(
    session: AsyncSession, d: Demand, status: OfferStatus, why: str, keep: uuid.UUID | None = None
) -> None:
    now = utcnow()
    for o in await pending_offers(session, d.id):
        if o.id == keep:
            continue
        o.status, o.updated_at = status, now
        await notify(
            session,
            bank_id=o.bank_id,
            kind=f"offer.{status}",
            title="报价未被采纳" if status == OfferStatus.declined else "融资需求已关闭",
            body=f"您对 {yuan(d.amount_fen)} 元{PURPOSE_ZH.get(d.purpose, '')}需求的报价{why}。",
            data={"demand_id": str(d.id), "offer_id": str(o.id), "status": status},
        )


async def set_status(session: AsyncSession, d: Demand, status: DemandStatus, action: str, **extra: Any) -> None:
    before = {"status": d.status, "expires_on": d.expires_on}
    d.status = status
    d.updated_at = utcnow()
    if status != DemandStatus.open:
        d.closed_at = d.updated_at
    await session.flush()
    await audit.record(
        session,
        action=action,
        object_type="demand",
        object_id=d.id,
        before=before,
        after={"status": d.status, "expires_on": d.expires_on},
        **extra,
    )
