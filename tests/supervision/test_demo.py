"""On the demo data: seeding twice changes nothing; every coverage item of a demo village equals what direct
counts over the rows give; and the demo shows the product (test_demo_shows_the_product)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.dates import china_today
from app.core.db import metadata
from app.credit import areas
from app.credit.models import Certificate, Household
from app.credit.seed import DEMO_AREA_VILLAGES, DEMO_VILLAGES
from app.drawdowns import isolation
from app.seed import SEEDERS
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


async def _seed(factory: Factory) -> None:
    import app.seed  # noqa: F401 - registers every domain's seeder

    for seeder in SEEDERS:
        async with factory.session() as s:
            await seeder(s)
            await s.commit()


async def _row_counts(factory: Factory) -> dict[str, int]:
    async with factory.session() as s:
        return {
            t.name: int((await s.execute(select(func.count()).select_from(t))).scalar_one())
            for t in metadata.sorted_tables
        }


async def test_seeding_twice_changes_nothing(factory: Factory) -> None:
    await _seed(factory)
    before = await _row_counts(factory)
    await _seed(factory)
    assert await _row_counts(factory) == before  # not even an audit entry


async def test_demo_villages_match_direct_counts(client: httpx.AsyncClient, factory: Factory) -> None:
    await _seed(factory)
    admin = factory.headers(await factory.user("admin"))
    for township in sorted({v[:9] for v in DEMO_AREA_VILLAGES}):
        r = await client.get("/admin/stats/coverage", params={"region": township}, headers=admin)
        assert r.status_code == 200, r.text
        items = {i["code"]: i for i in r.json()["items"]}
        for v in (v for v in DEMO_AREA_VILLAGES if v.startswith(township)):
            got = {k: x for k, x in items[v].items() if k not in ("code", "name")}
            async with factory.session() as s:
                expected = await by_rows(s, v)
            assert got == expected, v
            # the credit seeder's eight households per demo village, three in the credit township's villages
            assert got["households"] == (8 if v in DEMO_VILLAGES else 3)


async def _staff(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    r = await client.post("/auth/password-sessions", json={"username": username, "password": password})
    assert r.status_code == 200, (username, r.text)
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _farmer(client: httpx.AsyncClient, phone: str) -> dict[str, str]:
    """Log in as a demo farmer the way the README says: the code is in the SMS outbox file."""
    from tests.builders.auth import sms_login

    return {"Authorization": f"Bearer {(await sms_login(client, phone))['access_token']}"}


async def test_demo_shows_the_product(client: httpx.AsyncClient, factory: Factory) -> None:
    from app.auth.seed import BANK_PASSWORD, DEMO_CLIENT
    from app.stations.seed import AGENT_PASSWORD

    await _seed(factory)
    # every demo account of the README logs in with its password
    admin = await _staff(client, "admin", "Puhuitong-Ops-2026")
    await _staff(client, "regulator", "Puhuitong-Reg-2026")
    county_reg = await _staff(client, "regulator-qs", "Puhuitong-Reg-2026")
    await _staff(client, "qsrcb-admin", BANK_PASSWORD)
    qsrcb = await _staff(client, "qsrcb-staff", BANK_PASSWORD)
    zmdrcb = await _staff(client, "zmdrcb-staff", BANK_PASSWORD)
    await _staff(client, "abc-staff", BANK_PASSWORD)
    agent = await _staff(client, "agent-zhugou", AGENT_PASSWORD)
    _, client_id, secret, _ = DEMO_CLIENT
    r = await client.post(
        "/auth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    assert r.status_code == 200 and set(r.json()["scope"].split()) == {"products:write", "loans:write", "demands:write"}
    system = {"Authorization": f"Bearer {r.json()['access_token']}"}

    # draw-downs in every status at the two lead banks, an overdue and a written-off loan among them
    statuses = [
        "submitted",
        "approved",
        "disbursed",
        "repaid",
        "overdue",
        "written_off",
        "rejected",
        "cancelled",
        "expired",
    ]
    for status in statuses:
        found = []
        for headers in (qsrcb, zmdrcb):
            r = await client.get("/bank/drawdowns", params={"status": status, "limit": 100}, headers=headers)
            assert r.status_code == 200, r.text
            found += [i for i in r.json()["items"] if i["borrower"]["village_code"] in DEMO_VILLAGES]
        assert found and all(i["status"] == status for i in found), status
    r = await client.get("/bank/drawdowns", params={"status": "submitted"}, headers=system)
    assert r.status_code == 200 and r.json()["items"]
    # the lead bank sees its borrowers' identity for lending (the activation consent)
    assert not r.json()["items"][0]["borrower"]["masked"]

    # an isolated village (马庄村, ≥ 5 %), credit villages, and a credit township (朗陵街道)
    items = {i["code"]: i for i in (await client.get("/admin/stats/coverage", params={"region": "411702009"},
                                                         headers=admin)).json()["items"]}  # fmt: skip
    assert items["411702009203"]["isolated"] is True and items["411702009203"]["overdue_ratio"] >= 0.05
    zhugou = {i["code"]: i for i in (await client.get("/admin/stats/coverage", params={"region": "411725101"},
                                                          headers=county_reg)).json()["items"]}  # fmt: skip
    assert zhugou["411725101200"]["credit_villages"] == 1 and zhugou["411725101200"]["isolated"] is False
    queshan = {i["code"]: i for i in (await client.get("/admin/stats/coverage", params={"region": "411725"},
                                                           headers=county_reg)).json()["items"]}  # fmt: skip
    assert queshan["411725003"]["credit_townships"] == 1 and queshan["411725003"]["credit_villages"] == 2

    # the demo farmer: 5★ red, a lead bank, money left to draw, a loan running, an open demand with offers
    me = await _farmer(client, "+8613800000001")
    credit = (await client.get("/me/credit", headers=me)).json()
    assert credit["rating"]["stars"] == 5 and credit["certificate"]["status"] == "active"
    assert credit["certificate"]["lead_bank"] is not None and credit["certificate"]["available_fen"] > 0
    loans = (await client.get("/me/drawdowns", headers=me)).json()["items"]
    assert {d["status"] for d in loans} >= {"disbursed", "repaid"}
    mine = (await client.get("/me/demands", headers=me)).json()["items"]
    assert mine and mine[0]["status"] == "open" and mine[0]["offers"]

    # one demand accepted, with the consent recorded, and only that bank sees the farmer's name
    accepted_farmer = await _farmer(client, "+8613800000003")
    done = (await client.get("/me/demands", headers=accepted_farmer)).json()["items"]
    assert done[0]["status"] == "accepted"
    consents = (await client.get("/me/consents", headers=accepted_farmer)).json()["items"]
    assert {c["source"] for c in consents if c["active"]} == {"activation", "offer"}
    assert "accepted_bank" in {a["audience"] for a in done[0]["shared_with_banks"]["audiences"]}

    # the bank's feed: an unrated farmer's demand and a key enterprise's demand, masked
    feed = (await client.get("/bank/demands", params={"county_code": "411725", "limit": 100}, headers=qsrcb)).json()
    demo = [d for d in feed["items"] if d["village"]["code"] in DEMO_VILLAGES]
    assert any(d["rated"] is False and d["stars"] is None and d["applicant_kind"] == "household" for d in demo)
    assert any(d["key_enterprise"] for d in demo)
    assert all(d["applicant"]["masked"] for d in demo)
    keyed = (await client.get("/bank/demands", params={"key_enterprise": "true"}, headers=qsrcb)).json()["items"]
    assert keyed and all(d["key_enterprise"] for d in keyed)
    listed = (await client.get("/admin/key-enterprises", params={"county_code": "411725"}, headers=county_reg)).json()
    assert len(listed["items"]) >= 2
    firm = await _farmer(client, "+8613800000020")
    assert (await client.get("/me", headers=firm)).json()["key_enterprise"] is True
    unrated = await _farmer(client, "+8613800000010")
    assert (await client.get("/me", headers=unrated)).json()["demand_posting"]["post_as"] == "unrated_household"

    # stations in the demo villages, with an agent who serves its village's households
    r = await client.get("/stations", params={"village_code": "411725101200"})
    assert r.status_code == 200 and r.json()["items"]
    households = (await client.get("/agent/households", params={"limit": 100}, headers=agent)).json()["items"]
    assert len(households) == 8
