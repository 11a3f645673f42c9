"""Coverage statistics through HTTP, checked against numbers computed by hand from data the tests create."""

from __future__ import annotations

import csv
import io
import math
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from app.regions.models import Region
from app.supervision import service
from app.supervision.models import CoverageSnapshot
from tests.builders.supervision import Stats, today
from tests.factories import Factory


def item(code: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "code": code,
        "households": 0,
        "linked_households": 0,
        "app_coverage": None,
        "certificate_households": 0,
        "certificate_coverage": None,
        "villages": 1,
        "villages_with_station": 0,
        "station_coverage": 0.0,
        "loan_balance_fen": 0,
        "overdue_balance_fen": 0,
        "overdue_ratio": None,
        "credit_villages": 0,
        "credit_townships": 0,
        "isolated_villages": 0,
        "isolated": False,
        # risk control figures are on county items only
        "compensation_balance_fen": None,
        "bridge_balance_fen": None,
        "fund_below_minimum": None,
    }
    base.update(kw)
    return base


def without_name(i: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(i["name"], str) and i["name"]
    return {k: v for k, v in i.items() if k != "name"}


async def build(stats: Stats) -> dict[str, Any]:
    """A township: V1 a credit village at exactly 70 %, V2 just below (9/13) and isolated at exactly 5 %, V3 with
    an official household count and a loan past due, enough one-household credit villages for a credit township
    (≥ 65 %), the rest empty."""
    t, villages = await stats.fresh_township()
    k = len(villages)
    need = math.ceil(0.65 * k)
    v1, v2, v3 = villages[:3]
    extra = villages[3 : 3 + need - 2]
    empty = villages[3 + need - 2 :]

    ids1 = await stats.households(v1, ["96"] * 8 + ["50"] * 2)
    await stats.rerate(v1, ids1[7], "50")  # loses its credit status: the certificate is revoked
    for i in ids1[:3]:
        await stats.link(i)
    r = await stats.client.post(
        f"/admin/households/{await stats.household_id(ids1[2])}/unlink", headers=await stats.admin()
    )
    assert r.status_code == 200, r.text
    ids2 = await stats.households(v2, ["96"] * 9 + ["50"] * 4)
    await stats.link(ids2[0])
    ids3 = await stats.households(v3, ["96"])
    for v in extra:
        await stats.households(v, ["96"])

    await stats.station(v1)
    await stats.station(v1)
    await stats.station(v3)
    await stats.loans(v1, 1_000_000, 40_000)
    await stats.loans(v2, 200_000, 10_000)
    await stats.loans(v3, 480_000)
    await stats.past_due_loan(v3, ids3[0], 20_000)
    await stats.official(v3, 50)
    return {"t": t, "villages": villages, "v1": v1, "v2": v2, "v3": v3, "extra": extra, "empty": empty}


async def test_coverage_items_match_hand_computed_figures(stats: Stats) -> None:
    d = await build(stats)
    t, v1, v2, v3 = d["t"], d["v1"], d["v2"], d["v3"]
    body = await stats.coverage(t)
    assert body["region"] == {"code": t, "name": body["region"]["name"], "level": "township"}
    got = {i["code"]: without_name(i) for i in body["items"]}
    assert set(d["villages"]) <= set(got)

    assert got[v1] == item(
        v1, households=10, linked_households=2, app_coverage=0.2, certificate_households=7, certificate_coverage=0.7,
        villages_with_station=1, station_coverage=1.0, loan_balance_fen=1_000_000, overdue_balance_fen=40_000,
        overdue_ratio=0.04, credit_villages=1,
    )  # fmt: skip
    assert got[v2] == item(
        v2, households=13, linked_households=1, app_coverage=0.0769, certificate_households=9,
        certificate_coverage=0.6923, loan_balance_fen=200_000, overdue_balance_fen=10_000, overdue_ratio=0.05,
        isolated_villages=1, isolated=True,
    )  # fmt: skip
    assert got[v3] == item(
        v3, households=50, app_coverage=0.0, certificate_households=1, certificate_coverage=0.02,
        villages_with_station=1, station_coverage=1.0, loan_balance_fen=500_000, overdue_balance_fen=20_000,
        overdue_ratio=0.04, credit_villages=1,
    )  # fmt: skip
    for v in d["extra"]:
        assert got[v] == item(
            v, households=1, app_coverage=0.0, certificate_households=1, certificate_coverage=1.0, credit_villages=1
        )
    for v in d["empty"]:
        assert got[v] == item(v)  # empty denominators → null ratios

    # The township as an item of its county: sums of its villages, a credit township, isolated at ≥ 3 %.
    n_extra, k = len(d["extra"]), len(d["villages"])
    county = await stats.coverage(t[:6])
    assert county["region"]["level"] == "county"
    township = without_name({i["code"]: i for i in county["items"]}[t])
    hh = 10 + 13 + 50 + n_extra
    certs = 7 + 9 + 1 + n_extra
    assert township == {
        "code": t,
        "households": hh,
        "linked_households": 3,
        "app_coverage": service.ratio(3, hh),
        "certificate_households": certs,
        "certificate_coverage": service.ratio(certs, hh),
        "villages": k,
        "villages_with_station": 2,
        "station_coverage": service.ratio(2, k),
        "loan_balance_fen": 1_700_000,
        "overdue_balance_fen": 70_000,
        "overdue_ratio": 0.0412,
        "credit_villages": 2 + n_extra,
        "credit_townships": 1,
        "isolated_villages": 1,
        "isolated": True,
        "compensation_balance_fen": None,
        "bridge_balance_fen": None,
        "fund_below_minimum": None,
    }
    assert (2 + n_extra) / k >= 0.65

    # The township's own official count takes precedence over its villages' sum.
    await stats.official(t, 999)
    township = {i["code"]: i for i in (await stats.coverage(t[:6]))["items"]}[t]
    assert township["households"] == 999 and township["app_coverage"] == service.ratio(3, 999)

    # CSV: the same table, UTF-8 with a BOM, a header row, null as empty.
    r = await stats.client.get("/admin/stats/coverage.csv", params={"region": t}, headers=await stats.admin())
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == list(body["items"][0].keys())
    assert len(rows) == len(body["items"]) + 1
    for row, json_item in zip(rows[1:], body["items"], strict=True):
        assert row == [
            "" if v is None else ("true" if v is True else "false" if v is False else str(v))
            for v in json_item.values()
        ]

    # A village has no children.
    assert (await stats.coverage(v1))["items"] == []

    # Certificates are held until their expiry date: after it, the same counters say nobody holds one.
    async with stats.factory.session() as s:
        regions = list((await s.execute(select(Region).where(Region.code == v1))).scalars())
        [later] = await service.compute(s, t, regions, today() + timedelta(days=20 * 365))
        [now] = await service.compute(s, t, regions)
    assert (later.certificate_households, now.certificate_households) == (0, 7)


async def test_whole_city_by_default_for_admin(stats: Stats) -> None:
    body = await stats.coverage("4117")
    r = await stats.client.get("/admin/stats/coverage", headers=await stats.admin())
    assert r.status_code == 200 and r.json()["region"]["code"] == "4117"
    codes = [i["code"] for i in body["items"]]
    assert len(codes) == 11 and all(len(c) == 6 for c in codes)
    assert all(i["isolated"] is False for i in body["items"])  # counties are never isolated themselves
    assert set(body["items"][0]) == {
        "code", "name", "households", "linked_households", "app_coverage", "certificate_households",
        "certificate_coverage", "villages", "villages_with_station", "station_coverage", "loan_balance_fen",
        "overdue_balance_fen", "overdue_ratio", "credit_villages", "credit_townships", "isolated_villages", "isolated",
        "compensation_balance_fen", "bridge_balance_fen", "fund_below_minimum",
    }  # fmt: skip
    async with stats.factory.session() as s:
        villages = await s.scalar(
            select(func.count()).select_from(Region).where(Region.level == "village", Region.code.startswith("4117"))  # type: ignore[attr-defined]
        )
    assert villages >= 2423 and sum(i["villages"] for i in body["items"]) == villages


async def test_household_moving_village_moves_its_counts(stats: Stats) -> None:
    x = await stats.factory.fresh_village("411723")
    y = await stats.factory.fresh_village("411726")
    [rid] = await stats.households(x, ["96"])
    await stats.link(rid)
    before = await stats.item(x[:9], x)
    assert (before["households"], before["linked_households"], before["certificate_households"]) == (1, 1, 1)
    await stats.rerate(y, rid, "96")
    after_x, after_y = await stats.item(x[:9], x), await stats.item(y[:9], y)
    assert (after_x["households"], after_x["linked_households"], after_x["certificate_households"]) == (0, 0, 0)
    assert (after_y["households"], after_y["linked_households"], after_y["certificate_households"]) == (1, 1, 1)


async def test_regulator_sees_only_its_region(stats: Stats, factory: Factory, client: httpx.AsyncClient) -> None:
    village = await factory.fresh_village("411727")
    reg = factory.headers(await factory.user("regulator", region_code="411727"))
    r = await client.get("/admin/stats/coverage", headers=reg)
    assert r.status_code == 200 and r.json()["region"]["code"] == "411727"
    assert (await client.get("/admin/stats/coverage", params={"region": village[:9]}, headers=reg)).status_code == 200
    for outside in ("411702", "4117", "41", "411702001"):
        for path in ("/admin/stats/coverage", "/admin/stats/coverage.csv", "/admin/stats/snapshots"):
            r = await client.get(path, params={"region": outside}, headers=reg)
            assert r.status_code == 404, (path, outside)
            assert r.json()["code"] == "not_found"
    city_reg = factory.headers(await factory.user("regulator", region_code="4117"))
    assert (await client.get("/admin/stats/coverage", params={"region": "411702"}, headers=city_reg)).status_code == 200
    admin = await stats.admin()
    assert (await client.get("/admin/stats/coverage", params={"region": "411799"}, headers=admin)).status_code == 404
    r = await client.get("/admin/stats/coverage", params={"region": "41x"}, headers=admin)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"


async def test_other_roles_are_refused(factory: Factory, client: httpx.AsyncClient) -> None:
    bank = await factory.bank()
    farmer = factory.headers(await factory.user("farmer"))
    bank_admin = factory.headers(await factory.user("bank_admin", bank_id=bank.id))
    bank_staff = factory.headers(await factory.user("bank_staff", bank_id=bank.id))
    for path in ("/admin/stats/coverage", "/admin/stats/coverage.csv", "/admin/stats/snapshots"):
        for h in (farmer, bank_admin, bank_staff):
            r = await client.get(path, headers=h)
            assert r.status_code == 403 and r.json()["code"] == "forbidden", path
        r = await client.get(path)
        assert r.status_code == 401 and r.json()["code"] == "token_invalid", path


async def test_snapshot_is_idempotent_per_day(stats: Stats, client: httpx.AsyncClient) -> None:
    t, villages = await stats.fresh_township()
    await stats.households(villages[0], ["96", "50"])
    day = today()

    async def snap() -> int:
        async with stats.factory.session() as s:
            n = await service.take_snapshot(s)
            await s.commit()
            return n

    n = await snap()
    async with stats.factory.session() as s:
        expected = await s.scalar(
            select(func.count())
            .select_from(Region)
            .where(Region.code.startswith("4117"), Region.level.in_(["city", "county", "township"]))  # type: ignore[attr-defined]
        )
    assert n == expected and n >= 1 + 11 + 208  # the city, its counties (with the development zone), townships
    await stats.station(villages[0])
    assert await snap() == n
    async with stats.factory.session() as s:
        count = await s.scalar(
            select(func.count()).select_from(CoverageSnapshot).where(CoverageSnapshot.snapshot_date == day)
        )
    assert count == n

    admin = await stats.admin()
    r = await client.get(
        "/admin/stats/snapshots", params={"region": t[:6], "since": day.isoformat(), "limit": 100}, headers=admin
    )
    assert r.status_code == 200, r.text
    rows = [x for x in r.json()["items"] if x["snapshot_date"] == day.isoformat()]
    codes = [x["code"] for x in rows]
    assert t[:6] in codes and t in codes and len(codes) == len(set(codes))
    mine = next(x for x in rows if x["code"] == t)
    live = await stats.item(t[:6], t)
    assert {k: v for k, v in mine.items() if k in live} == live  # the second run's figures (with the station)
    assert mine["villages_with_station"] == 1 and mine["level"] == "township" and mine["parent_code"] == t[:6]

    # Paging walks every row once; `until` before today excludes them.
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"region": t[:6], "since": day.isoformat(), "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/admin/stats/snapshots", params=params, headers=admin)).json()
        seen += [(x["snapshot_date"], x["code"]) for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and set(codes) <= {c for _, c in seen}
    r = await client.get(
        "/admin/stats/snapshots",
        params={"region": t[:6], "until": (day - timedelta(days=1)).isoformat()},
        headers=admin,
    )
    assert all(x["snapshot_date"] < day.isoformat() for x in r.json()["items"])
