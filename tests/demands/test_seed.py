"""The demo seeder on a database of its own: open demands in the demo villages, offers from demo banks,
nothing doubled on a second run."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from app.core.db import Database, metadata
from app.demands.models import Demand, DemandOffer


async def test_seeder(tmp_path: Path) -> None:
    import app.models  # noqa: F401 - every table
    from app.catalog.seed import seed_catalog
    from app.credit.seed import seed_credit_demo
    from app.demands.seed import seed_demands
    from app.seed import seed_regions

    db = Database(f"sqlite:///{tmp_path / 'seed.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        for _ in range(2):
            for seeder in (seed_regions, seed_catalog, seed_credit_demo, seed_demands):
                async with db.sessionmaker() as s:
                    await seeder(s)
                    await s.commit()
            async with db.sessionmaker() as s:
                demands = (await s.execute(select(func.count()).select_from(Demand))).scalar_one()
                offers = (await s.execute(select(func.count()).select_from(DemandOffer))).scalar_one()
                assert demands == 6 and offers >= 3
                assert (await s.execute(select(func.count()).where(Demand.status != "open"))).scalar_one() == 0
    finally:
        await db.dispose()
