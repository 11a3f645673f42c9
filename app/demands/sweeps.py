"""The worker's sweeps over open demands: expiry after 30 days, and the household's current stars."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.dates import china_today
from app.core.db import utcnow
from app.credit.models import Household
from app.demands.common import yuan
from app.demands.lifecycle import close_offers, set_status, star_limit
from app.demands.models import Demand, DemandStatus, OfferStatus
from app.demands.scoring import PURPOSE_ZH, rescore
from app.notifications.service import notify


async def expire_due(session: AsyncSession, batch: int = 200) -> int:
    """Record demands past `expires_on` as expired, close their live offers and tell the farmer."""
    today = china_today()
    rows = (
        (
            await session.execute(
                select(Demand)
                .where(Demand.status == DemandStatus.open, col(Demand.expires_on) < today)
                .order_by(Demand.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for d in rows:
        await close_offers(session, d, OfferStatus.closed, "已因需求过期而关闭")
        await set_status(session, d, DemandStatus.expired, "demand.expire")
        if d.user_id is not None:
            await notify(
                session,
                user_id=d.user_id,
                kind="demand.expired",
                title="融资需求已过期",
                body=(
                    f"您 {yuan(d.amount_fen)} 元的{PURPOSE_ZH.get(d.purpose, '')}融资需求已满 30 天，"
                    "已自动下架；如仍需要，可以续期。"
                ),
                data={"demand_id": str(d.id)},
            )
    return len(rows)


async def refresh_stars(session: AsyncSession, batch: int = 500) -> int:
    """Open demands whose household's stars changed since posting: new stars, new match score."""
    rows = (
        await session.execute(
            select(Demand, Household.stars)
            .join(Household, Household.id == Demand.household_id)
            .where(Demand.status == DemandStatus.open, Demand.stars != Household.stars)
            .order_by(Demand.id)
            .limit(batch)
        )
    ).all()
    limits = {s: await star_limit(session, s) for s in {stars for _, stars in rows}}
    for d, stars in rows:
        d.stars = stars
        d.match_base = rescore(d, stars, limits[stars])
        d.updated_at = utcnow()
    await session.flush()
    return len(rows)
