"""Stations: onboarding rules, public look-up by village and by distance, the host bank's own stations."""

from __future__ import annotations

import math
import uuid

import httpx
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.stations.models import Station
from app.stations.service import bounding_box, haversine_km
from tests.builders.stations import STANDARD, MakeStation, db_all, station_body
from tests.factories import Factory


async def test_admin_creates_station(client: httpx.AsyncClient, factory: Factory, admin_headers, app) -> None:
    bank = await factory.bank(["411725"])
    village = await factory.fresh_village("411725")
    body = station_body(village, bank.id, phone="+8613912340001", functions=["anti_fraud", *STANDARD, "inquiry"])
    r = await client.post("/admin/stations", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["village_code"] == village and s["host_bank_id"] == str(bank.id)
    assert s["host_bank_name"] == bank.name and s["village_name"]
    assert s["phone"] == "+8613912340001"
    # standard four first, no duplicates, each with its label
    assert s["functions"] == [*STANDARD, "anti_fraud"]
    assert s["function_details"][0] == {"code": "cash_withdrawal", "label": "小额取款"}
    assert s["distance_km"] is None
    [(entry,)] = await db_all(app, select(AuditEntry).where(AuditEntry.object_id == s["id"]))
    assert entry.action == "station.create"
    assert "王建国" not in str(entry.summary) and "13912340001" not in str(entry.summary)
    one = await client.get(f"/stations/{s['id']}")
    assert one.status_code == 200 and one.json()["id"] == s["id"]
    assert "public" in one.headers["cache-control"]
    assert (await client.get(f"/stations/{uuid.uuid4()}")).status_code == 404


async def test_functions_default_to_the_standard_four(client, factory, admin_headers) -> None:
    bank = await factory.bank(["411725"])
    body = station_body(await factory.fresh_village("411725"), bank.id)
    del body["functions"]
    r = await client.post("/admin/stations", json=body, headers=admin_headers)
    assert r.status_code == 201 and r.json()["functions"] == STANDARD


async def _refused(client, admin_headers, body) -> httpx.Response:
    r = await client.post("/admin/stations", json=body, headers=admin_headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"]
    return r


async def test_validation(client: httpx.AsyncClient, factory: Factory, admin_headers, app) -> None:
    bank = await factory.bank(["411725"])
    village = await factory.fresh_village("411725")
    ok = station_body(village, bank.id)
    fields = lambda r: {e["field"] for e in r.json()["errors"]}  # noqa: E731
    # unknown region, a township, a county, malformed
    for code in ("411725999999", "411725100", "411725", "abc"):
        r = await _refused(client, admin_headers, {**ok, "village_code": code})
        assert "village_code" in fields(r)
    for lat in (90.5, -91):
        assert "lat" in fields(await _refused(client, admin_headers, {**ok, "lat": lat}))
    assert "lng" in fields(await _refused(client, admin_headers, {**ok, "lng": 181}))
    r = await _refused(client, admin_headers, {**ok, "functions": [*STANDARD, "fortune_telling"]})
    assert any(f.startswith("functions") for f in fields(r))
    r = await _refused(client, admin_headers, {**ok, "functions": ["cash_withdrawal", "anti_fraud"]})
    assert r.json()["errors"][0]["code"] == "standard_function_missing"
    assert "phone" in fields(await _refused(client, admin_headers, {**ok, "phone": "abc-123"}))
    assert "host_bank_id" in fields(await _refused(client, admin_headers, {**ok, "host_bank_id": str(uuid.uuid4())}))
    r = await _refused(client, admin_headers, {**ok, "role": "x"})  # unknown fields are refused
    # a host bank that does not serve the village's county
    other = await factory.bank(["411702"])
    r = await _refused(client, admin_headers, {**ok, "host_bank_id": str(other.id)})
    assert r.json()["code"] == "bank_not_serving_county"
    assert await db_all(app, select(Station).where(Station.village_code == village)) == []


async def test_landline_and_community_accepted(client, factory, admin_headers, app) -> None:
    from app.regions.models import Region

    [(community,)] = await db_all(
        app, select(Region.code).where(Region.level == "community", Region.code.like("411702%")).limit(1)
    )
    bank = await factory.bank(["411702"])
    r = await client.post(
        "/admin/stations",
        json=station_body(community, bank.id, phone="0396-3821234"),
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["phone"] == "0396-3821234"


async def test_nearest_first_with_distance(client: httpx.AsyncClient, make_station: MakeStation, origin) -> None:
    lat, lng = origin
    far = await make_station(lat=lat + 0.05, lng=lng, name="远站")  # 5.56 km north
    near = await make_station(lat=lat + 0.01, lng=lng, name="近站")  # 1.11 km north
    mid = await make_station(lat=lat, lng=lng + 0.03, name="中站")
    out = await make_station(lat=lat + 0.2, lng=lng, name="界外站")  # 22 km: outside the default 10 km
    r = await client.get("/stations", params={"lat": lat, "lng": lng})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [near["id"], mid["id"], far["id"]]
    assert items[0]["distance_km"] == 1.11
    assert items[2]["distance_km"] == 5.56
    expected_mid = round(6371.0088 * 0.03 * math.pi / 180 * math.cos(math.radians(lat)), 2)
    assert abs(items[1]["distance_km"] - expected_mid) <= 0.01
    wide = (await client.get("/stations", params={"lat": lat, "lng": lng, "radius_km": 50})).json()["items"]
    assert [i["id"] for i in wide] == [near["id"], mid["id"], far["id"], out["id"]]
    # keyset pages walk the same order
    seen: list[str] = []
    cursor = None
    while True:
        params = {"lat": lat, "lng": lng, "radius_km": 50, "limit": 1}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get("/stations", params=params)).json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [i["id"] for i in wide]


async def test_radius_edge(client: httpx.AsyncClient, make_station: MakeStation, origin) -> None:
    lat, lng = origin
    edge = await make_station(lat=lat + 0.09, lng=lng)  # 10.008 km
    d = haversine_km(lat, lng, lat + 0.09, lng)
    assert 10 < d < 10.01
    r = await client.get("/stations", params={"lat": lat, "lng": lng, "radius_km": 10})
    assert r.json()["items"] == []
    r = await client.get("/stations", params={"lat": lat, "lng": lng, "radius_km": 10.01})
    assert [i["id"] for i in r.json()["items"]] == [edge["id"]]
    for bad in (0, -1, 50.01, "x"):
        r = await client.get("/stations", params={"lat": lat, "lng": lng, "radius_km": bad})
        assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert (await client.get("/stations", params={"lat": lat, "lng": lng, "radius_km": 50})).status_code == 200


def test_bounding_box_contains_the_circle() -> None:
    for lat in (0.0, 32.9, 60.0, -45.0):
        min_lat, max_lat, min_lng, max_lng = bounding_box(lat, 114.0, 50)
        for bearing in range(0, 360, 15):
            # a point 49.99 km away in every direction must fall inside the box
            b = math.radians(bearing)
            d = 49.99 / 6371.0088
            p1 = math.radians(lat)
            p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
            l2 = 114.0 + math.degrees(
                math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
            )
            assert min_lat <= math.degrees(p2) <= max_lat and min_lng <= l2 <= max_lng


async def test_village_filter(client: httpx.AsyncClient, factory: Factory, make_station: MakeStation) -> None:
    village = await factory.fresh_village("411725")
    bank = await factory.bank(["411725"])
    a = await make_station(village=village, bank=bank, name="甲站")
    b = await make_station(village=village, bank=bank, name="乙站")
    await make_station()  # another village
    r = await client.get("/stations", params={"village_code": village})
    assert r.status_code == 200
    assert {i["id"] for i in r.json()["items"]} == {a["id"], b["id"]}
    assert all(i["distance_km"] is None for i in r.json()["items"])
    r2 = await client.get("/stations", params={"village_code": village}, headers={"If-None-Match": r.headers["etag"]})
    assert r2.status_code == 304
    page = (await client.get("/stations", params={"village_code": village, "limit": 1})).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = (
        await client.get("/stations", params={"village_code": village, "limit": 1, "cursor": page["next_cursor"]})
    ).json()
    assert {page["items"][0]["id"], rest["items"][0]["id"]} == {a["id"], b["id"]} and rest["next_cursor"] is None


async def test_filter_required(client: httpx.AsyncClient) -> None:
    for params in ({}, {"lat": 32.9}, {"lng": 114.0}, {"village_code": "411725100201", "lat": 1, "lng": 1}):
        r = await client.get("/stations", params=params)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", params
    assert (await client.get("/stations", params={"lat": 91, "lng": 0})).status_code == 422
    assert (await client.get("/stations", params={"village_code": "x"})).status_code == 422


async def test_admin_patch(client, factory, admin_headers, make_station: MakeStation) -> None:
    s = await make_station()
    r = await client.patch(
        f"/admin/stations/{s['id']}", json={"opening_hours": "8:00-17:00", "lat": 33.0}, headers=admin_headers
    )
    assert r.status_code == 200 and r.json()["opening_hours"] == "8:00-17:00" and r.json()["lat"] == 33.0
    # moving it to a county its bank does not serve is refused
    other_village = await factory.fresh_village("411702")
    r = await client.patch(f"/admin/stations/{s['id']}", json={"village_code": other_village}, headers=admin_headers)
    assert r.status_code == 422 and r.json()["code"] == "bank_not_serving_county"
    bank2 = await factory.bank(["411702"])
    r = await client.patch(
        f"/admin/stations/{s['id']}",
        json={"village_code": other_village, "host_bank_id": str(bank2.id)},
        headers=admin_headers,
    )
    assert r.status_code == 200 and r.json()["village_code"] == other_village
    for field in ("name", "phone", "functions", "opening_hours", "lat"):
        r = await client.patch(f"/admin/stations/{s['id']}", json={field: None}, headers=admin_headers)
        assert r.status_code == 422, field  # found by schemathesis: a null phone used to be a 500
        assert r.json()["errors"][0]["field"] == field
    r = await client.patch(f"/admin/stations/{uuid.uuid4()}", json={"name": "x"}, headers=admin_headers)
    assert r.status_code == 404


async def test_host_bank_admin_manages_only_its_own(
    client: httpx.AsyncClient, factory: Factory, make_station: MakeStation, app
) -> None:
    bank = await factory.bank(["411725"])
    other_bank = await factory.bank(["411725"])
    mine = await make_station(bank=bank)
    theirs = await make_station(bank=other_bank)
    admin = factory.headers(await factory.user("bank_admin", bank_id=bank.id))
    staff = factory.headers(await factory.user("bank_staff", bank_id=bank.id))
    r = await client.patch(f"/bank/stations/{mine['id']}", json={"manager_name": "李秀英"}, headers=admin)
    assert r.status_code == 200 and r.json()["manager_name"] == "李秀英"
    r = await client.patch(f"/bank/stations/{theirs['id']}", json={"manager_name": "李秀英"}, headers=admin)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    [(row,)] = await db_all(app, select(Station).where(Station.id == uuid.UUID(theirs["id"])))
    assert row.manager_name == "王建国"
    # the bank may not move its station or hand it to another bank
    r = await client.patch(f"/bank/stations/{mine['id']}", json={"host_bank_id": str(other_bank.id)}, headers=admin)
    assert r.status_code == 422
    # staff read, only admins write
    r = await client.patch(f"/bank/stations/{mine['id']}", json={"opening_hours": "x"}, headers=staff)
    assert r.status_code == 403
    listed = (await client.get("/bank/stations", headers=staff)).json()
    assert [i["id"] for i in listed["items"]] == [mine["id"]]


async def test_bfla(client: httpx.AsyncClient, factory: Factory, make_station: MakeStation) -> None:
    s = await make_station()
    bank = await factory.bank(["411725"])
    farmer = factory.headers(await factory.user("farmer"))
    staff = factory.headers(await factory.user("bank_staff", bank_id=bank.id))
    bank_admin = factory.headers(await factory.user("bank_admin", bank_id=bank.id))
    regulator = factory.headers(await factory.user("regulator"))
    agent = factory.headers(await factory.user("station_agent", station_id=uuid.UUID(s["id"])))
    body = station_body(await factory.fresh_village("411725"), bank.id)
    agent_body = {"username": f"a{uuid.uuid4().hex[:8]}", "password": "Zmd-station-2026!", "role": "station_agent"}
    calls = [
        ("POST", "/admin/stations", body),
        ("PATCH", f"/admin/stations/{s['id']}", {"name": "x"}),
        ("POST", f"/admin/stations/{s['id']}/agents", agent_body),
    ]
    for method, path, json in calls:
        assert (await client.request(method, path, json=json)).status_code == 401
        for h in (farmer, staff, bank_admin, regulator, agent):
            r = await client.request(method, path, json=json, headers=h)
            assert r.status_code == 403, (method, path, r.text)
    for h in (farmer, regulator, agent):
        assert (await client.get("/bank/stations", headers=h)).status_code == 403
        assert (await client.patch(f"/bank/stations/{s['id']}", json={}, headers=h)).status_code == 403
    assert (await client.get("/bank/stations")).status_code == 401
