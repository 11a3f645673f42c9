"""Products: validation, compliance at and over every line, lifecycle, revision swap, review, tenancy, BFLA."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from app.catalog.models import Product
from app.events.models import Event
from app.notifications.models import Notification
from tests.builders.catalog import BankCtx, certificate_body, create, product_body, publish, system_headers
from tests.factories import Factory


async def test_create_normalises_and_validates(client: httpx.AsyncClient, bank_ctx: BankCtx) -> None:
    p = await create(client, bank_ctx)
    assert p["status"] == "draft" and p["contact_phone"] == "+8613912345678" and p["collateral_free"] is False
    assert p["bank_id"] == str(bank_ctx.bank.id)
    bad = [
        ({"min_amount_fen": 60_000_000}, "body"),
        ({"min_term_months": 40}, "body"),
        ({"min_annual_rate_bp": 900}, "body"),
        ({"valid_from": "2027-01-02", "valid_until": "2027-01-01"}, "body"),
        ({"kind": "payday_loan"}, "kind"),
        ({"collateral_types": ["gold"]}, "collateral_types.0"),
        ({"targets": ["everyone"]}, "targets.0"),
        ({"repayment_methods": ["never"]}, "repayment_methods.0"),
        ({"contact_phone": "call-me"}, "contact_phone"),
        ({"status": "published"}, "status"),
        ({"county_codes": []}, "county_codes"),
        ({"max_amount_fen": -1}, "max_amount_fen"),
    ]
    for over, field in bad:
        r = await client.post("/bank/products", json=product_body(**over), headers=bank_ctx.headers)
        assert r.status_code == 422, over
        assert r.json()["code"] == "validation_failed"
        assert field in [e["field"] for e in r.json()["errors"]], (over, r.json())
    r = await client.post("/bank/products", json=product_body(county_codes=["411702"]), headers=bank_ctx.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "county_codes.0"
    r = await client.post("/bank/products", json=product_body(county_codes=["411702"]), headers=bank_ctx.system)
    assert r.status_code == 422
    r = await client.post("/bank/products", json=product_body(), headers=bank_ctx.system)
    assert r.status_code == 201


RULES = [
    # (body overrides at the line → passes, over the line → fails with this rule)
    ("certificate_loan", {"max_amount_fen": 5_000_000}, {"max_amount_fen": 5_000_001}, "certificate_loan_max_amount"),
    ("certificate_loan", {"collateral_types": []}, {"collateral_types": ["vehicle"]}, "certificate_loan_no_collateral"),
    ("certificate_loan", {"guarantee_required": False}, {"guarantee_required": True}, "certificate_loan_no_guarantee"),
    ("certificate_loan", {"max_annual_rate_bp": 675}, {"max_annual_rate_bp": 676}, "certificate_loan_max_rate"),
    (
        "poverty_microcredit",
        {"max_amount_fen": 5_000_000},
        {"max_amount_fen": 5_000_001},
        "poverty_microcredit_max_amount",
    ),
    (
        "poverty_microcredit",
        {"collateral_types": []},
        {"collateral_types": ["livestock"]},
        "poverty_microcredit_no_collateral",
    ),
    (
        "poverty_microcredit",
        {"guarantee_required": False},
        {"guarantee_required": True},
        "poverty_microcredit_no_guarantee",
    ),
    ("poverty_microcredit", {"max_term_months": 36}, {"max_term_months": 37}, "poverty_microcredit_max_term"),
]


def inclusive(kind: str, **over: object) -> dict[str, object]:
    base = certificate_body(kind=kind, max_term_months=36, min_term_months=1)
    base.update(over)
    return base


@pytest.mark.parametrize(("kind", "at", "over", "rule"), RULES, ids=[r[3] for r in RULES])
async def test_compliance_rule_at_and_over_the_line(
    client: httpx.AsyncClient, bank_ctx: BankCtx, kind: str, at: dict, over: dict, rule: str
) -> None:
    ok = await create(client, bank_ctx, **{k: v for k, v in inclusive(kind, **at).items()})
    r = await client.post(f"/bank/products/{ok['id']}/submit", headers=bank_ctx.headers)
    assert r.status_code == 200 and r.json()["status"] == "pending_review"

    bad = await create(client, bank_ctx, **{k: v for k, v in inclusive(kind, **over).items()})
    r = await client.post(f"/bank/products/{bad['id']}/submit", headers=bank_ctx.headers)
    assert r.status_code == 422 and r.json()["code"] == "compliance_failed"
    assert [e["field"] for e in r.json()["errors"]] == [rule]
    r = await client.get(f"/bank/products/{bad['id']}", headers=bank_ctx.headers)
    assert r.json()["status"] == "draft"


async def test_every_failed_rule_is_listed(client: httpx.AsyncClient, bank_ctx: BankCtx) -> None:
    bad = await create(
        client,
        bank_ctx,
        **inclusive(
            "certificate_loan",
            max_amount_fen=9_000_000,
            collateral_types=["machinery"],
            guarantee_required=True,
            max_annual_rate_bp=800,
        ),
    )
    r = await client.post(f"/bank/products/{bad['id']}/submit", headers=bank_ctx.headers)
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {
        "certificate_loan_max_amount",
        "certificate_loan_no_collateral",
        "certificate_loan_no_guarantee",
        "certificate_loan_max_rate",
    }


async def test_limits_are_policy_data(client: httpx.AsyncClient, bank_ctx: BankCtx, regulator_headers, session) -> None:
    """Approval re-checks against the policy as it stands then."""
    from app.catalog.models import ComplianceRule

    p = await create(client, bank_ctx, **inclusive("certificate_loan", max_annual_rate_bp=600))
    assert (await client.post(f"/bank/products/{p['id']}/submit", headers=bank_ctx.headers)).status_code == 200
    rule = await session.get(ComplianceRule, "certificate_loan_max_rate")
    rule.limit_value = 550
    await session.commit()
    try:
        r = await client.post(f"/admin/products/{p['id']}/approve", headers=regulator_headers)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "certificate_loan_max_rate"
    finally:
        rule = await session.get(ComplianceRule, "certificate_loan_max_rate")
        rule.limit_value = 675
        await session.commit()
    r = await client.post(f"/admin/products/{p['id']}/approve", headers=regulator_headers)
    assert r.status_code == 200 and r.json()["status"] == "published"


async def test_lifecycle_review_and_revision_swap(
    client: httpx.AsyncClient, bank_ctx: BankCtx, regulator_headers, session
) -> None:
    p = await create(client, bank_ctx, name="确山县农机贷")
    pid = p["id"]
    r = await client.post(f"/admin/products/{pid}/approve", headers=regulator_headers)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    assert (await client.post(f"/bank/products/{pid}/submit", headers=bank_ctx.headers)).status_code == 200
    r = await client.patch(f"/bank/products/{pid}", json={"name": "改名"}, headers=bank_ctx.headers)
    assert r.status_code == 409
    r = await client.post(f"/admin/products/{pid}/reject", json={"reason": "利率说明不清"}, headers=regulator_headers)
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["reject_reason"] == "利率说明不清"
    assert (await client.get(f"/products/{pid}")).status_code == 404
    r = await client.patch(f"/bank/products/{pid}", json={"description": "年化利率 4.5%–8%"}, headers=bank_ctx.headers)
    assert r.status_code == 200 and r.json()["status"] == "draft"
    assert (await client.post(f"/bank/products/{pid}/submit", headers=bank_ctx.headers)).status_code == 200
    r = await client.post(f"/admin/products/{pid}/approve", headers=regulator_headers)
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert (await client.get(f"/products/{pid}")).json()["name"] == "确山县农机贷"

    # Editing the published product edits its revision; the catalog keeps the published version.
    r = await client.patch(f"/bank/products/{pid}", json={"name": "确山县农机贷二期"}, headers=bank_ctx.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "published" and body["name"] == "确山县农机贷"
    assert body["revision"]["name"] == "确山县农机贷二期" and body["revision"]["status"] == "draft"
    assert (await client.get(f"/products/{pid}")).json()["name"] == "确山县农机贷"
    assert (await client.post(f"/bank/products/{pid}/submit", headers=bank_ctx.headers)).status_code == 200
    assert (await client.get(f"/products/{pid}")).json()["name"] == "确山县农机贷"
    r = await client.post(f"/admin/products/{pid}/reject", json={"reason": "名称不规范"}, headers=regulator_headers)
    assert r.json()["status"] == "published" and r.json()["revision"]["status"] == "rejected"
    assert (await client.get(f"/products/{pid}")).json()["name"] == "确山县农机贷"
    r = await client.patch(f"/bank/products/{pid}", json={"name": "确山县农机贷新版"}, headers=bank_ctx.headers)
    assert (await client.post(f"/bank/products/{pid}/submit", headers=bank_ctx.headers)).status_code == 200
    r = await client.post(f"/admin/products/{pid}/approve", headers=regulator_headers)
    assert r.status_code == 200 and r.json()["revision"] is None and r.json()["name"] == "确山县农机贷新版"
    assert (await client.get(f"/products/{pid}")).json()["name"] == "确山县农机贷新版"

    history = [(h["decision"], h["revision"]) for h in r.json()["reviews"]]
    assert history == [
        ("submitted", False),
        ("rejected", False),
        ("submitted", False),
        ("approved", False),
        ("submitted", True),
        ("rejected", True),
        ("submitted", True),
        ("approved", True),
    ]
    assert r.json()["reviews"][1]["reasons"] == ["利率说明不清"]

    r = await client.post(f"/bank/products/{pid}/withdraw", headers=bank_ctx.headers)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert (await client.get(f"/products/{pid}")).status_code == 404
    assert (await client.post(f"/bank/products/{pid}/withdraw", headers=bank_ctx.headers)).status_code == 409

    events = (await session.execute(select(Event.type).where(Event.bank_id == bank_ctx.bank.id))).scalars().all()
    assert events.count("product.approved") == 2 and events.count("product.rejected") == 2
    kinds = (
        (await session.execute(select(Notification.kind).where(Notification.bank_id == bank_ctx.bank.id)))
        .scalars()
        .all()
    )
    assert "product.approved" in kinds and "product.rejected" in kinds
    await session.commit()


async def test_review_queue_oldest_first_and_region(
    client: httpx.AsyncClient, factory: Factory, bank_ctx: BankCtx, regulator_headers
) -> None:
    ids = []
    for county in ("411725", "411726"):
        p = await create(client, bank_ctx, county_codes=[county])
        await client.post(f"/bank/products/{p['id']}/submit", headers=bank_ctx.headers)
        ids.append(p["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"status": "pending_review", "limit": 50}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get("/admin/products", params=params, headers=regulator_headers)).json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen.index(ids[0]) < seen.index(ids[1])
    queshan = factory.headers(await factory.user("regulator", region_code="411725"))
    body = (await client.get("/admin/products", params={"limit": 100}, headers=queshan)).json()
    got = {i["id"] for i in body["items"]}
    assert ids[0] in got and ids[1] not in got
    r = await client.post(f"/admin/products/{ids[1]}/approve", headers=queshan)
    assert r.status_code == 404
    r = await client.post(f"/admin/products/{ids[0]}/approve", headers=queshan)
    assert r.status_code == 200


async def test_tenancy_other_banks_products_are_404_and_unchanged(
    client: httpx.AsyncClient, bank_ctx: BankCtx, other_bank: BankCtx, regulator_headers, session
) -> None:
    mine = await publish(client, bank_ctx, regulator_headers)
    pid = mine["id"]
    for headers in (other_bank.headers, other_bank.system):
        assert (await client.get(f"/bank/products/{pid}", headers=headers)).status_code == 404
        r = await client.patch(f"/bank/products/{pid}", json={"name": "抢走"}, headers=headers)
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert (await client.post(f"/bank/products/{pid}/submit", headers=headers)).status_code == 404
        assert (await client.post(f"/bank/products/{pid}/withdraw", headers=headers)).status_code == 404
        r = await client.post(
            f"/bank/products/{pid}/images", files={"file": ("a.png", b"x", "image/png")}, headers=headers
        )
        assert r.status_code == 404
        listed = (await client.get("/bank/products", params={"limit": 100}, headers=headers)).json()["items"]
        assert pid not in [i["id"] for i in listed]
    product = await session.get(Product, uuid.UUID(pid))
    assert product is not None and product.status == "published" and product.revision is None
    assert product.name == mine["name"]
    await session.commit()
    r = await client.get(f"/bank/products/{uuid.uuid4()}", headers=bank_ctx.headers)
    assert r.status_code == 404


async def test_bfla(client: httpx.AsyncClient, factory: Factory, bank_ctx: BankCtx, farmer_headers) -> None:
    pid = str(uuid.uuid4())
    agent = factory.headers(await factory.user("station_agent"))
    no_scope = system_headers(bank_ctx.bank.id, scope="loans:write")
    routes = [
        ("POST", "/bank/products", product_body()),
        ("GET", "/bank/products", None),
        ("GET", f"/bank/products/{pid}", None),
        ("PATCH", f"/bank/products/{pid}", {"name": "x"}),
        ("POST", f"/bank/products/{pid}/submit", None),
        ("POST", f"/bank/products/{pid}/withdraw", None),
        ("GET", "/admin/products", None),
        ("POST", f"/admin/products/{pid}/approve", None),
        ("POST", f"/admin/products/{pid}/reject", {"reason": "不合规"}),
        ("PUT", "/partner/products/x1", product_body()),
        ("GET", "/partner/products/x1", None),
        ("DELETE", "/partner/products/x1", None),
        ("POST", "/partner/products/batch", {"items": [product_body(external_id="x")]}),
    ]
    for method, path, body in routes:
        r = await client.request(method, path, json=body)
        assert r.status_code == 401, (method, path)
        for headers in (farmer_headers, agent, no_scope):
            r = await client.request(method, path, json=body, headers=headers)
            assert r.status_code == 403, (method, path, r.text)
    # bank staff and bank systems are not regulators; bank staff are not bank systems
    for method, path, body in routes[6:9]:
        for headers in (bank_ctx.headers, bank_ctx.system):
            assert (await client.request(method, path, json=body, headers=headers)).status_code == 403
    for method, path, body in routes[9:]:
        assert (await client.request(method, path, json=body, headers=bank_ctx.headers)).status_code == 403
