"""Demo stations: every village of 任店镇 (确山县), ten villages of 诸市镇 (驿城区) and the three demo villages of
竹沟镇 (确山县), hosted by banks the banks seeder created (none when no bank serves the county), and a station
agent 协管员 at the stations of the demo villages (created through the stations service, as `POST
/admin/stations/{id}/agents` does). Idempotent: a village that has a station, a username that exists, are left
alone."""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import User
from app.banks.models import Bank, BankCounty
from app.regions.models import Region
from app.regions.service import display_name
from app.stations import service
from app.stations.functions import STANDARD, StationFunction
from app.stations.models import Station
from app.stations.schemas import AgentCreate

# (township code, how many of its villages, approximate centre lat, lng)
DEMO_TOWNSHIPS: tuple[tuple[str, int | None, float, float], ...] = (
    ("411725102", None, 32.775, 114.085),  # 确山县任店镇: every village
    ("411702103", 10, 32.945, 114.115),  # 驿城区诸市镇
    ("411725101", 3, 32.838, 113.797),  # 确山县竹沟镇: 竹沟村, 西李楼村, 杨庄村 (the demo farmers' villages)
)
AGENT_PASSWORD = "Puhuitong-Agent-2026"
# (username, village whose station it serves, real name)
AGENTS = (
    ("agent-zhugou", "411725101200", "李协管"),
    ("agent-xililou", "411725101201", "王协管"),
)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ("建国", "秀英", "桂兰", "志强", "玉梅", "国庆", "红霞", "卫东", "春华", "德明", "凤英", "海涛")
EXTRAS = [f.value for f in StationFunction if f.value not in STANDARD]


def _h(code: str, salt: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{salt}:{code}".encode()).digest()[:8], "big")


async def seed_stations(session: AsyncSession) -> None:
    names = {
        code: name
        for code, name in (
            await session.execute(select(Region.code, Region.name).where(col(Region.level).in_(("county", "township"))))
        ).all()
    }
    have = set((await session.execute(select(Station.village_code))).scalars().all())
    for township, count, lat0, lng0 in DEMO_TOWNSHIPS:
        county = township[:6]
        banks = (
            (
                await session.execute(
                    select(Bank.id)
                    .join(BankCounty, BankCounty.bank_id == Bank.id)
                    .where(BankCounty.county_code == county, col(Bank.is_active).is_(True))
                    .order_by(Bank.name, Bank.id)
                )
            )
            .scalars()
            .all()
        )
        if not banks:
            continue
        stmt = (
            select(Region.code, Region.name)
            .where(Region.parent_code == township, Region.level == "village")
            .order_by(Region.code)
        )
        if count is not None:
            stmt = stmt.limit(count)
        for i, (code, official) in enumerate((await session.execute(stmt)).all()):
            if code in have:
                continue
            short = display_name(official)
            extras = [e for k, e in enumerate(EXTRAS) if (_h(code, "x") >> k) & 1][:3]
            session.add(
                Station(
                    name=f"{short}普惠金融服务站",
                    village_code=code,
                    address=f"河南省驻马店市{names.get(county, '')}{names.get(township, '')}{official}院内",
                    lat=round(lat0 + (_h(code, "lat") % 8001 - 4000) / 100000, 6),
                    lng=round(lng0 + (_h(code, "lng") % 8001 - 4000) / 100000, 6),
                    host_bank_id=banks[i % len(banks)],
                    manager_name=SURNAMES[_h(code, "s") % len(SURNAMES)] + GIVEN[_h(code, "g") % len(GIVEN)],
                    phone=f"0396-{(7200000 if county == '411725' else 2800000) + _h(code, 'p') % 100000}",
                    opening_hours="周一至周日 8:00-18:00",
                    functions=[*STANDARD, *extras],
                )
            )
    await session.flush()
    for username, village, real_name in AGENTS:
        station_id = await session.scalar(select(Station.id).where(Station.village_code == village))
        if station_id is None or await session.scalar(select(User.id).where(User.username == username)):
            continue
        body = AgentCreate(username=username, password=AGENT_PASSWORD, real_name=real_name, phone=None)
        await service.create_agent(session, station_id, body)
