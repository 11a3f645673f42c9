"""The demo seeder on a database of its own: demands in the demo villages (an unrated farmer's and an
enterprise's among them), offers from demo banks, one accepted with its consent, nothing doubled on a second run."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from app.consents.models import Consent
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
                # six rated households, an unrated farmer, an enterprise; one offer accepted
                assert demands == 8 and offers >= 3
                statuses = dict((await s.execute(select(Demand.status, func.count()).group_by(Demand.status))).all())
                assert statuses == {"open": 7, "accepted": 1}
                kinds = sorted(
                    (d.applicant_kind, d.household_id is not None) for d in (await s.execute(select(Demand))).scalars()
                )
                assert kinds == [("enterprise", False), ("household", False)] + [("household", True)] * 6
                accepted = (await s.execute(select(DemandOffer).where(DemandOffer.status == "accepted"))).scalars()
                offer = accepted.one()
                consent = (await s.execute(select(Consent).where(Consent.source_id == offer.id))).scalar_one()
                assert consent.bank_id == offer.bank_id and consent.withdrawn_at is None
    finally:
        await db.dispose()
