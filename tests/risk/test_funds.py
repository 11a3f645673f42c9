"""County funds through HTTP: creation, the ledger (deposits, withdrawals, insufficient funds, idempotency),
loss sharing with its history, and the regulator's reach."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.risk.models import FundEntry, RiskFund
from tests.builders.risk import Risk
from tests.factories import Factory

COUNTY = "411721"


async def count_entries(factory: Factory, fund_id: str) -> int:
    async with factory.session() as s:
        return int(await s.scalar(select(func.count()).where(FundEntry.fund_id == uuid.UUID(fund_id))) or 0)


async def test_create_fund_defaults_and_one_per_county_and_kind(risk: Risk, client: httpx.AsyncClient) -> None:
    for kind, minimum in (("compensation", 3_000_000_000), ("bridge", 2_000_000_000)):
        f = await risk.fund(COUNTY, kind)
        assert f["county_code"] == COUNTY and f["kind"] == kind
        assert f["minimum_fen"] == minimum  # 30,000,000 / 20,000,000 yuan in fen (seed)
        assert f["below_minimum"] == (f["balance_fen"] < minimum)
        assert set(f) >= {"id", "balance_fen", "paid_out_fen", "recovered_fen", "sharing"}
        r = await client.post(
            "/admin/risk-funds", json={"county_code": COUNTY, "kind": kind}, headers=await risk.admin()
        )
        assert r.status_code == 409 and r.json()["code"] == "conflict"


async def test_create_fund_refuses_what_is_not_a_county(risk: Risk, client: httpx.AsyncClient) -> None:
    admin = await risk.admin()
    for county in ("411799", "411725101"[:6] + "9"):
        r = await client.post("/admin/risk-funds", json={"county_code": county, "kind": "bridge"}, headers=admin)
        assert r.status_code == 422, r.text
    r = await client.post("/admin/risk-funds", json={"county_code": "4117", "kind": "bridge"}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "county_code"
    r = await client.post("/admin/risk-funds", json={"county_code": COUNTY, "kind": "other"}, headers=admin)
    assert r.status_code == 422


async def test_deposits_withdrawals_and_below_minimum(risk: Risk, factory: Factory) -> None:
    f = await risk.fund(COUNTY, "bridge")
    await risk.set_balance(f["id"], 2_000_000_000)
    assert (await risk.get(f["id"]))["below_minimum"] is False  # exactly the minimum is not below it
    r = await risk.entry(f["id"], "withdrawal", 1, note="划转")
    assert r.status_code == 201, r.text
    e = r.json()
    assert e["kind"] == "withdrawal" and e["amount_fen"] == 1 and e["balance_after_fen"] == 1_999_999_999
    assert e["note"] == "划转"
    got = await risk.get(f["id"])
    assert got["balance_fen"] == 1_999_999_999 and got["below_minimum"] is True
    r = await risk.entry(f["id"], "deposit", 1)
    assert r.status_code == 201 and r.json()["balance_after_fen"] == 2_000_000_000
    # every entry audited in its transaction, with the balance before and after
    async with factory.session() as s:
        audits = (
            (
                await s.execute(
                    select(AuditEntry.summary).where(
                        AuditEntry.object_id == f["id"], AuditEntry.action == "risk_fund.deposit"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert any(a["entry_id"] == r.json()["id"] and a["after"] == {"balance_fen": 2_000_000_000} for a in audits)


async def test_withdrawal_past_the_balance_is_409_and_changes_nothing(risk: Risk, factory: Factory) -> None:
    f = await risk.fund(COUNTY, "bridge")
    await risk.set_balance(f["id"], 50_000)
    n = await count_entries(factory, f["id"])
    r = await risk.entry(f["id"], "withdrawal", 50_001)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "insufficient_funds" and "500.00 元" in body["detail"]
    assert (await risk.get(f["id"]))["balance_fen"] == 50_000
    assert await count_entries(factory, f["id"]) == n
    r = await risk.entry(f["id"], "withdrawal", 50_000)  # exactly all of it is fine
    assert r.status_code == 201 and r.json()["balance_after_fen"] == 0


async def test_entry_validation(risk: Risk, client: httpx.AsyncClient) -> None:
    f = await risk.fund(COUNTY, "bridge")
    admin = await risk.admin()
    r = await client.post(
        f"/admin/risk-funds/{f['id']}/entries", json={"kind": "deposit", "amount_fen": 1}, headers=admin
    )
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required"
    for body in (
        {"kind": "deposit", "amount_fen": 0},
        {"kind": "deposit", "amount_fen": -5},
        {"kind": "compensation", "amount_fen": 5},  # only the platform writes payouts and recoveries
        {"kind": "deposit", "amount_fen": 5, "balance_fen": 0},
    ):
        r = await risk.client.post(
            f"/admin/risk-funds/{f['id']}/entries", json=body, headers={**admin, "Idempotency-Key": uuid.uuid4().hex}
        )
        assert r.status_code == 422, (body, r.text)
    r = await risk.entry(str(uuid.uuid4()), "deposit", 5)
    assert r.status_code == 404


async def test_entry_idempotent_replay(risk: Risk, factory: Factory) -> None:
    f = await risk.fund(COUNTY, "bridge")
    await risk.set_balance(f["id"], 0)
    key = f"dep-{uuid.uuid4().hex}"
    first = await risk.entry(f["id"], "deposit", 12_345, key=key)
    again = await risk.entry(f["id"], "deposit", 12_345, key=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert (await risk.get(f["id"]))["balance_fen"] == 12_345
    r = await risk.entry(f["id"], "deposit", 1, key=key)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    # a refusal is stored too: the same key answers the same 409 even once the money is there
    key2 = f"wd-{uuid.uuid4().hex}"
    r1 = await risk.entry(f["id"], "withdrawal", 20_000, key=key2)
    assert r1.status_code == 409
    assert (await risk.entry(f["id"], "deposit", 10_000)).status_code == 201
    r2 = await risk.entry(f["id"], "withdrawal", 20_000, key=key2)
    assert r2.status_code == 409 and r2.headers["Idempotent-Replayed"] == "true"
    assert (await risk.get(f["id"]))["balance_fen"] == 22_345


async def test_ledger_newest_first_with_keyset_pages(risk: Risk, client: httpx.AsyncClient) -> None:
    f = await risk.fund(COUNTY, "bridge")
    await risk.set_balance(f["id"], 0)
    for amount in (1, 2, 3, 4, 5):
        assert (await risk.entry(f["id"], "deposit", amount)).status_code == 201
    admin = await risk.admin()
    seen: list[dict] = []
    cursor = None
    while len(seen) < 5:
        params: dict = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await client.get(f"/admin/risk-funds/{f['id']}/entries", params=params, headers=admin)
        assert r.status_code == 200, r.text
        seen += r.json()["items"]
        cursor = r.json()["next_cursor"]
        assert cursor
    assert [e["amount_fen"] for e in seen[:5]] == [5, 4, 3, 2, 1]
    assert [e["balance_after_fen"] for e in seen[:5]] == [15, 10, 6, 3, 1]
    r = await client.get(f"/admin/risk-funds/{f['id']}/entries", params={"cursor": "garbage"}, headers=admin)
    assert r.status_code == 422


async def test_sharing_must_sum_to_10000_and_keeps_its_history(risk: Risk, client: httpx.AsyncClient) -> None:
    f = await risk.fund(COUNTY)
    r = await risk.sharing(f["id"], 5000, 3000, 1000)
    assert r.status_code == 422, r.text
    assert {e["field"] for e in r.json()["errors"]} == {"government_bp", "bank_bp", "insurer_bp", "guarantor_bp"}
    assert "9000" in r.json()["errors"][0]["message"]
    assert (await risk.sharing(f["id"], 5000, 3000, 2000, 1)).status_code == 422
    assert (await risk.sharing(f["id"], -1, 5001, 5000)).status_code == 422
    # 422 before 404: the body is judged first
    assert (await risk.sharing(str(uuid.uuid4()), 1, 1, 1)).status_code == 422
    assert (await risk.sharing(str(uuid.uuid4()), 5000, 3000, 2000)).status_code == 404

    r = await risk.sharing(f["id"], 5000, 3000, 2000)
    assert r.status_code == 200, r.text
    three = r.json()["sharing"]
    assert three["scheme"] == "三位一体" and three["guarantor_bp"] == 0
    r = await risk.sharing(f["id"], 4000, 3000, 2000, 1000)
    four = r.json()["sharing"]
    assert four["scheme"] == "四位一体" and four["id"] != three["id"]
    assert (await risk.get(f["id"]))["sharing"] == four
    r = await client.get(f"/admin/risk-funds/{f['id']}/sharing", headers=await risk.admin())
    assert r.status_code == 200
    assert [s["id"] for s in r.json()["items"][:2]] == [four["id"], three["id"]]


async def test_sharing_is_for_compensation_funds(risk: Risk) -> None:
    f = await risk.fund(COUNTY, "bridge")
    r = await risk.sharing(f["id"], 5000, 3000, 2000)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    assert (await risk.get(f["id"]))["sharing"] is None


async def test_regulator_sees_its_own_counties_only(risk: Risk, client: httpx.AsyncClient) -> None:
    mine = await risk.fund(COUNTY)
    other = await risk.fund("411722")
    reg = await risk.regulator(COUNTY)
    r = await client.get("/admin/risk-funds", params={"limit": 100}, headers=reg)
    assert r.status_code == 200
    assert {i["county_code"] for i in r.json()["items"]} == {COUNTY}
    assert (await client.get(f"/admin/risk-funds/{mine['id']}", headers=reg)).status_code == 200
    for path in ("", "/entries", "/sharing"):
        r = await client.get(f"/admin/risk-funds/{other['id']}{path}", headers=reg)
        assert r.status_code == 404, (path, r.text)
    # the city's regulator (and one with no region) sees every county
    city = await risk.regulator("4117")
    r = await client.get("/admin/risk-funds", params={"kind": "compensation", "limit": 100}, headers=city)
    assert {COUNTY, "411722"} <= {i["county_code"] for i in r.json()["items"]}
    assert all(i["kind"] == "compensation" for i in r.json()["items"])
    # regulators read; only the admin writes
    assert (await risk.entry(mine["id"], "deposit", 1)).status_code == 201
    h = {**reg, "Idempotency-Key": uuid.uuid4().hex}
    r = await client.post(
        f"/admin/risk-funds/{mine['id']}/entries", json={"kind": "deposit", "amount_fen": 1}, headers=h
    )
    assert r.status_code == 403
    r = await client.put(
        f"/admin/risk-funds/{mine['id']}/sharing",
        json={"government_bp": 10000, "bank_bp": 0, "insurer_bp": 0, "guarantor_bp": 0},
        headers=reg,
    )
    assert r.status_code == 403


async def test_balance_check_constraint_is_the_last_line(risk: Risk, factory: Factory) -> None:
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    f = await risk.fund(COUNTY, "bridge")
    async with factory.session() as s:
        try:
            await s.execute(update(RiskFund).where(RiskFund.id == uuid.UUID(f["id"])).values(balance_fen=-1))
            await s.commit()
            raised = False
        except IntegrityError:
            await s.rollback()
            raised = True
    assert raised


async def test_a_deposit_past_the_system_maximum_is_422_not_an_overflow(risk: Risk, factory: Factory) -> None:
    from sqlalchemy import update

    from app.risk.repository import MAX_BALANCE_FEN

    f = await risk.fund(COUNTY, "bridge")
    async with factory.session() as s:
        await s.execute(
            update(RiskFund).where(RiskFund.id == uuid.UUID(f["id"])).values(balance_fen=MAX_BALANCE_FEN - 5)
        )
        await s.commit()
    n = await count_entries(factory, f["id"])
    r = await risk.entry(f["id"], "deposit", 6)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "balance_too_large", r.text
    assert await count_entries(factory, f["id"]) == n
    r = await risk.entry(f["id"], "deposit", 5)
    assert r.status_code == 201 and r.json()["balance_after_fen"] == MAX_BALANCE_FEN
    async with factory.session() as s:  # back to a balance the other tests can withdraw in one entry
        await s.execute(update(RiskFund).where(RiskFund.id == uuid.UUID(f["id"])).values(balance_fen=0))
        await s.commit()
