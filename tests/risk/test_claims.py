"""Compensation claims through HTTP: filing on a written-off loan, the shares, the scheme kept at filing,
payout, refusals that change nothing, rejection, and recovery (冲回) up to the fund's share."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from app.events.models import Event
from app.risk.models import CompensationClaim
from tests.builders.risk import Risk
from tests.factories import Factory

COUNTY = "411722"


async def test_file_a_claim_with_the_shares_and_the_scheme_in_force(risk: Risk, client: httpx.AsyncClient) -> None:
    loss, claim, fund = await risk.claim_for(COUNTY, 1_000_003, (4000, 3333, 2000, 667), balance=0)
    assert claim["status"] == "submitted" and claim["county_code"] == COUNTY
    assert claim["drawdown_id"] == loss.drawdown_id and claim["fund_id"] == fund["id"]
    # bank 333,300.9999 → 333,300; insurer 200,000.6 → 200,000; guarantor 66,700.2 → 66,700; the fund the rest
    # (its own 400,001.2 plus the 1.8 fen the others' rounding left)
    assert claim["loss_fen"] == 1_000_003
    assert (claim["bank_share_fen"], claim["insurer_share_fen"], claim["guarantor_share_fen"]) == (
        333_300,
        200_000,
        66_700,
    )
    assert claim["fund_share_fen"] == 1_000_003 - 333_300 - 200_000 - 66_700 == 400_003
    assert (claim["recovered_fen"], claim["returned_fen"]) == (0, 0)
    assert (claim["government_bp"], claim["bank_bp"], claim["insurer_bp"], claim["guarantor_bp"]) == (
        4000,
        3333,
        2000,
        667,
    )
    # a later change of the county's scheme leaves the filed claim as it was
    assert (await risk.sharing(fund["id"], 10000, 0, 0)).status_code == 200
    r = await client.get(f"/bank/compensation-claims/{claim['id']}", headers=loss.borrower.bank_headers)
    assert r.status_code == 200 and r.json() == claim
    r = await client.get(
        "/bank/compensation-claims", params={"status": "submitted"}, headers=loss.borrower.bank_headers
    )
    assert [c["id"] for c in r.json()["items"]] == [claim["id"]]


async def test_loss_is_the_principal_outstanding_when_written_off(risk: Risk) -> None:
    fund = await risk.fund(COUNTY)
    assert (await risk.sharing(fund["id"], 5000, 3000, 2000)).status_code == 200
    loss = await risk.loss(COUNTY, 800_000, repaid_before=300_000)
    # repaid after the write-off, before filing: the loss stays what was outstanding at the write-off
    assert (await risk.lending.repay(loss.borrower, loss.drawdown_id, 100_000)).status_code == 201
    r = await risk.file(loss)
    assert r.status_code == 201, r.text
    assert r.json()["loss_fen"] == 500_000 and r.json()["fund_share_fen"] == 250_000


async def test_only_a_written_off_loan_of_its_own_and_only_once(risk: Risk, client: httpx.AsyncClient) -> None:
    fund = await risk.fund(COUNTY)
    assert (await risk.sharing(fund["id"], 5000, 3000, 2000)).status_code == 200
    b = await risk.lending.borrower(village=await risk.factory.fresh_village(COUNTY))
    dd = await risk.lending.loan(b, 100_000)
    h = {**b.bank_headers, "Idempotency-Key": uuid.uuid4().hex}
    r = await client.post("/bank/compensation-claims", json={"drawdown_id": dd}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"  # disbursed, not written off

    loss = await risk.loss(COUNTY, 100_000)
    other_bank = await risk.lending.borrower(village=await risk.factory.fresh_village(COUNTY))
    r = await risk.file(loss, headers=other_bank.bank_headers)
    assert r.status_code == 404  # another bank's draw-down
    r = await risk.file(loss, headers={k: v for k, v in loss.borrower.bank_headers.items()})
    assert r.status_code == 201
    r = await risk.file(loss)
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    r = await client.post("/bank/compensation-claims", json={"drawdown_id": loss.drawdown_id}, headers=b.bank_headers)
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required"
    h = {**b.bank_headers, "Idempotency-Key": uuid.uuid4().hex}
    r = await client.post("/bank/compensation-claims", json={"drawdown_id": str(uuid.uuid4())}, headers=h)
    assert r.status_code == 404


async def test_claim_idempotent_replay_makes_one_claim(risk: Risk, factory: Factory) -> None:
    fund = await risk.fund(COUNTY)
    assert (await risk.sharing(fund["id"], 5000, 3000, 2000)).status_code == 200
    loss = await risk.loss(COUNTY, 60_000)
    key = f"claim-{uuid.uuid4().hex}"
    first = await risk.file(loss, key=key)
    again = await risk.file(loss, key=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    async with factory.session() as s:
        n = await s.scalar(select(func.count()).where(CompensationClaim.drawdown_id == uuid.UUID(loss.drawdown_id)))
    assert n == 1


async def test_approve_pays_the_fund_share_in_one_transaction(risk: Risk, factory: Factory) -> None:
    loss, claim, fund = await risk.claim_for(COUNTY, 1_000_000, (5000, 3000, 2000, 0), balance=600_000)
    before = await risk.get(fund["id"])
    r = await risk.approve(claim["id"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "paid" and r.json()["decided_at"]
    after = await risk.get(fund["id"])
    assert after["balance_fen"] == 100_000
    assert after["paid_out_fen"] == before["paid_out_fen"] + 500_000
    (entry,) = [e for e in await risk.ledger(fund["id"], 5) if e["claim_id"] == claim["id"]]
    assert entry["kind"] == "compensation" and entry["amount_fen"] == 500_000 and entry["balance_after_fen"] == 100_000
    # the lead bank is told (webhook outbox)
    async with factory.session() as s:
        types = (await s.execute(select(Event.type, Event.data).where(Event.bank_id == loss.borrower.bank.id))).all()
    assert any(t == "compensation_claim.paid" and d["claim_id"] == claim["id"] for t, d in types)
    r = await risk.approve(claim["id"])
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    assert (await risk.get(fund["id"]))["balance_fen"] == 100_000


async def test_insufficient_funds_changes_nothing(risk: Risk, factory: Factory) -> None:
    loss, claim, fund = await risk.claim_for(COUNTY, 1_000_000, (5000, 3000, 2000, 0), balance=499_999)
    n_entries = len(await risk.ledger(fund["id"]))
    r = await risk.approve(claim["id"])
    assert r.status_code == 409 and r.json()["code"] == "insufficient_funds", r.text
    assert r.json()["balance_fen"] == 499_999 and r.json()["amount_fen"] == 500_000
    f = await risk.get(fund["id"])
    assert f["balance_fen"] == 499_999
    assert len(await risk.ledger(fund["id"])) == n_entries
    r = await risk.client.get(f"/admin/compensation-claims/{claim['id']}", headers=await risk.admin())
    assert r.json()["status"] == "submitted" and r.json()["decided_at"] is None
    async with factory.session() as s:
        n = await s.scalar(
            select(func.count()).where(Event.bank_id == loss.borrower.bank.id, Event.type == "compensation_claim.paid")
        )
    assert n == 0
    # one fen more and it pays
    assert (await risk.entry(fund["id"], "deposit", 1)).status_code == 201
    r = await risk.approve(claim["id"])
    assert r.status_code == 200 and (await risk.get(fund["id"]))["balance_fen"] == 0


async def test_reject_with_a_reason(risk: Risk, client: httpx.AsyncClient, factory: Factory) -> None:
    loss, claim, fund = await risk.claim_for(COUNTY, 100_000, (5000, 3000, 2000, 0), balance=1_000_000)
    admin = await risk.admin()
    r = await client.post(f"/admin/compensation-claims/{claim['id']}/reject", json={"reason": ""}, headers=admin)
    assert r.status_code == 422
    r = await client.post(
        f"/admin/compensation-claims/{claim['id']}/reject", json={"reason": "未尽职调查"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["reason"] == "未尽职调查"
    assert (await risk.approve(claim["id"])).status_code == 409
    assert (await risk.get(fund["id"]))["balance_fen"] == 1_000_000
    async with factory.session() as s:
        n = await s.scalar(
            select(func.count()).where(
                Event.bank_id == loss.borrower.bank.id, Event.type == "compensation_claim.rejected"
            )
        )
    assert n == 1
    # a repayment on the loan after a rejection returns nothing to the fund
    assert (await risk.lending.repay(loss.borrower, loss.drawdown_id, 50_000)).status_code == 201
    assert (await risk.get(fund["id"]))["balance_fen"] == 1_000_000


async def test_admin_lists_with_filters_and_regulator_scope(risk: Risk, client: httpx.AsyncClient) -> None:
    _, claim, _ = await risk.claim_for(COUNTY, 70_000, (5000, 3000, 2000, 0), balance=0)
    admin = await risk.admin()
    r = await client.get(
        "/admin/compensation-claims", params={"status": "submitted", "county_code": COUNTY, "limit": 100}, headers=admin
    )
    assert claim["id"] in {c["id"] for c in r.json()["items"]}
    assert all(c["status"] == "submitted" and c["county_code"] == COUNTY for c in r.json()["items"])
    r = await client.get("/admin/compensation-claims", params={"status": "paid", "limit": 100}, headers=admin)
    assert claim["id"] not in {c["id"] for c in r.json()["items"]}
    other = await risk.regulator("411721")
    r = await client.get("/admin/compensation-claims", params={"limit": 100}, headers=other)
    assert all(c["county_code"].startswith("411721") for c in r.json()["items"])
    assert (await client.get(f"/admin/compensation-claims/{claim['id']}", headers=other)).status_code == 404
    r = await risk.approve(claim["id"], headers=other)
    assert r.status_code == 404
    r = await client.post(f"/admin/compensation-claims/{claim['id']}/reject", json={"reason": "越权"}, headers=other)
    assert r.status_code == 404
    mine = await risk.regulator(COUNTY)
    assert (await client.get(f"/admin/compensation-claims/{claim['id']}", headers=mine)).json()["status"] == "submitted"


async def test_recovery_flows_back_until_the_fund_share_and_not_beyond(risk: Risk) -> None:
    # 三位一体 5:3:2 on a 10,000-yuan loss: the fund pays 5,000 yuan; each repayment returns half of itself.
    loss, claim, fund = await risk.claim_for(COUNTY, 1_000_000, (5000, 3000, 2000, 0), balance=500_000)
    assert (await risk.approve(claim["id"])).status_code == 200
    returned = []
    for amount in (1, 3, 200_001, 399_995):
        r = await risk.lending.repay(loss.borrower, loss.drawdown_id, amount)
        assert r.status_code == 201, r.text
        returned.append(amount * 5000 // 10000)
    assert returned == [0, 1, 100_000, 199_997]
    f = await risk.get(fund["id"])
    assert f["balance_fen"] == sum(returned) == 299_998
    c = (await risk.client.get(f"/bank/compensation-claims/{claim['id']}", headers=loss.borrower.bank_headers)).json()
    assert c["recovered_fen"] == 1 + 3 + 200_001 + 399_995 and c["returned_fen"] == 299_998
    recoveries = [e for e in await risk.ledger(fund["id"], 10) if e["kind"] == "recovery"]
    assert sorted(e["amount_fen"] for e in recoveries) == [1, 100_000, 199_997]  # no entry for a 0-fen share
    assert all(e["claim_id"] == claim["id"] and e["repayment_id"] for e in recoveries)
    # the rest of the loan: 400,000 repaid → 200,000 more, reaching exactly the 500,000 the fund paid
    r = await risk.lending.repay(loss.borrower, loss.drawdown_id, 400_000)
    assert r.status_code == 201 and r.json()["status"] == "repaid"
    c = (await risk.client.get(f"/bank/compensation-claims/{claim['id']}", headers=loss.borrower.bank_headers)).json()
    assert c["returned_fen"] == 499_998 and c["returned_fen"] <= c["fund_share_fen"]
    assert (await risk.get(fund["id"]))["recovered_fen"] >= 499_998


async def test_recovery_rounds_down_per_repayment_and_stays_within_the_fund_share(risk: Risk) -> None:
    # A 3-fen loss at 3334 bp: the fund's share is all 3 fen (the others' shares round to 0). Repaid fen by fen,
    # each repayment's 0.3334 fen rounds down to nothing; the whole loan repaid returns no more than was paid.
    loss, claim, _ = await risk.claim_for(COUNTY, 3, (3334, 3333, 3333, 0), balance=3)
    assert claim["fund_share_fen"] == 3
    assert (await risk.approve(claim["id"])).status_code == 200
    for _ in range(2):
        assert (await risk.lending.repay(loss.borrower, loss.drawdown_id, 1)).status_code == 201
    c = (await risk.client.get(f"/admin/compensation-claims/{claim['id']}", headers=await risk.admin())).json()
    assert c["returned_fen"] == 0 and c["recovered_fen"] == 2
    r = await risk.lending.repay(loss.borrower, loss.drawdown_id, 1)
    assert r.status_code == 201 and r.json()["status"] == "repaid"
    c = (await risk.client.get(f"/admin/compensation-claims/{claim['id']}", headers=await risk.admin())).json()
    assert c["returned_fen"] == 0 <= c["fund_share_fen"] and c["recovered_fen"] == 3


async def test_recovered_before_the_payout_is_returned_at_approval(risk: Risk) -> None:
    loss, claim, fund = await risk.claim_for(COUNTY, 1_000_000, (6000, 2000, 2000, 0), balance=600_000)
    # repaid while the claim waits: the fund pays its 600,000 and takes 60 % of the 100,000 back at once
    assert (await risk.lending.repay(loss.borrower, loss.drawdown_id, 100_000)).status_code == 201
    r = await risk.approve(claim["id"])
    assert r.status_code == 200, r.text
    assert r.json()["recovered_fen"] == 100_000 and r.json()["returned_fen"] == 60_000
    f = await risk.get(fund["id"])
    assert f["balance_fen"] == 60_000
    kinds = [e["kind"] for e in await risk.ledger(fund["id"], 2)]
    assert kinds == ["recovery", "compensation"]
