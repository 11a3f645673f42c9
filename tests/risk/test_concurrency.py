"""Concurrent requests racing for a fund's last money (PostgreSQL, real concurrency): exactly the affordable
number succeed, the balance never goes below 0, the ledger adds up to the fen."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from app.core.config import get_settings
from app.risk.models import CompensationClaim, FundEntry
from tests.builders.risk import Risk
from tests.factories import Factory

pytestmark = pytest.mark.skipif(
    get_settings().database_url.startswith("sqlite"),
    reason="SQLite serialises every request through one connection: concurrency is only meaningful on PostgreSQL",
)

COUNTY = "411727"


async def count_entries(factory: Factory, fund_id: str) -> int:
    async with factory.session() as s:
        return int(await s.scalar(select(func.count()).where(FundEntry.fund_id == uuid.UUID(fund_id))) or 0)


async def test_concurrent_withdrawals_never_overdraw(risk: Risk, factory: Factory) -> None:
    fund = await risk.fund(COUNTY, "bridge")
    await risk.set_balance(fund["id"], 100_000)
    entries_before = await count_entries(factory, fund["id"])
    rs = await asyncio.gather(*[risk.entry(fund["id"], "withdrawal", 7_000) for _ in range(30)])
    ok = [r for r in rs if r.status_code == 201]
    assert len(ok) == 100_000 // 7_000
    assert all(r.status_code == 409 and r.json()["code"] == "insufficient_funds" for r in rs if r not in ok)
    assert sorted(r.json()["balance_after_fen"] for r in ok) == [100_000 - 7_000 * i for i in range(len(ok), 0, -1)]
    assert (await risk.get(fund["id"]))["balance_fen"] == 100_000 - 7_000 * len(ok)
    # one ledger entry per successful withdrawal, none for a refusal
    assert await count_entries(factory, fund["id"]) - entries_before == len(ok)
    ledger = await risk.ledger(fund["id"], len(ok))
    assert [e["balance_after_fen"] for e in ledger[: len(ok)]] == [7_000 * i + 100_000 % 7_000 for i in range(len(ok))]


async def test_two_approvals_racing_for_the_last_money_exactly_one_pays(risk: Risk, factory: Factory) -> None:
    fund = await risk.fund(COUNTY)
    assert (await risk.sharing(fund["id"], 5000, 3000, 2000)).status_code == 200
    await risk.set_balance(fund["id"], 0)
    claims = []
    for _ in range(4):
        loss = await risk.loss(COUNTY, 200_000)
        r = await risk.file(loss)
        assert r.status_code == 201, r.text
        claims.append(r.json())
    await risk.set_balance(fund["id"], 100_000)  # one claim's fund share, 4 claims asking
    regulator = await risk.regulator(COUNTY)
    rs = await asyncio.gather(
        *[risk.approve(c["id"], headers=h) for c in claims for h in (await risk.admin(), regulator)]
    )
    paid = [r for r in rs if r.status_code == 200]
    assert len(paid) == 1, [(r.status_code, r.json().get("code")) for r in rs]
    assert {r.json()["code"] for r in rs if r.status_code != 200} <= {"insufficient_funds", "invalid_state"}
    f = await risk.get(fund["id"])
    assert f["balance_fen"] == 0
    async with factory.session() as s:
        n_paid = await s.scalar(
            select(func.count()).where(
                CompensationClaim.id.in_([uuid.UUID(c["id"]) for c in claims]),  # type: ignore[attr-defined]
                CompensationClaim.status == "paid",
            )
        )
        n_entries = await s.scalar(
            select(func.count()).where(
                FundEntry.claim_id.in_([uuid.UUID(c["id"]) for c in claims]),  # type: ignore[union-attr]
                FundEntry.kind == "compensation",
            )
        )
    assert n_paid == n_entries == 1


async def test_concurrent_filings_of_one_drawdown_make_one_claim(risk: Risk, factory: Factory) -> None:
    fund = await risk.fund(COUNTY)
    assert (await risk.sharing(fund["id"], 5000, 3000, 2000)).status_code == 200
    loss = await risk.loss(COUNTY, 50_000)
    rs = await asyncio.gather(*[risk.file(loss) for _ in range(10)])
    assert sorted(r.status_code for r in rs).count(201) == 1
    assert all(r.json()["code"] == "conflict" for r in rs if r.status_code != 201)
    async with factory.session() as s:
        n = await s.scalar(select(func.count()).where(CompensationClaim.drawdown_id == uuid.UUID(loss.drawdown_id)))
    assert n == 1


async def test_concurrent_repayments_on_a_compensated_loan_return_the_exact_share(risk: Risk) -> None:
    loss, claim, fund = await risk.claim_for(COUNTY, 1_000_000, (5000, 3000, 2000, 0), balance=500_000)
    assert (await risk.approve(claim["id"])).status_code == 200
    rs = await asyncio.gather(*[risk.lending.repay(loss.borrower, loss.drawdown_id, 30_001) for _ in range(40)])
    ok = [r for r in rs if r.status_code == 201]
    assert len(ok) == 1_000_000 // 30_001
    c = (await risk.client.get(f"/admin/compensation-claims/{claim['id']}", headers=await risk.admin())).json()
    assert c["recovered_fen"] == 30_001 * len(ok)
    assert c["returned_fen"] == (30_001 * 5000 // 10000) * len(ok)
    assert (await risk.get(fund["id"]))["balance_fen"] == c["returned_fen"]
