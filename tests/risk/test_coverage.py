"""The coverage statistics carry each county's fund balances and whether a fund is below its minimum."""

from __future__ import annotations

import csv
import io

import httpx

from tests.builders.risk import Risk

COUNTY = "411726"


async def test_county_items_carry_the_funds(risk: Risk, client: httpx.AsyncClient) -> None:
    comp = await risk.fund(COUNTY)
    bridge = await risk.fund(COUNTY, "bridge")
    await risk.set_balance(comp["id"], 3_000_000_000)
    await risk.set_balance(bridge["id"], 2_000_000_000)
    admin = await risk.admin()

    async def item() -> dict:
        r = await client.get("/admin/stats/coverage", params={"region": "4117"}, headers=admin)
        assert r.status_code == 200, r.text
        return {i["code"]: i for i in r.json()["items"]}[COUNTY]

    got = await item()
    assert (got["compensation_balance_fen"], got["bridge_balance_fen"], got["fund_below_minimum"]) == (
        3_000_000_000,
        2_000_000_000,
        False,
    )
    assert (await risk.entry(bridge["id"], "withdrawal", 1)).status_code == 201
    got = await item()
    assert got["bridge_balance_fen"] == 1_999_999_999 and got["fund_below_minimum"] is True

    r = await client.get("/admin/stats/coverage.csv", params={"region": "4117"}, headers=admin)
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    row = next(x for x in rows if x["code"] == COUNTY)
    assert (row["compensation_balance_fen"], row["bridge_balance_fen"], row["fund_below_minimum"]) == (
        "3000000000",
        "1999999999",
        "true",
    )
    # below the county level there are no funds: the fields are null
    r = await client.get("/admin/stats/coverage", params={"region": COUNTY}, headers=admin)
    assert all(i["compensation_balance_fen"] is None and i["fund_below_minimum"] is None for i in r.json()["items"])


async def test_a_county_without_funds_is_below_the_minimum(client: httpx.AsyncClient, risk: Risk) -> None:
    r = await client.get("/admin/stats/coverage", params={"region": "4117"}, headers=await risk.admin())
    items = {i["code"]: i for i in r.json()["items"]}
    r = await client.get("/admin/risk-funds", params={"limit": 100}, headers=await risk.admin())
    funded = {(f["county_code"], f["kind"]) for f in r.json()["items"]}
    for code, i in items.items():
        if (code, "compensation") not in funded:
            assert i["compensation_balance_fen"] == 0 and i["fund_below_minimum"] is True
