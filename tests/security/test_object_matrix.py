"""BOLA matrix (OWASP API1): every object a tenant owns, created as tenant A, is hit on every route that
addresses it (found by walking `app.routes`) as tenant B, another farmer or another bank: 404 each time, and the
object (and what hangs off it) is unchanged in the database afterwards.

A new route on one of these objects is picked up automatically; it fails here until it has a body below (a body
is needed so that a 404 is not hidden behind a 422).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from PIL import Image
from sqlalchemy import func, select
from sqlmodel import SQLModel

from app.auth.models import ApiClient
from app.catalog.models import Product
from app.consents import service as consents
from app.consents.models import Consent
from app.core.dates import china_today
from app.credit.models import Certificate, Objection
from app.demands.models import Demand, DemandOffer
from app.drawdowns.models import Drawdown, Repayment
from app.notifications.models import Notification
from app.stations.models import Station
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.builders.catalog import product_body
from tests.builders.demands import Demands
from tests.builders.drawdowns import Lending
from tests.factories import Factory
from tests.security.test_access_matrix import client_headers


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 10)).save(buf, format="PNG")
    return buf.getvalue()


# Bodies valid enough to reach the ownership check, per (method, path under the object's prefix).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/cancel"): {"reason": "客户不再需要"},
    ("POST", "/approve"): {"annual_rate_bp": 500},
    ("POST", "/reject"): {"reason": "资料不全"},
    ("POST", "/disburse"): {},
    ("POST", "/extend"): {"months": 1},
    ("POST", "/renew"): None,
    ("POST", "/overdue"): None,
    ("POST", "/write-off"): None,
    ("POST", "/repayments"): lambda: {"amount_fen": 100, "paid_on": china_today().isoformat()},
    ("POST", "/withdraw"): None,
    ("POST", "/submit"): None,
    ("POST", "/rotate"): None,
    ("POST", "/test"): None,
    ("POST", "/images"): "multipart",
    ("POST", "/offers/{offer_id}/accept"): None,
    ("POST", "/offers/{offer_id}/decline"): None,
    ("DELETE", "/offers/{offer_id}"): None,
    ("DELETE", ""): None,
    ("GET", ""): None,
    ("GET", "/deliveries"): None,
}
PER_PREFIX: dict[tuple[str, str, str], Any] = {
    ("/api/v1/bank/drawdowns/{drawdown_id}", "POST", "/renew"): {"term_months": 6},
    ("/api/v1/bank/products/{product_id}", "PATCH", ""): {"name": "改名的产品"},
    ("/api/v1/bank/webhooks/{webhook_id}", "PATCH", ""): {"enabled": False},
    ("/api/v1/bank/stations/{station_id}", "PATCH", ""): {"name": "改名的服务站"},
}


# What the walk must find at least, so that a broken walk cannot pass silently.
MIN_ROUTES = {
    "/api/v1/bank/drawdowns/{drawdown_id}": 10,
    "/api/v1/bank/products/{product_id}": 5,
    "/api/v1/bank/webhooks/{webhook_id}": 4,
    "/api/v1/me/demands/{demand_id}": 5,
}


@dataclass
class Target:
    """One object of tenant A: its route prefix, the path values that address it, how to read it back."""

    prefix: str
    params: dict[str, str]
    snapshot: Callable[[], Awaitable[Any]]
    callers: list[dict[str, str]]  # tenant B's callers: each must get 404
    may_refuse: list[dict[str, str]] = field(default_factory=list)  # may also get 403 (a scope does not reach it)
    extra_bodies: dict[tuple[str, str], Any] = field(default_factory=dict)


def routes_under(app: FastAPI, prefix: str) -> list[tuple[str, str]]:
    out = []
    for rc in iter_route_contexts(app.routes):
        path = rc.path or ""
        if path == prefix or path.startswith(prefix + "/"):
            for m in sorted((rc.methods or set()) - {"HEAD", "OPTIONS"}):
                out.append((m, path[len(prefix) :]))
    return out


async def hit(
    client: httpx.AsyncClient, t: Target, method: str, suffix: str, headers: dict[str, str]
) -> httpx.Response:
    url = (t.prefix + suffix).removeprefix("/api/v1")
    for k, v in t.params.items():
        url = url.replace("{" + k + "}", v)
    if (method, suffix) in t.extra_bodies:
        body = t.extra_bodies[(method, suffix)]
    elif (t.prefix, method, suffix) in PER_PREFIX:
        body = PER_PREFIX[(t.prefix, method, suffix)]
    else:
        assert (method, suffix) in BODIES, f"no body in the BOLA matrix for {method} {t.prefix}{suffix}"
        body = BODIES[(method, suffix)]
    body = body() if callable(body) else body
    h = {**headers, "Idempotency-Key": uuid.uuid4().hex}
    if body == "multipart":
        return await client.request(method, url, files={"file": ("a.png", png(), "image/png")}, headers=h)
    return await client.request(method, url, json=body, headers=h)


async def check(app: FastAPI, client: httpx.AsyncClient, t: Target) -> list[str]:
    routes = routes_under(app, t.prefix)
    assert len(routes) >= MIN_ROUTES.get(t.prefix, 1), (t.prefix, routes)
    before = await t.snapshot()
    failures = []
    for method, suffix in routes:
        for headers in t.callers + t.may_refuse:
            r = await hit(client, t, method, suffix, headers)
            ok = {404} if headers in t.callers else {403, 404}
            if r.status_code not in ok:
                failures.append(f"{method} {t.prefix}{suffix}: {r.status_code} {r.text[:160]}")
    if await t.snapshot() != before:
        failures.append(f"{t.prefix}: the object changed")
    return failures


def row_of(factory: Factory, model: type[SQLModel], pk: Any, *children: Any) -> Callable[[], Awaitable[Any]]:
    async def snap() -> Any:
        async with factory.session() as s:
            row = await s.get(model, pk)
            assert row is not None
            counts = [await s.scalar(select(func.count()).select_from(c[0]).where(c[1] == pk)) for c in children]
            return row.model_dump(), counts

    return snap


async def test_farmer_objects(app: FastAPI, client: httpx.AsyncClient, factory: Factory) -> None:
    lending, demands = Lending(factory, client), Demands(factory, client)
    a = await lending.borrower()
    r = await lending.submit(a, 500_000)
    assert r.status_code == 201, r.text
    drawdown_id = r.json()["id"]
    fa = await demands.farmer()
    side = await demands.bank([fa.village[:6]])
    demand = await demands.posted(fa)
    r = await demands.offer(side, demand["id"])
    assert r.status_code == 201, r.text
    offer_id = r.json()["id"]
    async with factory.session() as s:
        consent = await consents.grant(
            s, user_id=a.user.id, household_id=a.household.id, bank_id=a.bank.id, source="activation"
        )
        await s.commit()
    r = await client.post("/me/credit/objections", json={"reason": "评分有误"}, headers=a.headers)
    assert r.status_code == 201, r.text
    objection_id = r.json()["id"]

    b = await lending.borrower()  # another farmer, linked and stepped up
    targets = [
        Target(
            "/api/v1/me/drawdowns/{drawdown_id}",
            {"drawdown_id": drawdown_id},
            row_of(factory, Drawdown, uuid.UUID(drawdown_id)),
            [b.headers],
        ),
        Target(
            "/api/v1/me/demands/{demand_id}",
            {"demand_id": demand["id"], "offer_id": offer_id},
            row_of(factory, Demand, uuid.UUID(demand["id"]), (DemandOffer, DemandOffer.demand_id)),
            [b.headers],
        ),
        Target(
            "/api/v1/me/consents/{consent_id}",
            {"consent_id": str(consent.id)},
            row_of(factory, Consent, consent.id),
            [b.headers],
        ),
        Target(
            "/api/v1/me/credit/objections/{objection_id}",
            {"objection_id": objection_id},
            row_of(factory, Objection, uuid.UUID(objection_id)),
            [b.headers],
        ),
    ]
    failures = []
    for t in targets:
        failures += await check(app, client, t)
    assert not failures, "\n".join(failures)
    async with factory.session() as s:
        offer = await s.get(DemandOffer, uuid.UUID(offer_id))
        assert offer is not None and offer.status == "pending"

    # Notifications have no route of their own: marking another's ids read marks nothing.
    async with factory.session() as s:
        ids = list((await s.execute(select(Notification.id).where(Notification.user_id == a.user.id))).scalars().all())
    assert ids
    r = await client.post("/me/notifications/read", json={"ids": [str(i) for i in ids]}, headers=b.headers)
    assert r.status_code == 200 and r.json()["marked"] == 0
    r = await client.get("/me/notifications", headers=b.headers)
    assert not {n["id"] for n in r.json()["items"]} & {str(i) for i in ids}
    async with factory.session() as s:
        unread = await s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == a.user.id, Notification.read_at.is_(None))
        )
    assert unread == len(ids)


async def test_bank_objects(app: FastAPI, client: httpx.AsyncClient, factory: Factory) -> None:
    lending, demands = Lending(factory, client), Demands(factory, client)
    # Tenant A: a bank serving 411725 with a borrower's draw-down, a product, an offer, a client, a webhook,
    # a station and a product uploaded by its system.
    a = await lending.borrower(village=await factory.fresh_village("411725"))
    bank_a = a.bank
    admin_a = factory.headers(await factory.user("bank_admin", bank_id=bank_a.id))
    r = await lending.submit(a, 500_000)
    assert r.status_code == 201, r.text
    drawdown_id = r.json()["id"]
    r = await lending.act(a, drawdown_id, "approve", {"annual_rate_bp": 600})
    assert r.status_code == 200, r.text
    product = await demands.product(bank_a, ["411725"])
    fa = await demands.farmer()
    demand = await demands.posted(fa)
    r = await client.post(
        f"/bank/demands/{demand['id']}/offers",
        json={"product_id": str(product.id), "amount_fen": 3_000_000, "annual_rate_bp": 550, "term_months": 12},
        headers=a.bank_headers,
    )
    assert r.status_code == 201, r.text
    offer_id = r.json()["id"]
    r = await client.post("/bank/api-clients", json={"name": "核心系统", "scopes": ["loans:write"]}, headers=admin_a)
    assert r.status_code == 201, r.text
    api_client_id = r.json()["id"]
    r = await client.post(
        "/bank/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["demand.created"]}, headers=admin_a
    )
    assert r.status_code == 201, r.text
    webhook_id = r.json()["id"]
    async with factory.session() as s:
        st = Station(
            name="A行服务站",
            village_code=await factory.fresh_village("411725"),
            address="村委会",
            lat=32.9,
            lng=114.1,
            host_bank_id=bank_a.id,
            manager_name="王建国",
            phone="13912340000",
            functions=["cash_withdrawal", "transfer_remittance", "payment_collection", "inquiry"],
        )
        s.add(st)
        await s.commit()
        station_id = st.id
    system_a = client_headers(bank_a.id, "products:write")
    external = f"EXT-{uuid.uuid4().hex[:8]}"
    r = await client.put(f"/partner/products/{external}", json=product_body(), headers=system_a)
    assert r.status_code == 201, r.text
    partner_product_id = uuid.UUID(r.json()["id"])

    # Tenant B: another bank (serving another county), its admin, staff and its system with every scope.
    bank_b = await factory.bank(["411702"])
    admin_b = factory.headers(await factory.user("bank_admin", bank_id=bank_b.id))
    staff_b = factory.headers(await factory.user("bank_staff", bank_id=bank_b.id))
    system_b = client_headers(bank_b.id, "products:write loans:write demands:write")
    product_b = await demands.product(bank_b, ["411702"])
    # Tenant C: another bank serving A's county, so that it legitimately sees the same demands and borrowers'
    # areas, but none of A's objects.
    bank_c = await factory.bank(["411725"])
    admin_c = factory.headers(await factory.user("bank_admin", bank_id=bank_c.id))
    staff_c = factory.headers(await factory.user("bank_staff", bank_id=bank_c.id))
    system_c = client_headers(bank_c.id, "products:write loans:write demands:write")

    targets = [
        Target(
            "/api/v1/bank/drawdowns/{drawdown_id}",
            {"drawdown_id": drawdown_id},
            row_of(factory, Drawdown, uuid.UUID(drawdown_id), (Repayment, Repayment.drawdown_id)),
            [admin_b, staff_b, system_b, admin_c, staff_c, system_c],
        ),
        Target(
            "/api/v1/bank/products/{product_id}",
            {"product_id": str(product.id)},
            row_of(factory, Product, product.id),
            [admin_b, staff_b, admin_c, staff_c],
            may_refuse=[system_b, system_c],
        ),
        Target(
            "/api/v1/bank/demands/{demand_id}",
            {"demand_id": demand["id"], "offer_id": offer_id},
            row_of(factory, Demand, uuid.UUID(demand["id"]), (DemandOffer, DemandOffer.demand_id)),
            [admin_b, staff_b, system_b],
            extra_bodies={
                ("POST", "/offers"): {
                    "product_id": str(product_b.id),
                    "amount_fen": 3_000_000,
                    "annual_rate_bp": 550,
                    "term_months": 12,
                }
            },
        ),
        Target(
            "/api/v1/bank/api-clients/{client_id}",
            {"client_id": api_client_id},
            row_of(factory, ApiClient, uuid.UUID(api_client_id)),
            [admin_b, admin_c],
            may_refuse=[staff_b, system_b, staff_c, system_c],
        ),
        Target(
            "/api/v1/bank/webhooks/{webhook_id}",
            {"webhook_id": webhook_id},
            row_of(factory, WebhookEndpoint, uuid.UUID(webhook_id), (WebhookDelivery, WebhookDelivery.endpoint_id)),
            [admin_b, admin_c],
            may_refuse=[staff_b, system_b, staff_c, system_c],
        ),
        Target(
            "/api/v1/bank/stations/{station_id}",
            {"station_id": str(station_id)},
            row_of(factory, Station, station_id),
            [admin_b, admin_c],
            may_refuse=[staff_b, system_b, staff_c, system_c],
        ),
    ]
    failures = []
    for t in targets:
        failures += await check(app, client, t)
    # The one /admin exception: freeze and unfreeze are open to the lead bank's admin only.
    cert_snap = row_of(factory, Certificate, a.certificate.id)
    before = await cert_snap()
    for action in ("freeze", "unfreeze"):
        for headers in (admin_b, admin_c):
            r = await client.post(
                f"/admin/certificates/{a.certificate.id}/{action}", json={"reason": "核查"}, headers=headers
            )
            if r.status_code != 404:
                failures.append(f"{action} A's borrower's certificate as another bank's admin: {r.status_code}")
    if await cert_snap() != before:
        failures.append("certificate changed")
    # C sees the demand (its county), but A's offer on it is not C's to withdraw.
    for headers in (admin_c, staff_c, system_c):
        r = await client.delete(f"/bank/demands/{demand['id']}/offers/{offer_id}", headers=headers)
        if r.status_code != 404:
            failures.append(f"DELETE A's offer as C: {r.status_code}")
    async with factory.session() as s:
        offer = await s.get(DemandOffer, uuid.UUID(offer_id))
        assert offer is not None and offer.status == "pending"
    # The partner namespace is per bank: B's GET and DELETE of A's external id find nothing; B's PUT of the
    # same external id makes B's own product and leaves A's as it was.
    snap = row_of(factory, Product, partner_product_id)
    before = await snap()
    for method in ("GET", "DELETE"):
        r = await client.request(method, f"/partner/products/{external}", headers=system_b)
        if r.status_code != 404:
            failures.append(f"{method} /partner/products/{{external_id}}: {r.status_code}")
    r = await client.put(f"/partner/products/{external}", json=product_body(county_codes=["411702"]), headers=system_b)
    assert r.status_code == 201 and r.json()["id"] != str(partner_product_id), r.text
    if await snap() != before:
        failures.append("partner product of A changed")
    assert not failures, "\n".join(failures)


async def test_bank_notifications(client: httpx.AsyncClient, factory: Factory) -> None:
    """Notifications have no route of their own: another bank's staff or admin marking A's ids read
    (bank-wide ones and a staff member's own) marks nothing, sees nothing, and A's stay unread."""
    from app.notifications.service import notify

    bank_a, bank_b = await factory.bank(["411725"]), await factory.bank(["411725"])
    staff_a = await factory.user("bank_staff", bank_id=bank_a.id)
    async with factory.session() as s:
        wide = await notify(s, kind="drawdown_submitted", title="新的用款申请", body="A行", bank_id=bank_a.id)
        own = await notify(s, kind="note", title="致A行员工", body="A行", user_id=staff_a.id, bank_id=bank_a.id)
        await s.commit()
        ids = [str(wide.id), str(own.id)]
    callers = [
        factory.headers(await factory.user("bank_admin", bank_id=bank_b.id)),
        factory.headers(await factory.user("bank_staff", bank_id=bank_b.id)),
    ]
    system_b = client_headers(bank_b.id, "products:write loans:write demands:write")
    r = await client.post("/bank/notifications/read", json={"ids": ids}, headers=system_b)
    assert r.status_code == 403, r.text  # notifications are for people: a bank system has none
    for headers in callers:
        r = await client.post("/bank/notifications/read", json={"ids": ids}, headers=headers)
        assert r.status_code == 200 and r.json()["marked"] == 0, r.text
        r = await client.post("/bank/notifications/read", json={"all": True}, headers=headers)
        assert r.status_code == 200, r.text
        r = await client.get("/bank/notifications", headers=headers)
        assert r.status_code == 200 and not {n["id"] for n in r.json()["items"]} & set(ids)
    async with factory.session() as s:
        rows = (await s.execute(select(Notification).where(Notification.id.in_([wide.id, own.id])))).scalars().all()
        assert len(rows) == 2 and all(n.read_at is None for n in rows)
    # A's own staff does see and read both.
    r = await client.post("/bank/notifications/read", json={"ids": ids}, headers=factory.headers(staff_a))
    assert r.status_code == 200 and r.json()["marked"] == 2


async def test_risk_objects(app: FastAPI, client: httpx.AsyncClient, factory: Factory) -> None:
    """Risk control: bank A's compensation claim and bridge loan are 404 to other banks (and their systems); a
    county's claims, bridge loans and funds are 404 to the regulator of another county."""
    from app.risk.models import BridgeLoan, CompensationClaim, FundEntry, RiskFund, SharingScheme
    from tests.builders.risk import Risk

    risk = Risk(factory, client)
    county = "411729"
    fund = await risk.fund(county)
    assert (await risk.sharing(fund["id"], 5000, 3000, 2000)).status_code == 200
    loss = await risk.loss(county, 100_000)
    r = await risk.file(loss)
    assert r.status_code == 201, r.text
    claim_id = r.json()["id"]
    admin_a = await risk.bank_admin(loss.borrower)
    r = await client.post("/bank/bridge-loans", json=risk.bridge_body(county), headers=admin_a)
    assert r.status_code == 201, r.text
    bridge_id = r.json()["id"]

    bank_b = await factory.bank([county])
    admin_b = factory.headers(await factory.user("bank_admin", bank_id=bank_b.id))
    staff_b = factory.headers(await factory.user("bank_staff", bank_id=bank_b.id))
    system_b = client_headers(bank_b.id, "products:write loans:write demands:write")
    regulator_b = await risk.regulator("411721")

    claim_snap = row_of(factory, CompensationClaim, uuid.UUID(claim_id))
    bridge_snap = row_of(factory, BridgeLoan, uuid.UUID(bridge_id))
    targets = [
        Target(
            "/api/v1/bank/compensation-claims/{claim_id}",
            {"claim_id": claim_id},
            claim_snap,
            [admin_b, staff_b, system_b],
        ),
        Target(
            "/api/v1/bank/bridge-loans/{bridge_id}",
            {"bridge_id": bridge_id},
            bridge_snap,
            [admin_b],
            may_refuse=[staff_b, system_b],
            extra_bodies={("POST", "/repay"): {"amount_fen": 1_000_000}},
        ),
        Target(
            "/api/v1/admin/compensation-claims/{claim_id}",
            {"claim_id": claim_id},
            claim_snap,
            [regulator_b],
            extra_bodies={("POST", "/approve"): None},
        ),
        Target(
            "/api/v1/admin/bridge-loans/{bridge_id}",
            {"bridge_id": bridge_id},
            bridge_snap,
            [regulator_b],
            extra_bodies={("POST", "/approve"): None},
        ),
        Target(
            "/api/v1/admin/risk-funds/{fund_id}",
            {"fund_id": fund["id"]},
            row_of(
                factory,
                RiskFund,
                uuid.UUID(fund["id"]),
                (FundEntry, FundEntry.fund_id),
                (SharingScheme, SharingScheme.fund_id),
            ),
            [],
            may_refuse=[regulator_b],  # reads are 404 to it, writes 403 (the admin's)
            extra_bodies={
                ("POST", "/entries"): {"kind": "deposit", "amount_fen": 1},
                ("GET", "/entries"): None,
                ("PUT", "/sharing"): {"government_bp": 10000, "bank_bp": 0, "insurer_bp": 0, "guarantor_bp": 0},
                ("GET", "/sharing"): None,
            },
        ),
    ]
    failures = []
    for t in targets:
        failures += await check(app, client, t)
    for path in ("", "/entries", "/sharing"):
        r = await client.get(f"/admin/risk-funds/{fund['id']}{path}", headers=regulator_b)
        if r.status_code != 404:
            failures.append(f"GET /admin/risk-funds/{{fund_id}}{path} as another county's regulator: {r.status_code}")
    # another bank may not claim on A's loan either
    r = await risk.file(loss, headers=admin_b)
    if r.status_code != 404:
        failures.append(f"POST /bank/compensation-claims on A's draw-down as B: {r.status_code}")
    assert not failures, "\n".join(failures)


async def test_regulator_objects(app: FastAPI, client: httpx.AsyncClient, factory: Factory) -> None:
    """A county's key-enterprise entry (名录库) is its regulator's: another county's regulator gets 404 on every
    route that addresses it, and the entry is unchanged."""
    from app.enterprises.models import KeyEnterprise
    from tests.factories import make_uscc

    mine = factory.headers(await factory.user("regulator", region_code="411725"))
    code = make_uscc()
    body = {"name": "确山县示范食品有限公司", "county_code": "411725", "note": ""}
    r = await client.put(f"/admin/key-enterprises/{code}", json=body, headers=mine)
    assert r.status_code == 201, r.text
    others = [
        factory.headers(await factory.user("regulator", region_code="411702")),
        factory.headers(await factory.user("regulator", region_code="411725101")),  # a township inside: not a county
    ]
    prefix = "/api/v1/admin/key-enterprises/{unified_social_credit_code}"
    target = Target(
        prefix,
        {"unified_social_credit_code": code},
        row_of(factory, KeyEnterprise, code),
        others,
        extra_bodies={("PUT", ""): {**body, "name": "改名"}},
    )
    assert not await check(app, client, target)
