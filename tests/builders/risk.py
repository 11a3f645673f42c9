"""Helpers for risk control tests. Funds are one per county and kind, shared by every test of the run (there
are eleven counties), so tests find-or-create the fund they need and set its balance to a known figure first."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from app.auth.models import User
from app.regions.models import Region
from tests.builders.drawdowns import Borrower, Lending
from tests.factories import Factory, make_uscc


@dataclass
class Loss:
    borrower: Borrower
    drawdown_id: str
    county: str


class Risk:
    def __init__(self, factory: Factory, client: httpx.AsyncClient) -> None:
        self.factory = factory
        self.client = client
        self.lending = Lending(factory, client)
        self._admin: dict[str, str] | None = None

    async def admin(self) -> dict[str, str]:
        if self._admin is None:
            self._admin = self.factory.headers(await self.factory.user("admin"))
        return self._admin

    async def regulator(self, region: str | None) -> dict[str, str]:
        kw: dict[str, Any] = {"region_code": region} if region else {}
        user: User = await self.factory.user("regulator", **kw)
        return self.factory.headers(user)

    async def fund(self, county: str, kind: str = "compensation") -> dict[str, Any]:
        admin = await self.admin()
        r = await self.client.post("/admin/risk-funds", json={"county_code": county, "kind": kind}, headers=admin)
        if r.status_code == 201:
            return dict(r.json())
        assert r.status_code == 409 and r.json()["code"] == "conflict", r.text
        r = await self.client.get("/admin/risk-funds", params={"county_code": county, "kind": kind}, headers=admin)
        assert r.status_code == 200, r.text
        (item,) = r.json()["items"]
        return dict(item)

    async def get(self, fund_id: str) -> dict[str, Any]:
        r = await self.client.get(f"/admin/risk-funds/{fund_id}", headers=await self.admin())
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def entry(
        self, fund_id: str, kind: str, amount: int, key: str | None = None, note: str | None = None
    ) -> httpx.Response:
        h = {**(await self.admin()), "Idempotency-Key": key or uuid.uuid4().hex}
        body: dict[str, Any] = {"kind": kind, "amount_fen": amount}
        if note is not None:
            body["note"] = note
        return await self.client.post(f"/admin/risk-funds/{fund_id}/entries", json=body, headers=h)

    async def set_balance(self, fund_id: str, amount: int) -> None:
        balance = (await self.get(fund_id))["balance_fen"]
        if balance:
            r = await self.entry(fund_id, "withdrawal", balance)
            assert r.status_code == 201, r.text
        if amount:
            r = await self.entry(fund_id, "deposit", amount)
            assert r.status_code == 201, r.text
        assert (await self.get(fund_id))["balance_fen"] == amount

    async def sharing(self, fund_id: str, g: int, b: int, i: int, gu: int = 0) -> httpx.Response:
        body = {"government_bp": g, "bank_bp": b, "insurer_bp": i, "guarantor_bp": gu}
        return await self.client.put(f"/admin/risk-funds/{fund_id}/sharing", json=body, headers=await self.admin())

    async def loss_village(self, county: str) -> str:
        """A village of a township reserved whole for this county's written-off loans: a write-off isolates its
        village and township, and no other test may be handed a village there and find it isolated."""
        pool: dict[str, list[str]] = self.factory.__dict__.setdefault("_risk_townships", {})
        if county not in pool:
            await self.factory.fresh_village()  # loads the village list
            used: set[str] = self.factory._used
            async with self.factory.session() as s:
                rows = (
                    await s.execute(
                        select(Region.code)
                        .where(Region.level == "village", col(Region.code).startswith(county))
                        .order_by(Region.code)
                    )
                ).all()
            by_township: dict[str, list[str]] = {}
            for (code,) in rows:
                by_township.setdefault(code[:9], []).append(code)
            free = [codes for _, codes in sorted(by_township.items()) if not used.intersection(codes)]
            assert free, f"no free township left in {county}"
            used.update(free[0])
            pool[county] = free[0]
        villages = pool[county]
        villages.append(villages.pop(0))  # round robin
        return villages[-1]

    async def loss(self, county: str, amount: int, *, repaid_before: int = 0) -> Loss:
        """A written-off loan of `amount` (disbursed, `repaid_before` repaid, then written off) in the county."""
        village = await self.loss_village(county)
        b = await self.lending.borrower(village=village, limit_fen=max(amount, 10_000))
        dd = await self.lending.loan(b, amount)
        if repaid_before:
            r = await self.lending.repay(b, dd, repaid_before)
            assert r.status_code == 201, r.text
        r = await self.lending.act(b, dd, "write-off")
        assert r.status_code == 200 and r.json()["status"] == "written_off", r.text
        return Loss(b, dd, county)

    async def file(self, loss: Loss, key: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        h = {**(headers or loss.borrower.bank_headers), "Idempotency-Key": key or uuid.uuid4().hex}
        return await self.client.post("/bank/compensation-claims", json={"drawdown_id": loss.drawdown_id}, headers=h)

    async def claim_for(
        self, county: str, amount: int, shares: tuple[int, int, int, int], balance: int
    ) -> tuple[Loss, dict[str, Any], dict[str, Any]]:
        """A filed claim on a fresh written-off loan under `shares`, with the county's fund set to `balance`."""
        fund = await self.fund(county)
        r = await self.sharing(fund["id"], *shares)
        assert r.status_code == 200, r.text
        await self.set_balance(fund["id"], balance)
        loss = await self.loss(county, amount)
        r = await self.file(loss)
        assert r.status_code == 201, r.text
        return loss, r.json(), fund

    async def approve(self, claim_id: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(
            f"/admin/compensation-claims/{claim_id}/approve", headers=headers or await self.admin()
        )

    async def ledger(self, fund_id: str, limit: int = 100) -> list[dict[str, Any]]:
        r = await self.client.get(
            f"/admin/risk-funds/{fund_id}/entries", params={"limit": limit}, headers=await self.admin()
        )
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    async def bank_admin(self, b: Borrower) -> dict[str, str]:
        return self.factory.headers(await self.factory.user("bank_admin", bank_id=b.bank.id))

    def bridge_body(self, county: str, **kw: Any) -> dict[str, Any]:
        return {
            "unified_social_credit_code": make_uscc(),
            "enterprise_name": "测试农产品加工有限公司",
            "county_code": county,
            "amount_fen": 1_000_000,
            "days": 10,
            "loan_reference": f"L-{uuid.uuid4().hex[:8]}",
            **kw,
        }


@pytest.fixture
def risk(factory: Factory, client: httpx.AsyncClient) -> Risk:
    return Risk(factory, client)


@pytest.fixture(autouse=True)
async def no_isolation(factory: Factory) -> Any:
    """Every claim needs a written-off loan, and a write-off isolates its village and township (100 % overdue):
    these tests lift the isolation lines while they run so that each can lend again nearby, and put them back."""
    from app.drawdowns.models import DrawdownPolicy

    async with factory.session() as s:
        row = await s.get(DrawdownPolicy, 1)
        saved = (row.village_isolation_bp, row.township_isolation_bp) if row else None
        if row is None:
            row = DrawdownPolicy()
            s.add(row)
        row.village_isolation_bp = row.township_isolation_bp = 10_001
        await s.commit()
    yield
    async with factory.session() as s:
        row = await s.get(DrawdownPolicy, 1)
        assert row is not None
        if saved is None:
            await s.delete(row)
        else:
            row.village_isolation_bp, row.township_isolation_bp = saved
        await s.commit()
