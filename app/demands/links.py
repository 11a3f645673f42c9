"""What changes an applicant's facts after posting, kept on its demands in the same transaction:

- an account that posted as an unrated household links its household (`PATCH /me`, or a ratings import that
  brings a household with that resident ID and name): its demands get the household, its stars and a new
  match score, and banks see them as rated;
- an enterprise goes on or off its county's key-enterprise list, or changes its profile's code: its open
  demands are re-marked `key_enterprise` (ranked first among equal scores).

Subscribed to `credit.household_linked` (`app.core.hooks`) and listening to `app.enterprises.service` when this
module is imported.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import EnterpriseProfile
from app.catalog.service import TARGET_BITS
from app.core import audit, hooks
from app.core.db import utcnow
from app.credit.models import Household
from app.demands.lifecycle import star_limit
from app.demands.models import Demand, DemandStatus
from app.demands.scoring import rescore
from app.enterprises import service as key_enterprises


@hooks.subscribe("credit.household_linked")
async def attach_household(session: AsyncSession, user_id: uuid.UUID, household: Household) -> None:
    rows = (
        (
            await session.execute(
                select(Demand)
                .where(
                    Demand.user_id == user_id,
                    col(Demand.household_id).is_(None),
                    col(Demand.enterprise_id).is_(None),
                )
                .order_by(Demand.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return
    limit = await star_limit(session, household.stars)
    now = utcnow()
    for d in rows:
        d.household_id = household.id
        if household.is_registered_poor:
            d.target_mask |= TARGET_BITS["registered_poor"]
        if d.status == DemandStatus.open:
            d.stars = household.stars
            d.match_base = rescore(d, household.stars, limit)  # now verified through the household
        d.updated_at = now
    await session.flush()
    await audit.record(
        session,
        action="demand.household_linked",
        object_type="user",
        object_id=user_id,
        after={"household_id": str(household.id), "demands": [str(d.id) for d in rows]},
    )


async def mark_key_enterprise(session: AsyncSession, uscc_hash: str) -> None:
    profiles = list(
        (await session.execute(select(EnterpriseProfile.id).where(EnterpriseProfile.uscc_hash == uscc_hash))).scalars()
    )
    if not profiles:
        return
    counties = (await key_enterprises.counties_of(session, [uscc_hash])).get(uscc_hash, set())
    rows = (
        (
            await session.execute(
                select(Demand)
                .where(col(Demand.enterprise_id).in_(profiles), Demand.status == DemandStatus.open)
                .order_by(Demand.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    now = utcnow()
    for d in rows:
        listed = d.county_code in counties
        if d.key_enterprise != listed:
            d.key_enterprise, d.updated_at = listed, now
    await session.flush()


key_enterprises.on_change(mark_key_enterprise)
