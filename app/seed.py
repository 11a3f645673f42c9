"""Demo data: each domain registers an idempotent seeder, run in order by `python -m app.cli seed-demo`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import SEEDERS
from app.regions import service as regions
from app.stations.seed import seed_stations

REGIONS_CSV = Path(__file__).resolve().parent / "data" / "regions-zhumadian.csv"


async def seed_regions(session: AsyncSession) -> None:
    rows = regions.parse_csv(REGIONS_CSV.read_text(encoding="utf-8"))
    await regions.import_rows(session, rows)


SEEDERS.append(seed_regions)

SEEDERS.append(seed_stations)
