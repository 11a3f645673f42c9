"""Key-enterprise lists 名录库 (issue 14 item 6): PUT/DELETE/GET by admin or the county's regulator, GB 32100 codes,
audit; `key_enterprise` on /me and on demands; `GET /bank/demands?key_enterprise=true`; ranked first among equal
match scores."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from app.auth.models import User
from app.core.audit import AuditEntry
from app.demands.models import Demand
from tests.builders.demands import Demands, demand_body
from tests.factories import Factory, make_uscc


async def _enterprise_user(
    client: httpx.AsyncClient, factory: Factory, village: str, code: str, name: str = "确山县示范农机合作社"
) -> tuple[User, dict[str, str]]:
    user = await factory.user("farmer", household_type="small_business")
    headers = factory.headers(user)
    r = await client.patch("/me", json={"village_code": village}, headers=headers)
    assert r.status_code == 200, r.text
    r = await client.put("/me/enterprise", json={"name": name, "unified_social_credit_code": code}, headers=headers)
    assert r.status_code == 200, r.text
    return user, headers


def _body(county: str, name: str = "驻马店示范食品有限公司", note: str = "农业产业化龙头企业") -> dict[str, Any]:
    return {"name": name, "county_code": county, "note": note}


async def test_put_get_delete_with_validation_and_audit(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = factory.headers(await factory.user("admin"))
    code = make_uscc()
    r = await client.put(f"/admin/key-enterprises/{code.lower()}", json=_body("411725"), headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["unified_social_credit_code"] == code and r.json()["county_name"] == "确山县"
    r = await client.put(f"/admin/key-enterprises/{code}", json=_body("411725"), headers=admin)
    assert r.status_code == 200  # the same body again changes nothing
    r = await client.put(f"/admin/key-enterprises/{code}", json=_body("411725", note="省级重点"), headers=admin)
    assert r.status_code == 200 and r.json()["note"] == "省级重点"

    bad = code[:17] + ("0" if code[17] != "0" else "1")
    r = await client.put(f"/admin/key-enterprises/{bad}", json=_body("411725"), headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "unified_social_credit_code"
    for county in ("411725101", "419999", "411725101200"):
        r = await client.put(f"/admin/key-enterprises/{make_uscc()}", json=_body(county), headers=admin)
        assert r.status_code == 422, (county, r.text)
    r = await client.put(f"/admin/key-enterprises/{make_uscc()}", json={**_body("411725"), "x": 1}, headers=admin)
    assert r.status_code == 422

    listed = await client.get("/admin/key-enterprises", params={"county_code": "411725", "limit": 100}, headers=admin)
    assert code in {x["unified_social_credit_code"] for x in listed.json()["items"]}

    r = await client.delete(f"/admin/key-enterprises/{code}", headers=admin)
    assert r.status_code == 204
    assert (await client.delete(f"/admin/key-enterprises/{code}", headers=admin)).status_code == 404
    async with factory.session() as s:
        actions = (
            (
                await s.execute(
                    select(AuditEntry.action).where(AuditEntry.object_id == code).order_by(AuditEntry.created_at)
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["key_enterprise.add", "key_enterprise.update", "key_enterprise.remove"]


async def test_regulators_keep_their_own_counties(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = factory.headers(await factory.user("admin"))
    qs = factory.headers(await factory.user("regulator", region_code="411725"))
    city = factory.headers(await factory.user("regulator", region_code="4117"))
    theirs = make_uscc()
    assert (
        await client.put(f"/admin/key-enterprises/{theirs}", json=_body("411702"), headers=admin)
    ).status_code == 201
    mine = make_uscc()
    assert (await client.put(f"/admin/key-enterprises/{mine}", json=_body("411725"), headers=qs)).status_code == 201

    r = await client.put(f"/admin/key-enterprises/{make_uscc()}", json=_body("411702"), headers=qs)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    for method in ("PUT", "DELETE"):
        r = await client.request(
            method, f"/admin/key-enterprises/{theirs}", json=_body("411725") if method == "PUT" else None, headers=qs
        )
        assert r.status_code == 404, (method, r.text)
    listed = (await client.get("/admin/key-enterprises", params={"limit": 100}, headers=qs)).json()["items"]
    assert {x["county_code"] for x in listed} == {"411725"}
    r = await client.get("/admin/key-enterprises", params={"county_code": "411702"}, headers=qs)
    assert r.status_code == 200 and r.json()["items"] == []
    seen = await client.get("/admin/key-enterprises", params={"county_code": "411702", "limit": 100}, headers=city)
    assert theirs in {x["unified_social_credit_code"] for x in seen.json()["items"]}
    async with factory.session() as s:
        from app.enterprises.models import KeyEnterprise

        row = await s.get(KeyEnterprise, theirs)
        assert row is not None and row.county_code == "411702"


async def test_keyset_walk(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = factory.headers(await factory.user("admin"))
    county = "411729"
    codes = sorted(make_uscc() for _ in range(5))
    for c in codes:
        assert (await client.put(f"/admin/key-enterprises/{c}", json=_body(county), headers=admin)).status_code == 201
    got: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"county_code": county, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/admin/key-enterprises", params=params, headers=admin)).json()
        got += [x["unified_social_credit_code"] for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [c for c in got if c in codes] == codes and len(got) == len(set(got))


async def test_key_enterprise_on_me_and_demands_filter_and_ranking(
    client: httpx.AsyncClient, factory: Factory, demands: Demands
) -> None:
    admin = factory.headers(await factory.user("admin"))
    village = await factory.fresh_village("411725")
    side = await demands.bank([village[:6]])
    key_code, plain_code = make_uscc(), make_uscc()
    key_user, key_headers = await _enterprise_user(client, factory, village, key_code)
    _, plain_headers = await _enterprise_user(client, factory, village, plain_code, name="普通商贸有限公司")
    me = (await client.get("/me", headers=key_headers)).json()
    assert me["key_enterprise"] is False and me["demand_posting"]["post_as"] == "enterprise"

    # posted before the listing: the listing marks the open demand
    body = demand_body(description="")  # no description points: both score the same
    early = (await client.post("/me/demands", json=body, headers=key_headers)).json()
    plain = (await client.post("/me/demands", json=body, headers=plain_headers)).json()
    assert early["key_enterprise"] is False
    r = await client.put(f"/admin/key-enterprises/{key_code}", json=_body("411725"), headers=admin)
    assert r.status_code == 201
    assert (await client.get("/me", headers=key_headers)).json()["key_enterprise"] is True
    mine = (await client.get(f"/me/demands/{early['id']}", headers=key_headers)).json()
    assert mine["key_enterprise"] is True and mine["shared_with_banks"]["key_enterprise"] is True
    later = (await client.post("/me/demands", json=body, headers=key_headers)).json()
    assert later["key_enterprise"] is True

    seen = (await client.get(f"/bank/demands/{later['id']}", headers=side.headers)).json()
    assert seen["key_enterprise"] is True and any("重点支持企业" in x for x in seen["match_reasons"])
    assert (
        seen["match_score"]
        == (await client.get(f"/bank/demands/{plain['id']}", headers=side.headers)).json()["match_score"]
    )

    params = {"township_code": village[:9], "limit": 100}
    feed = (await client.get("/bank/demands", params=params, headers=side.headers)).json()["items"]
    ids = [x["id"] for x in feed]
    # among equal scores the key enterprise's demands come first, whatever their ids
    assert max(ids.index(early["id"]), ids.index(later["id"])) < ids.index(plain["id"])
    ours = {early["id"], later["id"], plain["id"]}  # the township may hold other tests' (and the demo's) demands
    only = await client.get("/bank/demands", params={**params, "key_enterprise": "true"}, headers=side.headers)
    assert {x["id"] for x in only.json()["items"]} & ours == {early["id"], later["id"]}
    assert all(x["key_enterprise"] for x in only.json()["items"])
    rest = await client.get("/bank/demands", params={**params, "key_enterprise": "false"}, headers=side.headers)
    assert plain["id"] in {x["id"] for x in rest.json()["items"]} and early["id"] not in {
        x["id"] for x in rest.json()["items"]
    }

    # a keyset walk one by one keeps that order and sees every demand once
    walked: list[str] = []
    cursor = None
    while True:
        q: dict[str, Any] = {"township_code": village[:9], "limit": 1}
        if cursor:
            q["cursor"] = cursor
        page = (await client.get("/bank/demands", params=q, headers=side.headers)).json()
        walked += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert walked == ids

    # off the list: unmarked at once
    assert (await client.delete(f"/admin/key-enterprises/{key_code}", headers=admin)).status_code == 204
    assert (await client.get("/me", headers=key_headers)).json()["key_enterprise"] is False
    async with factory.session() as s:
        rows = (await s.execute(select(Demand).where(Demand.user_id == key_user.id))).scalars().all()
        assert rows and not any(d.key_enterprise for d in rows)

    # the enterprise's profile taking a listed code marks its open demands too
    assert (await client.put(f"/admin/key-enterprises/{plain_code}", json=_body("411725"), headers=admin)).status_code
    r = await client.put(
        "/me/enterprise",
        json={"name": "普通商贸有限公司", "unified_social_credit_code": plain_code},
        headers=key_headers,
    )
    assert r.status_code == 200
    assert (await client.get(f"/me/demands/{later['id']}", headers=key_headers)).json()["key_enterprise"] is True


async def test_listed_in_another_county_is_not_key_here(
    client: httpx.AsyncClient, factory: Factory, demands: Demands
) -> None:
    admin = factory.headers(await factory.user("admin"))
    village = await factory.fresh_village("411725")
    code = make_uscc()
    assert (await client.put(f"/admin/key-enterprises/{code}", json=_body("411702"), headers=admin)).status_code == 201
    _, headers = await _enterprise_user(client, factory, village, code)
    assert (await client.get("/me", headers=headers)).json()["key_enterprise"] is False
    d = (await client.post("/me/demands", json=demand_body(), headers=headers)).json()
    assert d["key_enterprise"] is False
    assert uuid.UUID(d["id"])
