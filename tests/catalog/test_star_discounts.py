"""守信激励 in the product supply library (issue 14 item 7): `star_discounts_bp` validated on every write path,
shown on every read; `GET /products?for_me=true` and `GET /me/credit` show the rate this household would get."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.core.crypto import encrypt, index_hash
from app.core.dates import china_today
from app.credit.models import Certificate, Household
from tests.builders.catalog import BankCtx, certificate_body, create, product_body, publish
from tests.factories import Factory, make_resident_id

# product_body: rates 4.5 %–8 %, so a discount may be at most 350 bp


@pytest.mark.parametrize(
    ("discounts", "field", "message"),
    [
        ({"6": 10}, "star_discounts_bp", "星级只能是 1–5（收到“6”）"),
        ({"5": 351}, "star_discounts_bp", "5星优惠3.51个百分点超过了利率区间（最高 8% − 最低 4.5% = 3.5个百分点），优惠后的利率不能低于产品最低利率"),
        ({"4": 50, "5": 25}, "star_discounts_bp", "星级越高优惠不能越少：5星优惠0.25个百分点，少于4星的0.5个百分点"),
        ({"5": -1}, "star_discounts_bp.5", "5星优惠不能少于0个百分点"),
        ({"5": "很多"}, "star_discounts_bp.5", "5星优惠须为整数"),
        ([50], "star_discounts_bp", "守信激励优惠须为对象"),
    ],
)  # fmt: skip
async def test_bad_discounts_name_the_field(
    client: httpx.AsyncClient, bank_ctx: BankCtx, discounts: Any, field: str, message: str
) -> None:
    r = await client.post("/bank/products", json=product_body(star_discounts_bp=discounts), headers=bank_ctx.headers)
    assert r.status_code == 422, r.text
    errs = r.json()["errors"]
    assert [(e["field"], e["message"]) for e in errs] == [(field, message)]


async def test_every_write_path_takes_and_checks_discounts(client: httpx.AsyncClient, bank_ctx: BankCtx) -> None:
    p = await create(client, bank_ctx, star_discounts_bp={"5": 50, "4": 25})
    assert p["star_discounts_bp"] == {"4": 25, "5": 50}
    r = await client.get(f"/bank/products/{p['id']}", headers=bank_ctx.headers)
    assert r.json()["star_discounts_bp"] == {"4": 25, "5": 50}
    # narrowing the range below a discount is refused, naming the discounts
    r = await client.patch(f"/bank/products/{p['id']}", json={"max_annual_rate_bp": 470}, headers=bank_ctx.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "star_discounts_bp", r.text
    r = await client.patch(
        f"/bank/products/{p['id']}", json={"star_discounts_bp": {"5": 100}}, headers=bank_ctx.headers
    )
    assert r.status_code == 200 and r.json()["star_discounts_bp"] == {"5": 100}
    r = await client.patch(f"/bank/products/{p['id']}", json={"star_discounts_bp": None}, headers=bank_ctx.headers)
    assert r.status_code == 200 and r.json()["star_discounts_bp"] == {}
    # a product without the field has none
    assert (await create(client, bank_ctx))["star_discounts_bp"] == {}

    ext = f"ext-{uuid.uuid4().hex[:8]}"
    bad = product_body(star_discounts_bp={"3": 400})
    r = await client.put(f"/partner/products/{ext}", json=bad, headers=bank_ctx.system)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "star_discounts_bp"
    r = await client.put(
        f"/partner/products/{ext}", json=product_body(star_discounts_bp={"5": 30}), headers=bank_ctx.system
    )
    assert r.status_code == 201 and r.json()["star_discounts_bp"] == {"5": 30}
    # the same body again changes nothing; a new table is a change
    same = await client.put(
        f"/partner/products/{ext}", json=product_body(star_discounts_bp={"5": 30}), headers=bank_ctx.system
    )
    assert same.status_code == 200 and same.json()["updated_at"] == r.json()["updated_at"]

    items = [
        {**product_body(star_discounts_bp={"1": 20, "2": 10}), "external_id": f"b-{uuid.uuid4().hex[:8]}"},
        {**product_body(star_discounts_bp={"5": 40}), "external_id": f"b-{uuid.uuid4().hex[:8]}"},
    ]
    r = await client.post("/partner/products/batch", json={"items": items}, headers=bank_ctx.system)
    assert r.status_code == 200, r.text
    first, second = r.json()["items"]
    assert first["ok"] is False and first["errors"][0]["field"] == "items.0.star_discounts_bp"
    assert second["ok"] is True
    r = await client.get(f"/partner/products/{items[1]['external_id']}", headers=bank_ctx.system)
    assert r.json()["star_discounts_bp"] == {"5": 40}


async def test_a_revision_carries_its_discounts_until_approved(
    client: httpx.AsyncClient, bank_ctx: BankCtx, regulator_headers: dict[str, str]
) -> None:
    p = await publish(client, bank_ctx, regulator_headers, product_body(star_discounts_bp={"5": 50}))
    r = await client.patch(f"/bank/products/{p['id']}", json={"star_discounts_bp": {"5": 80}}, headers=bank_ctx.headers)
    assert r.status_code == 200
    assert r.json()["star_discounts_bp"] == {"5": 50} and r.json()["revision"]["star_discounts_bp"] == {"5": 80}
    assert (await client.get(f"/products/{p['id']}")).json()["star_discounts_bp"] == {"5": 50}
    assert (await client.post(f"/bank/products/{p['id']}/submit", headers=bank_ctx.headers)).status_code == 200
    assert (await client.post(f"/admin/products/{p['id']}/approve", headers=regulator_headers)).status_code == 200
    assert (await client.get(f"/products/{p['id']}")).json()["star_discounts_bp"] == {"5": 80}


# ---- the rate a household would get ---------------------------------------------------------------------------


async def household(
    factory: Factory,
    village: str,
    *,
    stars: int,
    cert_cap_bp: int | None = None,
    lead_bank_id: uuid.UUID | None = None,
    poor: bool = False,
) -> dict[str, str]:
    user = await factory.user("farmer")
    rid = make_resident_id(village[:6], seq=int(uuid.uuid4().int % 1000))
    async with factory.session() as s:
        h = Household(
            id_number_enc=encrypt(rid, "household"),
            id_number_hash=index_hash(f"{rid}-{uuid.uuid4().hex}", "resident_id"),
            real_name="李四",
            village_code=village,
            township_code=village[:9],
            county_code=village[:6],
            is_registered_poor=poor,
            user_id=user.id,
            stars=stars,
            is_credit_household=stars > 0,
        )
        s.add(h)
        await s.flush()
        if cert_cap_bp is not None:
            s.add(
                Certificate(
                    number=f"S{uuid.uuid4().hex[:20]}",
                    household_id=h.id,
                    color="red",
                    stars=stars,
                    limit_fen=5_000_000,
                    max_annual_rate_bp=cert_cap_bp,
                    status="active",
                    lead_bank_id=lead_bank_id,
                    issued_on=china_today(),
                    expires_on=china_today() + timedelta(days=365),
                )
            )
        await s.commit()
    return factory.headers(user)


async def test_for_me_shows_my_rate_and_is_never_cached(
    client: httpx.AsyncClient, factory: Factory, bank_ctx: BankCtx, regulator_headers: dict[str, str]
) -> None:
    mach = await publish(client, bank_ctx, regulator_headers, product_body(star_discounts_bp={"4": 25, "5": 50}))
    cert = await publish(
        client, bank_ctx, regulator_headers, certificate_body(star_discounts_bp={"5": 50}, min_annual_rate_bp=400)
    )
    q = {"bank_id": str(bank_ctx.bank.id), "sort": "rate"}

    plain = await client.get("/products", params=q)
    assert plain.headers["cache-control"].startswith("public")
    assert [i["star_discounts_bp"] for i in plain.json()["items"]] == [{"5": 50}, {"4": 25, "5": 50}]
    assert "my_rate_bp" not in plain.json()["items"][0]
    assert (await client.get(f"/products/{mach['id']}")).json()["star_discounts_bp"] == {"4": 25, "5": 50}

    mine = {**q, "for_me": "true"}
    r = await client.get("/products", params=mine)
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"
    staff = factory.headers(await factory.user("bank_staff", bank_id=bank_ctx.bank.id))
    assert (await client.get("/products", params=mine, headers=staff)).status_code == 403

    async def rates(headers: dict[str, str]) -> list[tuple[int, int]]:
        r = await client.get("/products", params=mine, headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "private, no-store" and "etag" not in r.headers
        return [(i["my_rate_bp"], i["my_discount_bp"]) for i in r.json()["items"]]

    village = await factory.fresh_village("411725")
    lone = factory.headers(await factory.user("farmer"))
    assert await rates(lone) == [(675, 0), (800, 0)]
    five = await household(factory, village, stars=5)
    assert await rates(five) == [(625, 50), (750, 50)]
    four = await household(factory, village, stars=4)
    assert await rates(four) == [(675, 0), (775, 25)]
    # a certificate loan starts from the lower of the product's and the certificate's caps
    five_capped = await household(factory, village, stars=5, cert_cap_bp=600)
    assert await rates(five_capped) == [(550, 50), (750, 50)]
    # the personal answers never reached the public cache
    again = await client.get("/products", params=q)
    assert again.json() == plain.json() and again.headers["etag"] == plain.headers["etag"]
    assert cert["id"] == again.json()["items"][0]["id"]


async def test_me_credit_lists_matching_products_with_best_rates(
    client: httpx.AsyncClient, factory: Factory, bank_ctx: BankCtx, regulator_headers: dict[str, str]
) -> None:
    ids: dict[str, str] = {}

    async def pub(label: str, body: dict[str, Any]) -> None:
        ids[label] = (await publish(client, bank_ctx, regulator_headers, body))["id"]

    await pub("mach", product_body(star_discounts_bp={"5": 50}))
    await pub("cert", certificate_body(star_discounts_bp={"5": 60}, min_annual_rate_bp=400))
    await pub("elsewhere", product_body(county_codes=["411726"], star_discounts_bp={"5": 50}))
    await pub("poor_only", product_body(targets=["registered_poor"]))
    await pub("sme", product_body(kind="sme_loan", targets=[]))
    await pub("everyone", product_body(targets=[], max_annual_rate_bp=700))
    ids["draft"] = (await create(client, bank_ctx))["id"]

    village = await factory.fresh_village("411725")
    h = await household(factory, village, stars=5, cert_cap_bp=675, lead_bank_id=bank_ctx.bank.id)
    me = (await client.get("/me/credit", headers=h)).json()
    mine = {m["product_id"]: m for m in me["matching_products"] if m["bank"]["id"] == str(bank_ctx.bank.id)}
    assert {k for k, v in ids.items() if v in mine} == {"mach", "cert", "everyone"}
    assert mine[ids["mach"]]["best_rate_bp"] == 750 and mine[ids["mach"]]["star_discount_bp"] == 50
    assert mine[ids["cert"]]["best_rate_bp"] == 615
    assert mine[ids["everyone"]]["best_rate_bp"] == 700 and mine[ids["everyone"]]["star_discount_bp"] == 0
    best = [m["best_rate_bp"] for m in me["matching_products"]]
    assert best == sorted(best)
    assert me["drawdown_rate"] == {"certificate_cap_bp": 675, "star_discount_bp": 60, "best_rate_bp": 615}

    # a registered-poor household also matches the poor-only product; without a certificate no certificate loan
    poor = await household(factory, village, stars=5, poor=True)
    me = (await client.get("/me/credit", headers=poor)).json()
    got = {m["product_id"] for m in me["matching_products"]}
    assert ids["poor_only"] in got and ids["cert"] not in got and me["drawdown_rate"] is None
