"""Who may call the risk routes beyond the generic matrix (tests/security): the admin alone writes funds; a
regulator reads and decides; a bank system with `loans:write` files claims but has no bridge loans."""

from __future__ import annotations

import uuid

import httpx

from tests.builders.drawdowns import system_headers
from tests.builders.risk import Risk

COUNTY = "411728"


async def test_fund_writes_are_the_admins(risk: Risk, client: httpx.AsyncClient) -> None:
    fund = await risk.fund(COUNTY)
    reg = await risk.regulator(None)
    h = {**reg, "Idempotency-Key": uuid.uuid4().hex}
    r = await client.post("/admin/risk-funds", json={"county_code": COUNTY, "kind": "bridge"}, headers=h)
    assert r.status_code == 403
    r = await client.post(
        f"/admin/risk-funds/{fund['id']}/entries", json={"kind": "deposit", "amount_fen": 1}, headers=h
    )
    assert r.status_code == 403
    assert (await client.get(f"/admin/risk-funds/{fund['id']}", headers=reg)).status_code == 200


async def test_bank_system_files_claims_with_its_scope_only(risk: Risk, client: httpx.AsyncClient) -> None:
    fund = await risk.fund(COUNTY)
    assert (await risk.sharing(fund["id"], 5000, 3000, 2000)).status_code == 200
    loss = await risk.loss(COUNTY, 40_000)
    bank = loss.borrower.bank
    r = await risk.file(loss, headers=system_headers(bank, "products:write demands:write"))
    assert r.status_code == 403
    r = await risk.file(loss, headers=system_headers(bank, "loans:write"))
    assert r.status_code == 201, r.text
    filed = r.json()["id"]
    r = await client.get("/bank/compensation-claims", headers=system_headers(bank, "loans:write"))
    assert [c["id"] for c in r.json()["items"]] == [filed]
    for method, path in (("GET", "/bank/bridge-loans"), ("POST", "/bank/bridge-loans")):
        r = await client.request(
            method,
            path,
            json=risk.bridge_body(COUNTY) if method == "POST" else None,
            headers=system_headers(bank, "loans:write"),
        )
        assert r.status_code == 403, (method, r.text)
    r = await client.get("/bank/compensation-claims", headers=(await risk.regulator(None)))
    assert r.status_code == 403
