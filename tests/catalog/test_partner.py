"""Bank systems' uploads: idempotent PUT, GET, DELETE, and batches with mixed good and bad items."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from app.catalog.models import Product
from tests.builders.catalog import BankCtx, certificate_body, product_body


async def test_put_create_replace_and_same_body(
    client: httpx.AsyncClient, bank_ctx: BankCtx, regulator_headers, session
) -> None:
    ext = f"ABC-{uuid.uuid4().hex[:8]}"
    r = await client.put(f"/partner/products/{ext}", json=product_body(), headers=bank_ctx.system)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["status"] == "pending_review" and first["external_id"] == ext
    r = await client.put(f"/partner/products/{ext}", json=product_body(), headers=bank_ctx.system)
    assert r.status_code == 200 and r.json()["updated_at"] == first["updated_at"]
    assert len(r.json()["reviews"]) == 1
    r = await client.put(f"/partner/products/{ext}", json=product_body(name="农机贷升级版"), headers=bank_ctx.system)
    assert r.status_code == 200 and r.json()["name"] == "农机贷升级版" and r.json()["id"] == first["id"]
    count = (
        await session.execute(
            select(func.count())
            .select_from(Product)
            .where(Product.bank_id == bank_ctx.bank.id, Product.external_id == ext)
        )
    ).scalar_one()
    await session.commit()
    assert count == 1

    # Approve, then replace: the published one stays in the catalog while the revision waits.
    assert (await client.post(f"/admin/products/{first['id']}/approve", headers=regulator_headers)).status_code == 200
    r = await client.put(f"/partner/products/{ext}", json=product_body(name="农机贷升级版"), headers=bank_ctx.system)
    assert r.status_code == 200 and r.json()["revision"] is None and len(r.json()["reviews"]) == 3
    r = await client.put(f"/partner/products/{ext}", json=product_body(name="农机贷三期"), headers=bank_ctx.system)
    assert r.json()["status"] == "published" and r.json()["revision"]["status"] == "pending_review"
    assert (await client.get(f"/products/{first['id']}")).json()["name"] == "农机贷升级版"

    r = await client.get(f"/partner/products/{ext}", headers=bank_ctx.system)
    assert r.status_code == 200 and r.json()["revision"]["name"] == "农机贷三期"
    r = await client.delete(f"/partner/products/{ext}", headers=bank_ctx.system)
    assert r.status_code == 204
    assert (await client.get(f"/products/{first['id']}")).status_code == 404
    assert (await client.delete(f"/partner/products/{ext}", headers=bank_ctx.system)).status_code == 204
    assert (await client.get(f"/partner/products/{ext}", headers=bank_ctx.system)).json()["status"] == "withdrawn"


async def test_put_refuses_noncompliant_and_stores_nothing(client: httpx.AsyncClient, bank_ctx: BankCtx) -> None:
    ext = f"BAD-{uuid.uuid4().hex[:8]}"
    r = await client.put(
        f"/partner/products/{ext}", json=certificate_body(max_annual_rate_bp=700), headers=bank_ctx.system
    )
    assert r.status_code == 422 and r.json()["code"] == "compliance_failed"
    assert (await client.get(f"/partner/products/{ext}", headers=bank_ctx.system)).status_code == 404
    r = await client.put(
        f"/partner/products/{ext}", json=product_body(county_codes=["411702"]), headers=bank_ctx.system
    )
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    r = await client.put("/partner/products/bad id!", json=product_body(), headers=bank_ctx.system)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"


async def test_partner_tenancy(client: httpx.AsyncClient, bank_ctx: BankCtx, other_bank: BankCtx) -> None:
    ext = f"T-{uuid.uuid4().hex[:8]}"
    r = await client.put(f"/partner/products/{ext}", json=product_body(), headers=bank_ctx.system)
    assert r.status_code == 201
    mine = r.json()
    assert (await client.get(f"/partner/products/{ext}", headers=other_bank.system)).status_code == 404
    assert (await client.delete(f"/partner/products/{ext}", headers=other_bank.system)).status_code == 404
    # The same external id at another bank is another product.
    r = await client.put(f"/partner/products/{ext}", json=product_body(name="他行产品"), headers=other_bank.system)
    assert r.status_code == 201 and r.json()["id"] != mine["id"]
    r = await client.get(f"/partner/products/{ext}", headers=bank_ctx.system)
    assert r.json()["name"] == mine["name"] and r.json()["status"] == "pending_review"


async def test_batch_mixed_items(client: httpx.AsyncClient, bank_ctx: BankCtx, session) -> None:
    tag = uuid.uuid4().hex[:6]
    items = [
        {"external_id": f"{tag}-ok1", **product_body(name="批量一号")},
        {"external_id": f"{tag}-bad-rate", **certificate_body(max_annual_rate_bp=700)},
        {"external_id": f"{tag}-bad-body", **product_body(min_amount_fen="lots")},
        {"external_id": f"{tag}-bad-county", **product_body(county_codes=["411702"])},
        "not an object",
        {"external_id": f"{tag}-ok2", **certificate_body()},
        {"external_id": f"{tag}-ok1", **product_body(name="重复")},
        {**product_body(), "external_id": f"{tag}-extra", "status": "published"},
    ]
    r = await client.post("/partner/products/batch", json={"items": items}, headers=bank_ctx.system)
    assert r.status_code == 200, r.text
    out = r.json()["items"]
    assert [i["ok"] for i in out] == [True, False, False, False, False, True, False, False]
    assert out[1]["errors"][0]["field"] == "certificate_loan_max_rate"
    assert out[2]["errors"][0]["field"] == "items.2.min_amount_fen"
    assert out[3]["errors"][0]["field"] == "items.3.county_codes.0"
    assert out[4]["external_id"] is None
    assert out[6]["errors"][0]["code"] == "duplicate"
    assert out[7]["errors"][0]["field"] == "items.7.status"
    assert out[0]["id"] and out[5]["id"] and out[0]["status"] == "pending_review"
    stored = (
        (await session.execute(select(Product.external_id).where(Product.external_id.startswith(tag)))).scalars().all()
    )
    await session.commit()
    assert sorted(stored) == [f"{tag}-ok1", f"{tag}-ok2"]
    # The same batch again changes nothing.
    r = await client.post("/partner/products/batch", json={"items": items[:1]}, headers=bank_ctx.system)
    assert r.json()["items"][0]["id"] == out[0]["id"]
    got = (await client.get(f"/partner/products/{tag}-ok1", headers=bank_ctx.system)).json()
    assert len(got["reviews"]) == 1


async def test_batch_of_500(client: httpx.AsyncClient, bank_ctx: BankCtx) -> None:
    tag = uuid.uuid4().hex[:6]
    items = [{"external_id": f"{tag}-{i}", **product_body(name=f"批量产品{i}")} for i in range(500)]
    r = await client.post("/partner/products/batch", json={"items": items}, headers=bank_ctx.system)
    assert r.status_code == 200 and all(i["ok"] for i in r.json()["items"])
    r = await client.post("/partner/products/batch", json={"items": items + items[:1]}, headers=bank_ctx.system)
    assert r.status_code == 422
