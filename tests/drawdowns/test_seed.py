"""The demo seeder on a database of its own: states, figures, one isolated village, idempotent."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.banks.models import Bank
from app.core.crypto import encrypt, index_hash
from app.core.db import Database, metadata
from app.credit import areas
from app.credit.models import Certificate, Household
from app.drawdowns.dates import china_today
from app.drawdowns.models import Drawdown
from app.drawdowns.seed import seed_drawdowns
from app.regions.models import Region
from app.seed import seed_regions
from tests.factories import make_resident_id, make_uscc


async def test_seeder(tmp_path: Path) -> None:
    import app.models  # noqa: F401 - every table

    db = Database(f"sqlite:///{tmp_path / 'seed.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with db.sessionmaker() as s:
            await seed_regions(s)
            await s.commit()
        async with db.sessionmaker() as s:
            await seed_drawdowns(s)  # no certificates: nothing
            await s.commit()
            assert (await s.execute(select(func.count()).select_from(Drawdown))).scalar_one() == 0
            bank = Bank(name="演示银行", unified_social_credit_code=make_uscc(), region_code="4117")
            s.add(bank)
            await s.flush()
            # two households per township: the isolated village should not drag its township down alone
            villages = ["411702001001", "411702001002", "411702002001", "411702002002", "411721100201", "411721100202"]
            known = {r[0] for r in (await s.execute(select(Region.code))).all()}
            villages = [v for v in villages if v in known] or sorted(c for c in known if len(c) == 12)[:6]
            for i, v in enumerate(villages * 2):
                rid = make_resident_id(v[:6], seq=i)
                h = Household(
                    id_number_enc=encrypt(rid, "household"),
                    id_number_hash=index_hash(rid + uuid.uuid4().hex, "resident_id"),
                    real_name="李四",
                    village_code=v,
                    township_code=v[:9],
                    county_code=v[:6],
                )
                s.add(h)
                await s.flush()
                s.add(
                    Certificate(
                        number=f"D{i:04d}",
                        household_id=h.id,
                        color="red",
                        stars=5,
                        limit_fen=5_000_000,
                        status="active",
                        lead_bank_id=bank.id,
                        issued_on=china_today(),
                        expires_on=china_today() + timedelta(days=900),
                    )
                )
            await s.commit()
        for _ in range(2):
            async with db.sessionmaker() as s:
                await seed_drawdowns(s)
                await s.commit()
        async with db.sessionmaker() as s:
            rows = (await s.execute(select(Drawdown.status, Drawdown.village_code))).all()
            assert sorted(r[0] for r in rows) == sorted(
                ["submitted", "approved", "disbursed", "repaid", "rejected", "overdue"]
            )
            overdue_village = next(v for st, v in rows if st == "overdue")
            assert (await areas.isolation(s, overdue_village))[0] is True
            total = (await s.execute(select(func.sum(Certificate.outstanding_fen)))).scalar_one()
            assert total == 2_000_000 - 500_000 + 1_000_000
    finally:
        await db.dispose()
