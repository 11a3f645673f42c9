"""Demo data: each domain's idempotent seeder, in the order `python -m app.cli seed-demo` runs them (`SEEDERS`).

The top of the layers (`.importlinter`): it may import every domain, so seeding that spans domains (the demo
accounts need the demo banks' ids) is composed here, never in a lower domain's seeder. `app.cli` imports this
module, never the other way round.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.seed import seed_catalog
from app.demands.seed import seed_demands
from app.drawdowns.seed import seed_drawdowns
from app.enterprises.seed import seed_key_enterprises
from app.regions import service as regions
from app.regions.models import Region
from app.risk.seed import seed_risk
from app.stations.seed import seed_stations

REGIONS_CSV = Path(__file__).resolve().parent / "data" / "regions-zhumadian.csv"


async def seed_regions(session: AsyncSession) -> None:
    rows = regions.parse_csv(REGIONS_CSV.read_text(encoding="utf-8"))
    if (await session.execute(select(func.count()).select_from(Region))).scalar_one() >= len(rows):
        return  # loaded already: a second run writes nothing, not even an audit entry
    await regions.import_rows(session, rows)


async def seed_credit(session: AsyncSession) -> None:
    from app.credit.seed import seed_credit_demo

    await seed_credit_demo(session)


async def seed_accounts(session: AsyncSession) -> None:
    """The demo accounts, with the ids of the demo banks (auth reads no bank table itself)."""
    from app.auth.seed import bank_shorts
    from app.auth.seed import seed_accounts as seed
    from app.catalog.seed import demo_bank_id

    banks = {short: bank_id for short in sorted(bank_shorts()) if (bank_id := await demo_bank_id(session, short))}
    await seed(session, banks)


SEEDERS: list[Callable[[Any], Awaitable[None]]] = [
    seed_regions,
    seed_catalog,
    seed_stations,  # after the banks (seed_catalog), which host the stations
    seed_credit,
    seed_accounts,
    seed_drawdowns,
    seed_demands,
    seed_key_enterprises,  # after the demands: listing marks the key enterprise's open demand
    seed_risk,  # after the draw-downs: its claim is on a written-off demo loan
]
