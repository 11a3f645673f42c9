"""守信激励 on offers: a bank may not offer above the applicant's discounted maximum for the product, and may not
offer a product that is not for this kind of applicant (issue 14 item 7)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from app.auth.models import EnterpriseProfile
from tests.builders.demands import Demands, demand_body
from tests.factories import Factory


async def test_offer_above_the_discounted_maximum_is_refused(demands: Demands) -> None:
    side = await demands.bank(max_annual_rate_bp=900, star_discounts_bp={"4": 50, "5": 100})
    five = await demands.farmer(stars=5)
    d = await demands.posted(five)
    r = await demands.offer(side, d["id"], annual_rate_bp=801)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "rate_above_cap" and body["cap_bp"] == 800
    assert body["errors"][0]["field"] == "annual_rate_bp"
    assert body["errors"][0]["message"] == "年利率不得超过 8%（产品利率上限 9%，5星守信优惠1个百分点）"
    assert body["detail"].startswith("年利率 8.01% 过高")
    r = await demands.offer(side, d["id"], annual_rate_bp=800)
    assert r.status_code == 201, r.text

    four = await demands.farmer(stars=4)
    d4 = await demands.posted(four)
    r = await demands.offer(side, d4["id"], annual_rate_bp=851)
    assert r.status_code == 422 and r.json()["cap_bp"] == 850
    assert (await demands.offer(side, d4["id"], annual_rate_bp=850)).status_code == 201

    # no stars, no discount: the product's own maximum
    unrated = await demands.farmer(stars=0)
    d0 = await demands.posted(unrated)
    assert (await demands.offer(side, d0["id"], annual_rate_bp=901)).json()["cap_bp"] == 900
    assert (await demands.offer(side, d0["id"], annual_rate_bp=900)).status_code == 201


async def test_certificate_loan_takes_the_lower_ceiling_then_the_discount(demands: Demands) -> None:
    # product 6.75 %, certificate 6.00 % (the fixture's cap): 600 − 50 = 550
    side = await demands.bank(
        kind="certificate_loan",
        collateral_types=[],
        max_amount_fen=5_000_000,
        max_annual_rate_bp=675,
        min_annual_rate_bp=400,
        star_discounts_bp={"5": 50},
    )
    farmer = await demands.farmer(stars=5, certificate_limit_fen=5_000_000)
    d = await demands.posted(farmer, collateral_types=[])
    r = await demands.offer(side, d["id"], annual_rate_bp=551)
    assert r.status_code == 422 and r.json()["cap_bp"] == 550, r.text
    assert "授信证利率上限 6%" in r.json()["errors"][0]["message"]
    assert (await demands.offer(side, d["id"], annual_rate_bp=550)).status_code == 201


async def test_an_sme_loan_is_not_offered_to_a_household(demands: Demands) -> None:
    farmer = await demands.farmer(stars=5)
    d = await demands.posted(farmer)
    for targets in (["small_business"], []):
        side = await demands.bank(kind="sme_loan", targets=targets)
        r = await demands.offer(side, d["id"])
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == "product_not_for_applicant"
        assert body["errors"][0]["field"] == "product_id"
        assert body["detail"] == "该产品面向小微企业，不适用于农户的融资需求"
        # the feed no longer suggests it either
        r = await demands.client.get(f"/bank/demands/{d['id']}", headers=side.headers)
        assert str(side.product.id) not in {p["id"] for p in r.json()["matching_products"]}
    both = await demands.bank(kind="sme_loan", targets=["farmer", "small_business"])
    assert (await demands.offer(both, d["id"])).status_code == 201


async def test_a_farmers_product_is_not_offered_to_an_enterprise(
    client: httpx.AsyncClient, factory: Factory, demands: Demands, session: Any
) -> None:
    village = await factory.fresh_village("411725")
    biz = await factory.user("farmer", village_code=village, household_type="small_business")
    session.add(
        EnterpriseProfile(user_id=biz.id, name="确山县示范农机合作社", uscc_enc="x", uscc_hash=uuid.uuid4().hex)
    )
    await session.commit()
    r = await client.post("/me/demands", json=demand_body(), headers=factory.headers(biz))
    assert r.status_code == 201, r.text
    d = r.json()
    side = await demands.bank(targets=["farmer"])
    r = await demands.offer(side, d["id"])
    assert r.status_code == 422 and r.json()["code"] == "product_not_for_applicant", r.text
    assert r.json()["detail"] == "该产品面向农户，不适用于企业的融资需求"
    sme = await demands.bank(kind="sme_loan", targets=[])
    assert (await demands.offer(sme, d["id"])).status_code == 201
