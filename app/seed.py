"""Demo data: each domain registers an idempotent seeder, run in order by `python -m app.cli seed-demo`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.seed import seed_catalog
from app.cli import SEEDERS
from app.regions import service as regions
from app.regions.models import Region
from app.stations.seed import seed_stations

REGIONS_CSV = Path(__file__).resolve().parent / "data" / "regions-zhumadian.csv"


async def seed_regions(session: AsyncSession) -> None:
    rows = regions.parse_csv(REGIONS_CSV.read_text(encoding="utf-8"))
    if (await session.execute(select(func.count()).select_from(Region))).scalar_one() >= len(rows):
        return  # loaded already: a second run writes nothing, not even an audit entry
    await regions.import_rows(session, rows)


SEEDERS.append(seed_regions)
SEEDERS.append(seed_catalog)
SEEDERS.append(seed_stations)  # after the banks (seed_catalog), which host the stations


async def seed_credit(session: AsyncSession) -> None:
    from app.credit.seed import seed_credit_demo

    await seed_credit_demo(session)


SEEDERS.append(seed_credit)


async def seed_accounts(session: AsyncSession) -> None:
    """The demo accounts, with the ids of the demo banks (auth reads no bank table itself)."""
    from app.auth.seed import bank_shorts
    from app.auth.seed import seed_accounts as seed
    from app.catalog.seed import demo_bank_id

    banks = {short: bank_id for short in sorted(bank_shorts()) if (bank_id := await demo_bank_id(session, short))}
    await seed(session, banks)


SEEDERS.append(seed_accounts)

from app.drawdowns.seed import seed_drawdowns  # noqa: E402

SEEDERS.append(seed_drawdowns)

from app.demands.seed import seed_demands  # noqa: E402

SEEDERS.append(seed_demands)

from app.enterprises.seed import seed_key_enterprises  # noqa: E402

SEEDERS.append(seed_key_enterprises)  # after the demands: listing marks the key enterprise's open demand

from app.risk.seed import seed_risk  # noqa: E402

SEEDERS.append(seed_risk)  # after the draw-downs: its claim is on a written-off demo loan
