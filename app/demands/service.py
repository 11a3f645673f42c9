"""The demand library's front (融资需求库): what it offers the other domains and the entry points.

Other domains (station agents, the worker) import this module, never the library's inner modules (`posting`,
`offers`, `sweeps`, `links`, `bank`, ...):

- filing a demand for a household and accepting an offer on its behalf (station agents: `create_for_household`,
  `accept_offer`), and who a demand belongs to (`household_of_demand`);
- the worker's sweeps: `expire_due` (demands past their 30 days), `refresh_stars` (open demands' stars and match
  scores);
- the types of the API it answers with (`DemandCreate`, `DemandPublic`).

The library follows the facts of other domains by itself (`app.demands.links`: household linked, key-enterprise
list changed), subscribed in `app.wiring`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.demands.models import Demand
from app.demands.offers import accept_offer as accept_offer
from app.demands.posting import create_for_household as create_for_household
from app.demands.schemas import DemandCreate as DemandCreate
from app.demands.schemas import DemandPublic as DemandPublic
from app.demands.sweeps import expire_due as expire_due
from app.demands.sweeps import refresh_stars as refresh_stars

__all__ = [
    "DemandCreate",
    "DemandPublic",
    "accept_offer",
    "create_for_household",
    "expire_due",
    "household_of_demand",
    "refresh_stars",
]


async def household_of_demand(session: AsyncSession, demand_id: uuid.UUID) -> uuid.UUID | None:
    """The household a demand was posted for (None: no such demand, or posted without one)."""
    return await session.scalar(select(Demand.household_id).where(Demand.id == demand_id))
