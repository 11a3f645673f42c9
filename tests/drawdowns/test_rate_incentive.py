"""守信激励 on draw-downs: the lead bank may approve at most the certificate's cap less the largest discount for
the certificate's stars among its own matching certificate-loan products; `/me/credit` shows that figure."""

from __future__ import annotations

from typing import Any

from app.banks.models import Bank
from app.catalog.models import Product, ProductCounty
from app.demands.scoring import target_mask
from tests.builders.drawdowns import Lending
from tests.factories import Factory


async def certificate_product(factory: Factory, bank: Bank, county: str, **over: Any) -> Product:
    values: dict[str, Any] = {
        "name": "授信证贷款",
        "kind": "certificate_loan",
        "min_amount_fen": 100_000,
        "max_amount_fen": 5_000_000,
        "min_term_months": 1,
        "max_term_months": 36,
        "min_annual_rate_bp": 435,
        "max_annual_rate_bp": 675,
        "collateral_types": [],
        "collateral_free": True,
        "targets": ["farmer"],
        "status": "published",
        "star_discounts_bp": {"4": 25, "5": 50},
    }
    values.update(over)
    values["target_mask"] = target_mask(values["targets"])
    async with factory.session() as s:
        p = Product(bank_id=bank.id, county_codes=[county], **values)
        s.add(p)
        await s.flush()
        s.add(ProductCounty(product_id=p.id, county_code=county))
        await s.commit()
        await s.refresh(p)
    return p


async def test_approval_above_the_discounted_cap_is_refused(lending: Lending, factory: Factory) -> None:
    b = await lending.borrower()  # a 5★ certificate, cap 6.75 %
    county = b.village[:6]
    await certificate_product(factory, b.bank, county)
    # another bank's bigger discount, the lead bank's draft and its product for other people do not count
    other = await factory.bank([county])
    await certificate_product(factory, other, county, star_discounts_bp={"5": 200})
    await certificate_product(factory, b.bank, county, status="draft", star_discounts_bp={"5": 200})
    await certificate_product(factory, b.bank, county, targets=["registered_poor"], star_discounts_bp={"5": 200})

    me = (await lending.client.get("/me/credit", headers=b.headers)).json()
    assert me["drawdown_rate"] == {"certificate_cap_bp": 675, "star_discount_bp": 50, "best_rate_bp": 625}

    r = await lending.submit(b, 100_000)
    dd = r.json()["id"]
    r = await lending.act(b, dd, "approve", {"annual_rate_bp": 626})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "rate_above_cap" and body["cap_bp"] == 625
    assert body["errors"][0] == {
        "field": "annual_rate_bp",
        "code": "rate_above_cap",
        "message": "年利率不得超过 6.25%（授信证利率上限 6.75%，5星守信优惠0.5个百分点）",
    }
    r = await lending.act(b, dd, "approve", {"annual_rate_bp": 625})
    assert r.status_code == 200 and r.json()["annual_rate_bp"] == 625


async def test_without_a_discount_the_certificate_cap_stands(lending: Lending, factory: Factory) -> None:
    b = await lending.borrower(max_rate_bp=600)
    await certificate_product(factory, b.bank, b.village[:6], star_discounts_bp={"4": 40})  # nothing for 5★
    me = (await lending.client.get("/me/credit", headers=b.headers)).json()
    assert me["drawdown_rate"] == {"certificate_cap_bp": 600, "star_discount_bp": 0, "best_rate_bp": 600}
    dd = (await lending.submit(b, 100_000)).json()["id"]
    r = await lending.act(b, dd, "approve", {"annual_rate_bp": 601})
    assert r.status_code == 422 and r.json()["errors"][0]["message"] == "年利率不得超过授信证利率上限 6%"
    assert (await lending.act(b, dd, "approve", {"annual_rate_bp": 600})).status_code == 200
