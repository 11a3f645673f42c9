"""Regulators stay inside their region (issue 13 item 7; SECURITY.md): every route a regulator can reach.

Tenant A is county 411725: a borrower (household, certificate, draw-down, objection), a product under review
that serves only 411725, and their audit entries (sealed, so that their region is filled). The regulator of
411726 calls every regulator route (found by walking the app's routes: each route whose role check admits a
regulator must have a check below, so a new one fails here until it has): object routes answer 404 and change
nothing, lists and statistics show nothing of 411725. The regulator of 411725 sees the same things, so that
no check passes by showing nothing to anyone. BFLA for these routes (farmer, bank, system, no token) is
test_access_matrix.py's walk over /admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from app.catalog.models import Product
from app.credit.models import Certificate, Household, Objection
from app.drawdowns.models import Drawdown
from app.risk.models import BridgeLoan, CompensationClaim, RiskFund
from tests.builders.catalog import product_body
from tests.builders.drawdowns import Borrower, Lending
from tests.factories import Factory
from tests.security.test_access_matrix import client_headers
from tests.security.test_object_matrix import row_of


def _names(dependant: Any) -> Iterator[str]:
    for sub in dependant.dependencies:
        yield str(getattr(sub.call, "__name__", ""))
        yield from _names(sub)


def regulator_routes(app: FastAPI) -> set[tuple[str, str]]:
    out = set()
    for rc in iter_route_contexts(app.routes):
        if not (rc.path or "").startswith("/api/v1/"):
            continue
        if any(n.startswith("require_") and "regulator" in n for n in _names(rc.dependant)):
            for m in (rc.methods or set()) - {"HEAD", "OPTIONS"}:
                out.add((m, (rc.path or "").removeprefix("/api/v1")))
    return out


@dataclass
class World:
    client: httpx.AsyncClient
    factory: Factory
    a: Borrower
    drawdown_id: str
    objection_id: str
    product_id: str
    shared_product_id: str  # serves 411725 and 411726: the 411726 regulator may see it
    outsider: dict[str, str]  # the regulator of 411726
    insider: dict[str, str]  # the regulator of 411725
    township: dict[str, str]  # a regulator of a township of 411725

    async def pages(self, url: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        for _ in range(200):
            q = {**params, "limit": 100, **({"cursor": cursor} if cursor else {})}
            r = await self.client.get(url, params=q, headers=headers)
            assert r.status_code == 200, r.text
            items += r.json()["items"]
            cursor = r.json()["next_cursor"]
            if not cursor:
                return items
        raise AssertionError("too many pages")


Check = Callable[[World], Awaitable[list[str]]]


def expect_404(method: str, url: str, body: Any, snapshot: Callable[[World], Any] | None = None) -> Check:
    async def check(w: World) -> list[str]:
        target = url.format(w=w)
        snap = snapshot(w) if snapshot else None
        before = await snap() if snap else None
        r = await w.client.request(method, target, json=body, headers=w.outsider)
        out = [] if r.status_code == 404 else [f"{method} {target} as 411726: {r.status_code} {r.text[:150]}"]
        if snap and await snap() != before:
            out.append(f"{method} {target}: the object changed")
        return out

    return check


async def _products(w: World) -> list[str]:
    out = []
    outside = {p["id"] for p in await w.pages("/admin/products", w.outsider, status="pending_review")}
    if w.product_id in outside:
        out.append("GET /admin/products: 411726 sees a product of 411725 only")
    if w.shared_product_id not in outside:
        out.append("GET /admin/products: 411726 misses a product serving 411725 and 411726")
    for who, headers in (("411725", w.insider), ("a township of 411725", w.township)):
        if w.product_id not in {p["id"] for p in await w.pages("/admin/products", headers, status="pending_review")}:
            out.append(f"GET /admin/products: the regulator of {who} misses its own product")
    r = await w.client.get(f"/admin/products/{w.shared_product_id}", headers=w.outsider)
    if r.status_code != 200:
        out.append(f"GET /admin/products/{{id}} of a shared product: {r.status_code}")
    return out


async def _households(w: World) -> list[str]:
    out = []
    village = w.a.household.village_code
    r = await w.client.get("/admin/households", params={"village_code": village}, headers=w.outsider)
    if r.status_code not in (200, 404) or (r.status_code == 200 and r.json()["items"]):
        out.append(f"GET /admin/households?village_code=<411725's>: {r.status_code} {r.text[:150]}")
    if str(w.a.household.id) in {h["id"] for h in await w.pages("/admin/households", w.outsider)}:
        out.append("GET /admin/households: 411726 lists a household of 411725")
    mine = await w.pages("/admin/households", w.insider, village_code=village)
    if str(w.a.household.id) not in {h["id"] for h in mine}:
        out.append("GET /admin/households: 411725 misses its own household")
    return out


async def _objections(w: World) -> list[str]:
    out = []
    if w.objection_id in {o["id"] for o in await w.pages("/admin/objections", w.outsider)}:
        out.append("GET /admin/objections: 411726 lists an objection of 411725")
    if w.objection_id not in {o["id"] for o in await w.pages("/admin/objections", w.insider)}:
        out.append("GET /admin/objections: 411725 misses its own objection")
    return out


async def _audit(w: World) -> list[str]:
    out = []
    for object_id in (w.drawdown_id, str(w.a.household.id), w.objection_id, w.product_id):
        seen = await w.pages("/admin/audit", w.outsider, object_id=object_id)
        if seen:
            out.append(f"GET /admin/audit: 411726 reads {[e['action'] for e in seen]} of 411725's {object_id}")
    everything = {e["object_id"] for e in await w.pages("/admin/audit", w.outsider, since="2020-01-01T00:00:00Z")}
    if everything & {w.drawdown_id, w.objection_id}:
        out.append("GET /admin/audit (unfiltered): 411726 reads 411725's entries")
    if not await w.pages("/admin/audit", w.insider, object_id=w.drawdown_id):
        out.append("GET /admin/audit: 411725 misses its own draw-down's entries")
    return out


def _region_404(url: str) -> Check:
    async def check(w: World) -> list[str]:
        out = []
        r = await w.client.get(url, params={"region": "411725"}, headers=w.outsider)
        if r.status_code != 404:
            out.append(f"GET {url}?region=411725 as 411726: {r.status_code}")
        r = await w.client.get(url, params={"region": "4117"}, headers=w.outsider)
        if r.status_code != 404:
            out.append(f"GET {url}?region=4117 (the city above it) as 411726: {r.status_code}")
        r = await w.client.get(url, headers=w.outsider)
        if r.status_code != 200 or "411725" in r.text:
            out.append(f"GET {url} as 411726 (its own region): {r.status_code} mentions 411725")
        return out

    return check


async def _import(w: World) -> list[str]:
    row = {
        "id_number": "411725199001011234",
        "real_name": "越界户",
        "phone": "13900000000",
        "village_code": w.a.household.village_code,
        "provincial_score": 90,
        "village_score": 90,
        "vetoes": [],
        "is_registered_poor": False,
    }
    r = await w.client.post("/admin/ratings/import", json={"rows": [row]}, headers=w.outsider)
    if r.status_code != 200 or r.json()["created"] or r.json()["updated"] or r.json()["rows"][0]["ok"]:
        return [f"POST /admin/ratings/import of a 411725 row as 411726: {r.status_code} {r.text[:200]}"]
    return []


async def _catalogue(w: World) -> list[str]:
    r = await w.client.get("/admin/rating-factors", headers=w.outsider)  # the same catalogue for every region
    return [] if r.status_code == 200 else [f"GET /admin/rating-factors: {r.status_code}"]


def _snap(model: Any, attr: str) -> Callable[[World], Any]:
    return lambda w: row_of(w.factory, model, uuid.UUID(str(getattr_path(w, attr))))


def getattr_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


_RISK: dict[int, dict[str, str]] = {}


async def _risk_world(w: World) -> dict[str, str]:
    """A compensation fund, a filed claim and a requested bridge loan of 411725, made once per World."""
    if id(w) not in _RISK:
        from tests.builders.risk import Risk

        risk = Risk(w.factory, w.client)
        fund = await risk.fund("411725")
        r = await risk.sharing(fund["id"], 5000, 3000, 2000)
        assert r.status_code == 200, r.text
        loss = await risk.loss("411725", 100_000)
        r = await risk.file(loss)
        assert r.status_code == 201, r.text
        claim_id = r.json()["id"]
        r = await w.client.post(
            "/bank/bridge-loans", json=risk.bridge_body("411725"), headers=await risk.bank_admin(loss.borrower)
        )
        assert r.status_code == 201, r.text
        _RISK[id(w)] = {"fund": fund["id"], "claim": claim_id, "bridge": r.json()["id"]}
    return _RISK[id(w)]


def _risk_list(url: str, kind: str) -> Check:
    """A county's funds, claims and bridge loans: absent from another county's list, present in its own."""

    async def check(w: World) -> list[str]:
        target = (await _risk_world(w))[kind]
        out = []
        if target in {x["id"] for x in await w.pages(url, w.outsider)}:
            out.append(f"GET {url}: 411726 sees an object of 411725")
        if target not in {x["id"] for x in await w.pages(url, w.insider)}:
            out.append(f"GET {url}: the regulator of 411725 misses its own")
        return out

    return check


def _risk_404(method: str, path: str, kind: str, body: Any = None) -> Check:
    async def check(w: World) -> list[str]:
        target = (await _risk_world(w))[kind]
        model = {"fund": RiskFund, "claim": CompensationClaim, "bridge": BridgeLoan}[kind]
        snap = row_of(w.factory, model, uuid.UUID(target))
        before = await snap()
        url = path.format(id=target)
        r = await w.client.request(method, url, json=body, headers=w.outsider)
        out = [] if r.status_code == 404 else [f"{method} {url} as 411726: {r.status_code} {r.text[:150]}"]
        if await snap() != before:
            out.append(f"{method} {url}: the object changed")
        return out

    return check


_KEY: dict[int, str] = {}
_KEY_BODY = {"name": "确山县示范食品有限公司", "county_code": "411725", "note": ""}


async def _key_enterprise(w: World) -> str:
    """A key enterprise on 411725's list (名录库), put there by its own regulator, once per World."""
    if id(w) not in _KEY:
        from tests.factories import make_uscc

        code = make_uscc()
        r = await w.client.put(f"/admin/key-enterprises/{code}", json=_KEY_BODY, headers=w.insider)
        assert r.status_code == 201, r.text
        _KEY[id(w)] = code
    return _KEY[id(w)]


async def _key_list(w: World) -> list[str]:
    code = await _key_enterprise(w)
    out = []
    url = "/admin/key-enterprises"
    if code in {x["unified_social_credit_code"] for x in await w.pages(url, w.outsider)}:
        out.append(f"GET {url}: 411726 sees 411725's key enterprise")
    if code not in {x["unified_social_credit_code"] for x in await w.pages(url, w.insider)}:
        out.append(f"GET {url}: the regulator of 411725 misses its own key enterprise")
    return out


def _key_write(method: str, body: Any) -> Check:
    """Another county's regulator can neither change nor take off 411725's entry (403 for a county not its own,
    404 for an entry it cannot see), and the entry is unchanged."""

    async def check(w: World) -> list[str]:
        from app.enterprises.models import KeyEnterprise

        code = await _key_enterprise(w)
        snap = row_of(w.factory, KeyEnterprise, code)
        before = await snap()
        url = f"/admin/key-enterprises/{code}"
        r = await w.client.request(method, url, json=body, headers=w.outsider)
        out = [] if r.status_code in (403, 404) else [f"{method} {url} as 411726: {r.status_code} {r.text[:150]}"]
        if await snap() != before:
            out.append(f"{method} {url}: the entry changed")
        return out

    return check


RATING = {"provincial_score": "99", "village_score": "99"}
CHECKS: dict[tuple[str, str], Check] = {
    ("GET", "/admin/products"): _products,
    ("GET", "/admin/products/{product_id}"): expect_404("GET", "/admin/products/{w.product_id}", None),
    ("POST", "/admin/products/{product_id}/approve"): expect_404(
        "POST", "/admin/products/{w.product_id}/approve", None, _snap(Product, "product_id")
    ),
    ("POST", "/admin/products/{product_id}/reject"): expect_404(
        "POST", "/admin/products/{w.product_id}/reject", {"reason": "越权驳回"}, _snap(Product, "product_id")
    ),
    ("GET", "/admin/households"): _households,
    ("GET", "/admin/households/{household_id}"): expect_404("GET", "/admin/households/{w.a.household.id}", None),
    ("PUT", "/admin/households/{household_id}/rating"): expect_404(
        "PUT", "/admin/households/{w.a.household.id}/rating", RATING, _snap(Household, "a.household.id")
    ),
    ("GET", "/admin/objections"): _objections,
    ("POST", "/admin/objections/{objection_id}/resolve"): expect_404(
        "POST", "/admin/objections/{w.objection_id}/resolve", {"resolution": "越权"}, _snap(Objection, "objection_id")
    ),
    ("POST", "/admin/certificates/{certificate_id}/freeze"): expect_404(
        "POST", "/admin/certificates/{w.a.certificate.id}/freeze", {"reason": "越权"}, _snap(Certificate, "a.certificate.id")
    ),
    ("POST", "/admin/certificates/{certificate_id}/unfreeze"): expect_404(
        "POST", "/admin/certificates/{w.a.certificate.id}/unfreeze", {"reason": "越权"}, _snap(Certificate, "a.certificate.id")
    ),
    ("GET", "/admin/audit"): _audit,
    ("GET", "/admin/stats/coverage"): _region_404("/admin/stats/coverage"),
    ("GET", "/admin/stats/coverage.csv"): _region_404("/admin/stats/coverage.csv"),
    ("GET", "/admin/stats/snapshots"): _region_404("/admin/stats/snapshots"),
    ("POST", "/admin/ratings/import"): _import,
    ("GET", "/admin/rating-factors"): _catalogue,
    ("GET", "/admin/risk-funds"): _risk_list("/admin/risk-funds", "fund"),
    ("GET", "/admin/risk-funds/{fund_id}"): _risk_404("GET", "/admin/risk-funds/{id}", "fund"),
    ("GET", "/admin/risk-funds/{fund_id}/entries"): _risk_404("GET", "/admin/risk-funds/{id}/entries", "fund"),
    ("GET", "/admin/risk-funds/{fund_id}/sharing"): _risk_404("GET", "/admin/risk-funds/{id}/sharing", "fund"),
    ("GET", "/admin/compensation-claims"): _risk_list("/admin/compensation-claims", "claim"),
    ("GET", "/admin/compensation-claims/{claim_id}"): _risk_404("GET", "/admin/compensation-claims/{id}", "claim"),
    ("POST", "/admin/compensation-claims/{claim_id}/approve"): _risk_404(
        "POST", "/admin/compensation-claims/{id}/approve", "claim"
    ),
    ("POST", "/admin/compensation-claims/{claim_id}/reject"): _risk_404(
        "POST", "/admin/compensation-claims/{id}/reject", "claim", {"reason": "越权驳回"}
    ),
    ("GET", "/admin/bridge-loans"): _risk_list("/admin/bridge-loans", "bridge"),
    ("GET", "/admin/bridge-loans/{bridge_id}"): _risk_404("GET", "/admin/bridge-loans/{id}", "bridge"),
    ("POST", "/admin/bridge-loans/{bridge_id}/approve"): _risk_404("POST", "/admin/bridge-loans/{id}/approve", "bridge"),
    ("POST", "/admin/bridge-loans/{bridge_id}/reject"): _risk_404(
        "POST", "/admin/bridge-loans/{id}/reject", "bridge", {"reason": "越权驳回"}
    ),
    ("GET", "/admin/key-enterprises"): _key_list,
    ("PUT", "/admin/key-enterprises/{unified_social_credit_code}"): _key_write("PUT", {**_KEY_BODY, "name": "越权改名"}),
    ("DELETE", "/admin/key-enterprises/{unified_social_credit_code}"): _key_write("DELETE", None),
}  # fmt: skip


async def test_regulator_of_another_county_sees_nothing(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    routes = regulator_routes(app)
    assert len(routes) >= 15, routes  # the walk found the regulator's routes
    missing = routes - set(CHECKS)
    assert not missing, f"regulator routes without a region check here: {sorted(missing)}"

    lending = Lending(factory, client)
    a = await lending.borrower(village=await factory.fresh_village("411725"))
    r = await lending.submit(a, 500_000)
    assert r.status_code == 201, r.text
    drawdown_id = r.json()["id"]
    r = await client.post("/me/credit/objections", json={"reason": "评分有误"}, headers=a.headers)
    assert r.status_code == 201, r.text
    objection_id = r.json()["id"]
    system = client_headers(a.bank.id, "products:write")
    r = await client.put(
        f"/partner/products/R-{uuid.uuid4().hex[:8]}", json=product_body(county_codes=["411725"]), headers=system
    )
    assert r.status_code == 201 and r.json()["status"] == "pending_review", r.text
    product_id = r.json()["id"]
    shared_bank = await factory.bank(["411725", "411726"])
    r = await client.put(
        f"/partner/products/S-{uuid.uuid4().hex[:8]}",
        json=product_body(county_codes=["411725", "411726"]),
        headers=client_headers(shared_bank.id, "products:write"),
    )
    assert r.status_code == 201, r.text
    shared_product_id = r.json()["id"]
    from app.worker import seal_audit

    while await seal_audit(app.state.db, app.state.redis):  # regions are filled as entries are sealed
        pass
    w = World(
        client,
        factory,
        a,
        drawdown_id,
        objection_id,
        product_id,
        shared_product_id,
        outsider=factory.headers(await factory.user("regulator", region_code="411726")),
        insider=factory.headers(await factory.user("regulator", region_code="411725")),
        township=factory.headers(await factory.user("regulator", region_code=a.household.village_code[:9])),
    )
    failures: list[str] = []
    for key in sorted(routes):
        failures += await CHECKS[key](w)
    async with factory.session() as s:
        dd = await s.get(Drawdown, uuid.UUID(drawdown_id))
        assert dd is not None and dd.status == "submitted"
    assert not failures, "\n".join(failures)


def test_common_prefix_is_a_region_code() -> None:
    from app.auditlog.regions import common_prefix

    assert common_prefix(["411725"]) == "411725"
    assert common_prefix(["411725", "411726"]) == "4117"  # 41172 is no region: the city holds them both
    assert common_prefix(["411725001001", "411725001002"]) == "411725001"
    assert common_prefix(["411725", "410100"]) == "41"
    assert common_prefix([]) is None and common_prefix(["411725", "320100"]) is None
