"""Bridge loans through HTTP: the request's checks, approval out of the bridge fund, repayment with the policy's
fee, overdue after due_on (on read and by the sweep), lists and who may do what."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import update

from app.core.dates import china_today
from app.risk import service
from app.risk.models import BridgeLoan, RiskPolicy
from tests.builders.risk import Risk
from tests.factories import Factory

COUNTY = "411724"


class Bank:
    def __init__(self, risk: Risk) -> None:
        self.risk = risk

    async def make(self, counties: list[str] | None = None) -> tuple[dict[str, str], dict[str, str], uuid.UUID]:
        bank = await self.risk.factory.bank(counties or [COUNTY])
        admin = self.risk.factory.headers(await self.risk.factory.user("bank_admin", bank_id=bank.id))
        staff = self.risk.factory.headers(await self.risk.factory.user("bank_staff", bank_id=bank.id))
        return admin, staff, bank.id


async def request(client: httpx.AsyncClient, risk: Risk, headers: dict[str, str], **kw: object) -> httpx.Response:
    return await client.post("/bank/bridge-loans", json=risk.bridge_body(COUNTY, **kw), headers=headers)


async def lent(client: httpx.AsyncClient, risk: Risk, headers: dict[str, str], **kw: object) -> dict:
    r = await request(client, risk, headers, **kw)
    assert r.status_code == 201, r.text
    r = await client.post(f"/admin/bridge-loans/{r.json()['id']}/approve", headers=await risk.admin())
    assert r.status_code == 200, r.text
    return dict(r.json())


async def backdate(factory: Factory, bridge_id: str, days: int) -> None:
    """Move a lent bridge `days` into the past (lent_on and due_on alike)."""
    async with factory.session() as s:
        b = await s.get(BridgeLoan, uuid.UUID(bridge_id))
        assert b is not None and b.lent_on and b.due_on
        await s.execute(
            update(BridgeLoan)
            .where(BridgeLoan.id == b.id)
            .values(lent_on=b.lent_on - timedelta(days=days), due_on=b.due_on - timedelta(days=days))
        )
        await s.commit()


async def test_request_checks(risk: Risk, client: httpx.AsyncClient) -> None:
    admin, staff, _ = await Bank(risk).make()
    r = await request(client, risk, admin, unified_social_credit_code="91411700MA00000000")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "unified_social_credit_code"
    r = await request(client, risk, admin, days=31)
    assert r.status_code == 422 and r.json()["code"] == "term_not_allowed"
    assert "30 天" in r.json()["errors"][0]["message"]
    r = await request(client, risk, admin, days=0)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    r = await request(client, risk, admin, amount_fen=0)
    assert r.status_code == 422
    r = await client.post("/bank/bridge-loans", json=risk.bridge_body("411702"), headers=admin)
    assert r.status_code == 422 and r.json()["code"] == "bank_not_serving_county"
    r = await request(client, risk, staff)
    assert r.status_code == 403  # bank_admin only
    r = await request(client, risk, admin, days=30)
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["status"] == "requested" and b["days"] == 30 and b["daily_fee_bp"] == 2
    assert (b["lent_on"], b["due_on"], b["fee_fen"]) == (None, None, 0)
    assert len(b["unified_social_credit_code"]) == 18


async def test_policy_days_are_data(risk: Risk, client: httpx.AsyncClient, factory: Factory) -> None:
    admin, _, _ = await Bank(risk).make()
    async with factory.session() as s:
        await s.execute(update(RiskPolicy).where(RiskPolicy.id == 1).values(bridge_max_days=45))
        await s.commit()
    try:
        assert (await request(client, risk, admin, days=45)).status_code == 201
        assert (await request(client, risk, admin, days=46)).status_code == 422
    finally:
        async with factory.session() as s:
            await s.execute(update(RiskPolicy).where(RiskPolicy.id == 1).values(bridge_max_days=30))
            await s.commit()


async def test_approve_lends_out_of_the_bridge_fund(risk: Risk, client: httpx.AsyncClient, factory: Factory) -> None:
    fund = await risk.fund(COUNTY, "bridge")
    await risk.set_balance(fund["id"], 1_500_000)
    admin, staff, bank_id = await Bank(risk).make()
    b = await lent(client, risk, admin, amount_fen=1_000_000, days=12)
    today = china_today()
    assert b["status"] == "lent" and b["lent_on"] == today.isoformat()
    assert b["due_on"] == (today + timedelta(days=12)).isoformat()
    f = await risk.get(fund["id"])
    assert f["balance_fen"] == 500_000
    (e,) = [e for e in await risk.ledger(fund["id"], 3) if e["bridge_loan_id"] == b["id"]]
    assert e["kind"] == "bridge_out" and e["amount_fen"] == 1_000_000 and e["balance_after_fen"] == 500_000
    from sqlalchemy import select

    from app.events.models import Event

    async with factory.session() as s:
        events = (await s.execute(select(Event.type, Event.data).where(Event.bank_id == bank_id))).all()
    assert [(t, d["bridge_loan_id"]) for t, d in events] == [("bridge_loan.approved", b["id"])]
    r = await client.post(f"/admin/bridge-loans/{b['id']}/approve", headers=await risk.admin())
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    # the bank sees it lent; a staff member may read it
    r = await client.get(f"/bank/bridge-loans/{b['id']}", headers=staff)
    assert r.status_code == 200 and r.json()["status"] == "lent"


async def test_approve_with_too_little_money_changes_nothing(risk: Risk, client: httpx.AsyncClient) -> None:
    fund = await risk.fund(COUNTY, "bridge")
    await risk.set_balance(fund["id"], 999_999)
    admin, _, _ = await Bank(risk).make()
    r = await request(client, risk, admin, amount_fen=1_000_000)
    bid = r.json()["id"]
    r = await client.post(f"/admin/bridge-loans/{bid}/approve", headers=await risk.admin())
    assert r.status_code == 409 and r.json()["code"] == "insufficient_funds"
    assert (await risk.get(fund["id"]))["balance_fen"] == 999_999
    r = await client.get(f"/bank/bridge-loans/{bid}", headers=admin)
    assert r.json()["status"] == "requested" and r.json()["due_on"] is None


async def test_reject_with_a_reason(risk: Risk, client: httpx.AsyncClient) -> None:
    admin, _, _ = await Bank(risk).make()
    bid = (await request(client, risk, admin)).json()["id"]
    r = await client.post(
        f"/admin/bridge-loans/{bid}/reject", json={"reason": "原贷款未到期"}, headers=await risk.admin()
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["reason"] == "原贷款未到期"
    r = await client.post(f"/admin/bridge-loans/{bid}/approve", headers=await risk.admin())
    assert r.status_code == 409


async def test_repay_all_of_the_principal_with_the_fee(risk: Risk, client: httpx.AsyncClient, factory: Factory) -> None:
    fund = await risk.fund(COUNTY, "bridge")
    await risk.set_balance(fund["id"], 2_000_000)
    admin, staff, _ = await Bank(risk).make()
    b = await lent(client, risk, admin, amount_fen=1_000_003, days=20)
    await backdate(factory, b["id"], 7)
    path = f"/bank/bridge-loans/{b['id']}/repay"
    r = await client.post(path, json={"amount_fen": 1_000_002}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "amount_fen"
    assert "10,000.03 元" in r.json()["errors"][0]["message"]
    assert (await client.post(path, json={"amount_fen": 1_000_004}, headers=admin)).status_code == 422
    assert (await client.post(path, json={"amount_fen": 1_000_003}, headers=staff)).status_code == 403
    assert (await risk.get(fund["id"]))["balance_fen"] == 2_000_000 - 1_000_003
    r = await client.post(path, json={"amount_fen": 1_000_003}, headers=admin)
    assert r.status_code == 200, r.text
    got = r.json()
    # 1,000,003 × 2 bp × 7 days = 1,400.0042 fen → 1,400
    assert got["status"] == "repaid" and got["fee_fen"] == 1_400 and got["repaid_on"] == china_today().isoformat()
    (e,) = [
        e for e in await risk.ledger(fund["id"], 3) if e["kind"] == "bridge_back" and e["bridge_loan_id"] == b["id"]
    ]
    assert e["amount_fen"] == 1_000_003 + 1_400
    assert (await risk.get(fund["id"]))["balance_fen"] == 2_000_000 + 1_400
    r = await client.post(path, json={"amount_fen": 1_000_003}, headers=admin)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"


async def test_same_day_repayment_pays_one_day(risk: Risk, client: httpx.AsyncClient) -> None:
    fund = await risk.fund(COUNTY, "bridge")
    await risk.set_balance(fund["id"], 5_000_000)
    admin, _, _ = await Bank(risk).make()
    b = await lent(client, risk, admin, amount_fen=5_000_000, days=5)
    r = await client.post(f"/bank/bridge-loans/{b['id']}/repay", json={"amount_fen": 5_000_000}, headers=admin)
    assert r.status_code == 200 and r.json()["fee_fen"] == 1_000  # 5,000,000 × 2 bp × 1 day


async def test_overdue_after_due_on_on_read_and_by_the_sweep(
    risk: Risk, client: httpx.AsyncClient, factory: Factory
) -> None:
    fund = await risk.fund(COUNTY, "bridge")
    await risk.set_balance(fund["id"], 1_000_000)
    admin, _, _ = await Bank(risk).make()
    b = await lent(client, risk, admin, amount_fen=1_000_000, days=3)
    await backdate(factory, b["id"], 3)  # due today: not overdue yet
    assert (await client.get(f"/bank/bridge-loans/{b['id']}", headers=admin)).json()["status"] == "lent"
    await backdate(factory, b["id"], 1)  # due yesterday
    assert (await client.get(f"/bank/bridge-loans/{b['id']}", headers=admin)).json()["status"] == "overdue"
    reg = await risk.regulator(COUNTY)
    r = await client.get("/admin/bridge-loans", params={"status": "overdue", "limit": 100}, headers=reg)
    assert b["id"] in {i["id"] for i in r.json()["items"]}
    r = await client.get("/admin/bridge-loans", params={"status": "lent", "limit": 100}, headers=reg)
    assert b["id"] not in {i["id"] for i in r.json()["items"]}
    async with factory.session() as s:
        assert await service.flag_overdue_bridges(s) >= 1
        await s.commit()
        row = await s.get(BridgeLoan, uuid.UUID(b["id"]))
        assert row is not None and row.status == "overdue"
    # an overdue bridge can still be repaid, with the fee for every day it was used
    r = await client.post(f"/bank/bridge-loans/{b['id']}/repay", json={"amount_fen": 1_000_000}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "repaid" and r.json()["fee_fen"] == 1_000_000 * 2 * 4 // 10000


async def test_lists_and_scope(risk: Risk, client: httpx.AsyncClient) -> None:
    admin_a, staff_a, _ = await Bank(risk).make()
    admin_b, _, _ = await Bank(risk).make()
    mine = (await request(client, risk, admin_a)).json()
    theirs = (await request(client, risk, admin_b)).json()
    r = await client.get("/bank/bridge-loans", params={"limit": 100}, headers=staff_a)
    assert [i["id"] for i in r.json()["items"]] == [mine["id"]]
    r = await client.get("/bank/bridge-loans", params={"status": "lent"}, headers=staff_a)
    assert r.json()["items"] == []
    for path, method in (
        (f"/bank/bridge-loans/{theirs['id']}", "GET"),
        (f"/bank/bridge-loans/{theirs['id']}/repay", "POST"),
    ):
        r = await client.request(
            method, path, json={"amount_fen": 1_000_000} if method == "POST" else None, headers=admin_a
        )
        assert r.status_code == 404
    r = await client.get("/admin/bridge-loans", params={"county_code": COUNTY, "status": "requested", "limit": 100},
                         headers=await risk.admin())  # fmt: skip
    assert {mine["id"], theirs["id"]} <= {i["id"] for i in r.json()["items"]}
    other = await risk.regulator("411721")
    r = await client.get("/admin/bridge-loans", params={"limit": 100}, headers=other)
    assert all(i["county_code"] == "411721" for i in r.json()["items"])
    for action, body in (("approve", None), ("reject", {"reason": "越权"})):
        r = await client.post(f"/admin/bridge-loans/{mine['id']}/{action}", json=body, headers=other)
        assert r.status_code == 404
    assert (await client.get(f"/admin/bridge-loans/{mine['id']}", headers=other)).status_code == 404
    r = await client.get(f"/admin/bridge-loans/{mine['id']}", headers=await risk.regulator(COUNTY))
    assert r.status_code == 200 and r.json()["status"] == "requested"
