"""On the demo data: every coverage item of a demo village equals what direct counts over the rows give."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import SEEDERS
from app.credit import areas
from app.credit.models import Certificate, Household
from app.credit.seed import DEMO_VILLAGES
from app.drawdowns import isolation
from app.drawdowns.dates import china_today
from app.stations.models import Station
from app.supervision.service import ratio
from tests.factories import Factory


async def by_rows(session: AsyncSession, village: str) -> dict[str, Any]:
    today = china_today()
    households = await session.scalar(select(func.count()).where(Household.village_code == village))
    linked = await session.scalar(
        select(func.count()).where(Household.village_code == village, Household.user_id.is_not(None))  # type: ignore[union-attr]
    )
    holders = await session.scalar(
        select(func.count())
        .select_from(Certificate)
        .join(Household, Household.id == Certificate.household_id)
        .where(
            Household.village_code == village,
            Certificate.is_current.is_(True),  # type: ignore[attr-defined]
            Certificate.status.in_(["issued", "active", "frozen"]),  # type: ignore[attr-defined]
            Certificate.expires_on > today,
        )
    )
    station = bool(await session.scalar(select(func.count()).where(Station.village_code == village)))
    loans = await isolation.figures_for(session, village, today)
    policy = await isolation.get_policy(session)
    credit = (await areas.village_status(session, village)).is_credit
    assert households is not None and linked is not None and holders is not None
    return {
        "households": households,
        "linked_households": linked,
        "app_coverage": ratio(linked, households),
        "certificate_households": holders,
        "certificate_coverage": ratio(holders, households),
        "villages": 1,
        "villages_with_station": int(station),
        "station_coverage": float(station),
        "loan_balance_fen": loans.loan_balance_fen,
        "overdue_balance_fen": loans.overdue_balance_fen,
        "overdue_ratio": ratio(loans.overdue_balance_fen, loans.loan_balance_fen),
        "credit_villages": int(credit),
        "credit_townships": 0,
        "isolated_villages": int(loans.at_or_over(policy.village_isolation_bp)),
        "isolated": loans.at_or_over(policy.village_isolation_bp),
        "compensation_balance_fen": None,  # county items only
        "bridge_balance_fen": None,
        "fund_below_minimum": None,
    }


async def test_demo_villages_match_direct_counts(client: httpx.AsyncClient, factory: Factory) -> None:
    for seeder in SEEDERS:
        async with factory.session() as s:
            await seeder(s)
            await s.commit()
    admin = factory.headers(await factory.user("admin"))
    for township in sorted({v[:9] for v in DEMO_VILLAGES}):
        r = await client.get("/admin/stats/coverage", params={"region": township}, headers=admin)
        assert r.status_code == 200, r.text
        items = {i["code"]: i for i in r.json()["items"]}
        for v in (v for v in DEMO_VILLAGES if v.startswith(township)):
            got = {k: x for k, x in items[v].items() if k not in ("code", "name")}
            async with factory.session() as s:
                expected = await by_rows(s, v)
            assert got == expected, v
            assert got["households"] == 8  # the credit seeder's eight households per demo village
