"""The demo seeder, on a database of its own (it writes real villages, which the shared test database hands
out to other tests)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import func, select

from app.auth.models import User
from app.banks.models import Bank, BankCounty
from app.core.db import Database, metadata
from app.core.identity import normalize_contact_phone
from app.regions.models import Region
from app.seed import seed_regions
from app.stations.functions import STANDARD
from app.stations.models import Station
from app.stations.seed import seed_stations


async def test_seed_is_idempotent_and_needs_banks() -> None:
    db = Database(f"sqlite:///{Path(tempfile.mkdtemp()) / 'seed.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with db.sessionmaker() as s:
            await seed_regions(s)
            await seed_stations(s)  # no banks yet: no stations
            await s.commit()
            assert (await s.execute(select(func.count()).select_from(Station))).scalar_one() == 0
            bank = Bank(name="确山农商银行", unified_social_credit_code="91411700MA00000001", region_code="411725")
            s.add(bank)
            await s.flush()
            s.add(BankCounty(bank_id=bank.id, county_code="411725"))
            await s.commit()
        for _ in range(2):
            async with db.sessionmaker() as s:
                await seed_stations(s)
                await s.commit()
        async with db.sessionmaker() as s:
            stations = (await s.execute(select(Station))).scalars().all()
            rendian = (
                await s.execute(select(func.count()).select_from(Region).where(Region.parent_code == "411725102"))
            ).scalar_one()
            agents = (await s.execute(select(User).where(User.role == "station_agent"))).scalars().all()
            agent_villages = {
                (await s.get(Station, a.station_id)).village_code  # type: ignore[union-attr]
                for a in agents
            }
        # every village of 任店镇 once and the three demo villages of 竹沟镇; 驿城区 has no bank serving it here
        rendian_stations = [st for st in stations if st.village_code.startswith("411725102")]
        assert len(rendian_stations) == rendian == 25
        assert sorted(st.village_code for st in stations if st.village_code.startswith("411725101")) == [
            "411725101200",
            "411725101201",
            "411725101202",
        ]
        assert len(stations) == 28
        for st in stations:
            assert st.host_bank_id == bank.id
            assert 32.7 < st.lat < 32.9 and 113.7 < st.lng < 114.15
            assert st.functions[:4] == list(STANDARD)
            assert normalize_contact_phone(st.phone) == st.phone
            assert st.name.endswith("普惠金融服务站") and "确山县" in st.address
        assert "确山县任店镇" in rendian_stations[0].address
        # the demo agents, one per demo station named in the seeder, once
        assert agent_villages == {"411725101200", "411725101201"} and len(agents) == 2
    finally:
        await db.dispose()
