"""Borrowers with an active certificate at a lead bank, written directly (the credit domain issues them in the
app), and helpers that drive draw-downs through HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.auth.models import User
from app.banks.models import Bank
from app.consents import service as consents
from app.core.crypto import encrypt, index_hash
from app.core.dates import china_today
from app.core.security import create_access_token
from app.credit.models import Certificate, Household
from app.drawdowns.models import Drawdown
from app.regions.models import Region
from tests.factories import Factory, make_resident_id


@dataclass
class Borrower:
    user: User
    headers: dict[str, str]
    household: Household
    certificate: Certificate
    bank: Bank
    bank_headers: dict[str, str]
    village: str
    resident_id: str = ""


def system_headers(bank: Bank, scope: str = "loans:write") -> dict[str, str]:
    token, _, _ = create_access_token(
        sub=str(uuid.uuid4()), role="bank_system", extra={"bank": str(bank.id), "scope": scope}
    )
    return {"Authorization": f"Bearer {token}"}


class Lending:
    def __init__(self, factory: Factory, client: httpx.AsyncClient) -> None:
        self.factory = factory
        self.client = client

    async def borrower(
        self,
        *,
        limit_fen: int = 5_000_000,
        status: str = "active",
        village: str | None = None,
        bank: Bank | None = None,
        poor: bool = False,
        max_rate_bp: int = 675,
    ) -> Borrower:
        f = self.factory
        village = village or await self.unisolated_village()
        bank = bank or await f.bank([village[:6]])
        user = await f.user("farmer")
        rid = make_resident_id(village[:6], seq=int(uuid.uuid4().int % 1000))
        async with f.session() as s:
            h = Household(
                id_number_enc=encrypt(rid, "household"),
                id_number_hash=index_hash(f"{rid}-{uuid.uuid4().hex}", "resident_id"),
                real_name="张三丰",
                phone=user.phone,
                village_code=village,
                township_code=village[:9],
                county_code=village[:6],
                is_registered_poor=poor,
                user_id=user.id,
            )
            s.add(h)
            await s.flush()
            c = Certificate(
                number=f"T{uuid.uuid4().hex[:20]}",
                household_id=h.id,
                color="red",
                stars=5,
                limit_fen=limit_fen,
                max_annual_rate_bp=max_rate_bp,
                status=status,
                lead_bank_id=bank.id,
                issued_on=china_today(),
                expires_on=china_today() + timedelta(days=3 * 365),
            )
            s.add(c)
            await s.flush()
            if status == "active":  # activation (启信) records the consent for the lead bank, as the app does
                await consents.grant(s, user_id=user.id, household_id=h.id, bank_id=bank.id, source="activation")
            await s.commit()
            await s.refresh(h)
            await s.refresh(c)
        headers = f.headers(user)
        await f.step_up(headers)
        staff = await f.user("bank_staff", bank_id=bank.id)
        return Borrower(user, headers, h, c, bank, f.headers(staff), village, rid)

    async def unisolated_village(self) -> str:
        """A fresh village whose township no earlier test has put under credit isolation (tests leave overdue
        loans behind, and villages are handed out one by one, so a township can be shared)."""
        from app.drawdowns import isolation

        while True:
            village = await self.factory.fresh_village()
            async with self.factory.session() as s:
                if not any(await isolation.isolation(s, village)):
                    return village

    async def submit(
        self, b: Borrower, amount: int, term: int = 12, key: str | None = None, **extra: Any
    ) -> httpx.Response:
        h = {**b.headers, "Idempotency-Key": key or uuid.uuid4().hex}
        body = {"amount_fen": amount, "term_months": term, "purpose": "planting", **extra}
        return await self.client.post("/me/drawdowns", json=body, headers=h)

    async def act(
        self, b: Borrower, dd_id: str, action: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.client.post(f"/bank/drawdowns/{dd_id}/{action}", json=body, headers=headers or b.bank_headers)

    async def repay(
        self, b: Borrower, dd_id: str, amount: int, paid_on: date | None = None, key: str | None = None
    ) -> httpx.Response:
        h = {**b.bank_headers, "Idempotency-Key": key or uuid.uuid4().hex}
        body = {"amount_fen": amount, "paid_on": (paid_on or china_today()).isoformat()}
        return await self.client.post(f"/bank/drawdowns/{dd_id}/repayments", json=body, headers=h)

    async def loan(self, b: Borrower, amount: int, term: int = 12) -> str:
        """A disbursed draw-down through HTTP."""
        r = await self.submit(b, amount, term)
        assert r.status_code == 201, r.text
        dd = r.json()["id"]
        r = await self.act(b, dd, "approve", {"annual_rate_bp": 600})
        assert r.status_code == 200, r.text
        r = await self.act(b, dd, "disburse", {})
        assert r.status_code == 200, r.text
        return str(dd)

    async def certificate(self, b: Borrower) -> Certificate:
        async with self.factory.session() as s:
            return (await s.execute(select(Certificate).where(Certificate.id == b.certificate.id))).scalar_one()

    async def all(self, stmt: Any) -> list[Any]:
        async with self.factory.session() as s:
            return list((await s.execute(stmt)).scalars().all())

    async def set_dates(self, dd_id: str, **values: Any) -> None:
        async with self.factory.session() as s:
            await s.execute(update(Drawdown).where(Drawdown.id == uuid.UUID(dd_id)).values(**values))
            await s.commit()

    async def fresh_township(self, villages: int) -> tuple[str, list[str]]:
        """A township none of whose villages any test has used; all of them reserved for the caller."""
        f = self.factory
        await f.fresh_village()  # loads the village list
        used: set[str] = f._used
        async with f.session() as s:
            rows = (await s.execute(select(Region.code).where(Region.level == "village").order_by(Region.code))).all()
        by_township: dict[str, list[str]] = {}
        for (code,) in rows:
            by_township.setdefault(code[:9], []).append(code)
        for t, codes in sorted(by_township.items(), reverse=True):
            if len(codes) >= villages and not used.intersection(codes):
                used.update(codes)
                return t, codes[:villages]
        raise RuntimeError("no free township")


@pytest.fixture
def lending(factory: Factory, client: httpx.AsyncClient) -> Lending:
    return Lending(factory, client)
