"""The farmers' catalog: published only, filters, sort, keyset pagination, Chinese search, ETag and cache."""

from __future__ import annotations

import uuid

import httpx

from tests.builders.catalog import BankCtx, certificate_body, create, product_body, publish
from tests.factories import Factory


async def all_ids(client: httpx.AsyncClient, **params: object) -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        q = {**params, "limit": 7}
        if cursor:
            q["cursor"] = cursor
        r = await client.get("/products", params=q)
        assert r.status_code == 200, r.text
        out += [i["id"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return out


async def test_filters_sort_and_pagination(client: httpx.AsyncClient, factory: Factory, regulator_headers) -> None:
    bank = await factory.bank(["411727", "411728"])
    ctx = BankCtx(bank, factory.headers(await factory.user("bank_admin", bank_id=bank.id)), {})
    cert = await publish(
        client,
        ctx,
        regulator_headers,
        certificate_body(county_codes=["411727"], min_annual_rate_bp=400, targets=["farmer"], min_term_months=1),
    )
    mach = await publish(
        client,
        ctx,
        regulator_headers,
        product_body(county_codes=["411728"], min_annual_rate_bp=500, targets=["new_agri_entity"]),
    )
    draft = await create(client, ctx, county_codes=["411727"])
    ids = await all_ids(client, bank_id=str(bank.id))
    assert ids == [mach["id"], cert["id"]]  # newest first; the draft is not in the catalog
    assert draft["id"] not in await all_ids(client)
    assert await all_ids(client, bank_id=str(bank.id), sort="rate") == [cert["id"], mach["id"]]
    b = {"bank_id": str(bank.id)}
    assert await all_ids(client, **b, county_code="411727") == [cert["id"]]
    assert await all_ids(client, **b, kind="machinery_mortgage") == [mach["id"]]
    assert await all_ids(client, **b, collateral_free="true") == [cert["id"]]
    assert await all_ids(client, **b, collateral_free="false") == [mach["id"]]
    assert await all_ids(client, **b, target="new_agri_entity") == [mach["id"]]
    assert await all_ids(client, **b, target="registered_poor") == []
    assert await all_ids(client, **b, amount_fen=5_000_000) == [mach["id"], cert["id"]]
    assert await all_ids(client, **b, amount_fen=5_000_001) == [mach["id"]]
    assert await all_ids(client, **b, amount_fen=100_000) == [cert["id"]]
    assert await all_ids(client, **b, term_months=3) == [cert["id"]]
    assert await all_ids(client, **b, term_months=37) == []
    item = (await client.get("/products", params=b)).json()["items"][0]
    assert set(item) == {
        "id",
        "name",
        "kind",
        "bank",
        "min_amount_fen",
        "max_amount_fen",
        "min_term_months",
        "max_term_months",
        "min_annual_rate_bp",
        "max_annual_rate_bp",
        "collateral_free",
        "guarantee_required",
        "targets",
        "star_discounts_bp",
    }
    for bad in ({"limit": 0}, {"limit": 101}, {"sort": "cheap"}, {"cursor": "!!"}, {"kind": "x"}, {"q": "贷"}):
        assert (await client.get("/products", params=bad)).status_code == 422, bad
    # walk everything with a small page: no duplicates
    everything = await all_ids(client, sort="rate")
    assert len(everything) == len(set(everything))


async def test_chinese_search(client: httpx.AsyncClient, bank_ctx: BankCtx, regulator_headers) -> None:
    tag = uuid.uuid4().hex[:4]
    cattle = await publish(
        client,
        bank_ctx,
        regulator_headers,
        product_body(
            name=f"肉牛活体抵押贷{tag}",
            kind="livestock_mortgage",
            description="以存栏肉牛、生猪为抵押物，支持养殖户扩大规模。",
            collateral_types=["livestock"],
        ),
    )
    grain = await publish(
        client,
        bank_ctx,
        regulator_headers,
        product_body(
            name=f"粮食仓单质押贷{tag}",
            kind="warehouse_receipt_pledge",
            description="小麦、玉米入库后凭仓单质押融资。",
            collateral_types=["warehouse_receipt"],
        ),
    )
    b = {"bank_id": str(bank_ctx.bank.id)}
    assert await all_ids(client, **b, q="肉牛") == [cattle["id"]]
    assert await all_ids(client, **b, q="生猪") == [cattle["id"]]  # in the description
    assert await all_ids(client, **b, q="仓单质押") == [grain["id"]]
    assert await all_ids(client, **b, q="小麦 玉米") == [grain["id"]]
    assert await all_ids(client, **b, q="肉牛 小麦") == []
    assert set(await all_ids(client, **b, q="抵押")) == {cattle["id"]}
    assert set(await all_ids(client, **b, q="质押")) == {grain["id"]}
    # every bigram present, but not as one word: the substring check refuses it
    assert await all_ids(client, **b, q="牛活牛") == []
    assert await all_ids(client, **b, q="羊肉") == []
    assert await all_ids(client, **b, q=tag.upper()) == [grain["id"], cattle["id"]]  # case-insensitive, newest first
    assert await all_ids(client, **b, q="100%") == []


async def test_etag_and_cache_invalidation(client: httpx.AsyncClient, bank_ctx: BankCtx, regulator_headers) -> None:
    b = {"bank_id": str(bank_ctx.bank.id)}
    r = await client.get("/products", params=b)
    assert r.status_code == 200 and r.json()["items"] == []
    etag = r.headers["etag"]
    assert "public" in r.headers["cache-control"]
    r = await client.get("/products", params=b, headers={"If-None-Match": etag})
    assert r.status_code == 304

    p = await publish(client, bank_ctx, regulator_headers)
    r = await client.get("/products", params=b, headers={"If-None-Match": etag})
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [p["id"]]
    etag2 = r.headers["etag"]
    detail = await client.get(f"/products/{p['id']}")
    assert detail.status_code == 200
    assert (
        await client.get(f"/products/{p['id']}", headers={"If-None-Match": detail.headers["etag"]})
    ).status_code == 304

    # a revision swap shows at once
    await client.patch(f"/bank/products/{p['id']}", json={"name": "新名称农机贷"}, headers=bank_ctx.headers)
    await client.post(f"/bank/products/{p['id']}/submit", headers=bank_ctx.headers)
    assert (await client.get(f"/products/{p['id']}")).json()["name"] != "新名称农机贷"
    await client.post(f"/admin/products/{p['id']}/approve", headers=regulator_headers)
    assert (await client.get(f"/products/{p['id']}")).json()["name"] == "新名称农机贷"
    r = await client.get("/products", params=b, headers={"If-None-Match": etag2})
    assert r.status_code == 200 and r.json()["items"][0]["name"] == "新名称农机贷"

    await client.post(f"/bank/products/{p['id']}/withdraw", headers=bank_ctx.headers)
    assert (await client.get("/products", params=b)).json()["items"] == []
    assert (await client.get(f"/products/{p['id']}")).status_code == 404


async def test_cache_serves_from_redis(client: httpx.AsyncClient, bank_ctx: BankCtx, regulator_headers, redis) -> None:
    p = await publish(client, bank_ctx, regulator_headers)
    params = {"bank_id": str(bank_ctx.bank.id), "limit": 5}
    first = await client.get("/products", params=params)
    keys = [k async for k in redis.scan_iter("catalog:*")]
    assert any(k != "catalog:version" for k in keys)
    second = await client.get("/products", params=params)
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert [i["id"] for i in first.json()["items"]] == [p["id"]]
