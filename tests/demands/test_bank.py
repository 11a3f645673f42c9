"""The bank's side: offers (one live per bank, ranges, rate caps), matching products, ranking and pagination."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import update

from app.credit.models import Household
from app.demands import sweeps
from app.demands.models import Demand
from app.demands.scoring import Basis, base_score
from tests.builders.demands import Demands
from tests.factories import Factory


async def test_offer_rules(client: httpx.AsyncClient, demands: Demands) -> None:
    farmer = await demands.farmer()
    a = await demands.bank([farmer.village[:6]])
    d = await demands.posted(farmer)

    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"amount_fen": 999_999}, 422, "validation_failed"),  # below the product's minimum
        ({"amount_fen": 50_000_001}, 422, "validation_failed"),
        ({"term_months": 37}, 422, "validation_failed"),
        ({"annual_rate_bp": 399}, 422, "validation_failed"),
        ({"annual_rate_bp": 901}, 422, "rate_above_cap"),
        ({"product_id": str(uuid.uuid4())}, 404, "not_found"),
        ({"surprise": 1}, 422, "validation_failed"),
    ]
    for over, status, code in cases:
        r = await demands.offer(a, d["id"], **over)
        assert (r.status_code, r.json()["code"]) == (status, code), (over, r.text)
    assert (await demands.offer(a, d["id"], annual_rate_bp=900)).status_code == 201
    r = await demands.offer(a, d["id"], annual_rate_bp=500)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    mine = (await client.get(f"/me/demands/{d['id']}", headers=farmer.headers)).json()
    assert len(mine["offers"]) == 1

    # an unpublished product of the bank's own is 404
    draft = await demands.product(a.bank, [farmer.village[:6]], status="draft")
    b = await demands.bank([farmer.village[:6]])
    b.product = draft
    assert (await demands.offer(b, d["id"])).status_code == 404

    # a withdrawn demand takes no offers
    await client.post(f"/me/demands/{d['id']}/withdraw", headers=farmer.headers)
    c = await demands.bank([farmer.village[:6]])
    r = await demands.offer(c, d["id"])
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"


async def test_certificate_loan_cap_and_matching(client: httpx.AsyncClient, demands: Demands) -> None:
    county = "411725"
    cert_kw: dict[str, Any] = {
        "kind": "certificate_loan",
        "name": "授信证贷款",
        "max_amount_fen": 5_000_000,
        "min_annual_rate_bp": 400,
        "max_annual_rate_bp": 675,
        "collateral_types": [],
    }
    side = await demands.bank([county], **cert_kw)
    with_cert = await demands.farmer(certificate_limit_fen=5_000_000)  # certificate cap 600 bp
    without = await demands.farmer()
    d1 = await demands.posted(with_cert, amount_fen=3_000_000)
    d2 = await demands.posted(without, amount_fen=3_000_000)
    d3 = await demands.posted(with_cert, amount_fen=4_000_000, term_months=12)

    seen = {x: (await client.get(f"/bank/demands/{x}", headers=side.headers)).json() for x in (d1["id"], d2["id"])}
    assert [p["id"] for p in seen[d1["id"]]["matching_products"]] == [str(side.product.id)]
    assert seen[d2["id"]]["matching_products"] == []  # no certificate
    assert "授信证可用额度覆盖需求金额" in seen[d1["id"]]["match_reasons"]
    # the farmer is never offered a certificate loan without a certificate
    assert all(p["kind"] != "certificate_loan" for p in d2["suggested_products"])

    r = await demands.offer(side, d1["id"], annual_rate_bp=650)
    assert r.status_code == 422 and r.json()["code"] == "rate_above_cap" and r.json()["cap_bp"] == 600
    assert (await demands.offer(side, d1["id"], annual_rate_bp=600)).status_code == 201
    # without a certificate the policy default applies (6.75%)
    assert (await demands.offer(side, d2["id"], annual_rate_bp=676)).json()["code"] == "rate_above_cap"
    assert (await demands.offer(side, d2["id"], annual_rate_bp=675)).status_code == 201
    # 40,000 yuan on a certificate with 50,000 available: fits; over the available amount it would not
    assert (await client.get(f"/bank/demands/{d3['id']}", headers=side.headers)).json()["matching_products"]


async def test_matching_targets_and_collateral(client: httpx.AsyncClient, demands: Demands) -> None:
    county = "411725"
    farmer = await demands.farmer()
    side = await demands.bank([county], collateral_types=["machinery"])
    poor_only = await demands.product(
        side.bank, [county], name="扶贫贷", targets=["registered_poor"], collateral_types=[]
    )
    free = await demands.product(side.bank, [county], name="信用贷", collateral_types=[], targets=[])
    d = await demands.posted(farmer, collateral_types=["livestock"])
    got = (await client.get(f"/bank/demands/{d['id']}", headers=side.headers)).json()
    ids = {p["id"] for p in got["matching_products"]}
    assert str(free.id) in ids
    assert str(side.product.id) not in ids  # wants machinery
    assert str(poor_only.id) not in ids  # not a registered-poor household


async def test_ranking_and_keyset_walk(client: httpx.AsyncClient, factory: Factory, demands: Demands) -> None:
    county = "411725"
    village = await factory.fresh_village(county)
    township = village[:9]
    side = await demands.bank([county, "411702"])
    posted = []
    for stars in (0, 3, 5, 1, 4, 2, 5):
        f = await demands.farmer(village, stars=stars)
        posted.append((await demands.posted(f))["id"])
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "township_code": township}
        if cursor:
            params["cursor"] = cursor
        r = await client.get("/bank/demands", params=params, headers=side.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 2
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    ids = [x["id"] for x in seen]
    assert len(ids) == len(set(ids))
    assert set(posted) <= set(ids)
    keys = [(Decimal(x["match_score"]), uuid.UUID(x["id"])) for x in seen]
    assert keys == sorted(keys, reverse=True)
    assert all(x["township_code"] == township for x in seen)
    top = next(x for x in seen if x["id"] in posted)
    assert top["stars"] == 5

    # filters
    r = await client.get(
        "/bank/demands", params={"township_code": township, "min_stars": 4, "limit": 100}, headers=side.headers
    )
    assert {x["stars"] for x in r.json()["items"]} <= {4, 5} and len(r.json()["items"]) >= 3
    r = await client.get(
        "/bank/demands", params={"county_code": "411702", "purpose": "livestock", "limit": 100}, headers=side.headers
    )
    assert not set(posted) & {x["id"] for x in r.json()["items"]}
    r = await client.get("/bank/demands", params={"county_code": "411799"}, headers=side.headers)
    assert r.json()["items"] == []
    r = await client.get(
        "/bank/demands",
        params={"township_code": township, "min_amount_fen": 3_000_001, "limit": 100},
        headers=side.headers,
    )
    assert not set(posted) & {x["id"] for x in r.json()["items"]}
    assert (await client.get("/bank/demands", params={"limit": 101}, headers=side.headers)).status_code == 422
    assert (await client.get("/bank/demands", params={"cursor": "junk"}, headers=side.headers)).status_code == 422


async def test_multi_county_merge(client: httpx.AsyncClient, demands: Demands) -> None:
    a = await demands.farmer(await demands.factory.fresh_village("411725"), stars=1)
    b = await demands.farmer(await demands.factory.fresh_village("411702"), stars=5)
    side = await demands.bank(["411725", "411702"])
    da, db = await demands.posted(a), await demands.posted(b)
    r = await client.get("/bank/demands", params={"limit": 100}, headers=side.headers)
    items = r.json()["items"]
    # the feed's order: score, then key enterprises first among equal scores (other tests leave some), then id
    keys = [(Decimal(x["match_score"]), x["key_enterprise"], uuid.UUID(x["id"])) for x in items]
    assert keys == sorted(keys, reverse=True)
    assert {x["county_code"] for x in items} <= {"411725", "411702"}
    _ = (da, db)


def test_base_score_parts() -> None:
    full = Basis(
        stars=5,
        amount_fen=3_000_000,
        collateral_types=["livestock"],
        description="x" * 20,
        verified=True,
        star_limit_fen=5_000_000,
    )
    assert base_score(full) == 100
    assert base_score(Basis(0, 3_000_000, [], "", False, 0)) == 0
    assert base_score(Basis(5, 6_000_000, [], "", True, 5_000_000)) == 40 + 10 + 10
    assert base_score(Basis(1, 1_000_000, ["machinery"], "短", True, 1_000_000)) == 8 + 10 + 15 + 15 + 10


async def test_stars_refresh(client: httpx.AsyncClient, factory: Factory, demands: Demands) -> None:
    farmer = await demands.farmer(stars=1)
    side = await demands.bank([farmer.village[:6]])
    d = await demands.posted(farmer)
    before = (await client.get(f"/bank/demands/{d['id']}", headers=side.headers)).json()
    assert farmer.household is not None
    async with factory.session() as s:
        await s.execute(update(Household).where(Household.id == farmer.household.id).values(stars=5))
        await s.commit()
    async with factory.session() as s:
        while await sweeps.refresh_stars(s):
            await s.commit()
        await s.commit()
    after = (await client.get(f"/bank/demands/{d['id']}", headers=side.headers)).json()
    assert after["stars"] == 5 and Decimal(after["match_score"]) > Decimal(before["match_score"])
    async with factory.session() as s:
        row = await s.get(Demand, uuid.UUID(d["id"]))
        assert row is not None and row.stars == 5
