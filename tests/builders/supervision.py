"""Supervision test helpers: a township reserved for one test, households through the ratings import, loans
and stations written as their domains write them."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.core import crypto
from app.core.dates import china_today
from app.credit.models import Certificate, Household
from app.drawdowns import isolation
from app.drawdowns.models import Drawdown
from app.regions.models import Region
from app.stations.models import Station
from tests.factories import Factory, make_resident_id

_seq = itertools.count(random.randint(0, 400))


def rid(village: str) -> str:
    n = next(_seq)
    return make_resident_id(village[:6], born=f"19{60 + n % 40:02d}0{1 + n % 9}1{n % 9}", seq=random.randint(0, 999))


class Stats:
    def __init__(self, client: httpx.AsyncClient, factory: Factory) -> None:
        self.client, self.factory = client, factory
        self._admin: dict[str, str] | None = None

    async def admin(self) -> dict[str, str]:
        if self._admin is None:
            self._admin = self.factory.headers(await self.factory.user("admin"))
        return self._admin

    async def fresh_township(self, max_villages: int = 6) -> tuple[str, list[str]]:
        """The smallest township (at least 3 villages) none of whose villages any test has used; all reserved."""
        f = self.factory
        await f.fresh_village()
        used: set[str] = f._used
        async with f.session() as s:
            rows = (await s.execute(select(Region.code).where(Region.level == "village").order_by(Region.code))).all()
        by_township: dict[str, list[str]] = {}
        for (code,) in rows:
            by_township.setdefault(code[:9], []).append(code)
        for t, codes in sorted(by_township.items(), key=lambda kv: (len(kv[1]), kv[0])):
            if 3 <= len(codes) <= max_villages and not used.intersection(codes):
                used.update(codes)
                return t, codes
        raise RuntimeError("no free township")

    async def households(self, village: str, scores: list[str], real_name: str = "张三丰") -> list[str]:
        """Import one household per score (both scores the same); returns their resident ids."""
        ids = [rid(village) for _ in scores]
        rows = [
            {
                "id_number": i,
                "real_name": real_name,
                "phone": "",
                "village_code": village,
                "provincial_score": sc,
                "village_score": sc,
                "vetoes": [],
                "is_registered_poor": False,
            }
            for i, sc in zip(ids, scores, strict=True)
        ]
        r = await self.client.post("/admin/ratings/import", json={"rows": rows}, headers=await self.admin())
        assert r.status_code == 200, r.text
        assert all(row["ok"] for row in r.json()["rows"]), r.text
        return ids

    async def rerate(self, village: str, id_number: str, score: str, real_name: str = "张三丰") -> None:
        row = {
            "id_number": id_number,
            "real_name": real_name,
            "phone": "",
            "village_code": village,
            "provincial_score": score,
            "village_score": score,
            "vetoes": [],
            "is_registered_poor": False,
        }
        r = await self.client.post("/admin/ratings/import", json={"rows": [row]}, headers=await self.admin())
        assert r.status_code == 200 and r.json()["rows"][0]["ok"], r.text

    async def link(self, id_number: str, real_name: str = "张三丰") -> None:
        """A farmer links the household through PATCH /me (real name + resident id)."""
        user = await self.factory.user("farmer")
        r = await self.client.patch(
            "/me", json={"real_name": real_name, "id_number": id_number}, headers=self.factory.headers(user)
        )
        assert r.status_code == 200 and r.json()["household_linked"] is True, r.text

    async def household_id(self, id_number: str) -> uuid.UUID:
        async with self.factory.session() as s:
            h = await s.scalar(
                select(Household.id).where(Household.id_number_hash == crypto.index_hash(id_number, "resident_id"))
            )
            assert h is not None
            return h

    async def station(self, village: str) -> None:
        bank = await self.factory.bank([village[:6]])
        async with self.factory.session() as s:
            s.add(
                Station(
                    name=f"服务站{uuid.uuid4().hex[:6]}",
                    village_code=village,
                    address="村委会",
                    lat=32.98,
                    lng=114.02,
                    host_bank_id=bank.id,
                    manager_name="王站长",
                    phone="0396-1234567",
                    functions=[],
                )
            )
            await s.commit()

    async def loans(self, village: str, outstanding: int, flagged_overdue: int = 0) -> None:
        """Loan figures as the draw-down domain keeps them on disbursement and overdue reports."""
        async with self.factory.session() as s:
            await isolation.adjust(s, village, outstanding=outstanding, overdue=flagged_overdue)
            await s.commit()

    async def past_due_loan(self, village: str, id_number: str, outstanding: int) -> None:
        """A disbursed loan whose due date has passed with no overdue event yet (counted as overdue on read)."""
        hid = await self.household_id(id_number)
        bank = await self.factory.bank([village[:6]])
        async with self.factory.session() as s:
            cert = await s.scalar(
                select(Certificate).where(Certificate.household_id == hid, Certificate.is_current.is_(True))  # type: ignore[attr-defined]
            )
            assert cert is not None
            today = china_today()
            s.add(
                Drawdown(
                    certificate_id=cert.id,
                    household_id=hid,
                    bank_id=bank.id,
                    village_code=village,
                    township_code=village[:9],
                    county_code=village[:6],
                    amount_fen=outstanding,
                    outstanding_fen=outstanding,
                    term_months=1,
                    purpose="planting",
                    repayment_method="lump_sum",
                    annual_rate_bp=600,
                    rate_cap_bp=675,
                    status="disbursed",
                    submitted_on=today - timedelta(days=40),
                    approved_on=today - timedelta(days=40),
                    disbursed_on=today - timedelta(days=40),
                    due_on=today - timedelta(days=1),
                )
            )
            await isolation.adjust(s, village, outstanding=outstanding)
            await s.commit()

    async def region(self, code: str) -> dict[str, Any]:
        r = await self.client.get(f"/regions/{code}")
        assert r.status_code == 200
        body: dict[str, Any] = r.json()
        return body

    async def official(self, code: str, households: int) -> None:
        reg = await self.region(code)
        async with self.factory.session() as s:
            name = (await s.get(Region, code)).name  # type: ignore[union-attr]
        csv = (
            f"code,name,level,parent_code,households\n{code},{name},{reg['level']},{reg['parent_code']},{households}\n"
        )
        r = await self.client.post("/admin/regions/import", content=csv.encode(), headers=await self.admin())
        assert r.status_code == 200 and r.json()["rejected"] == 0, r.text

    async def coverage(self, region: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        r = await self.client.get(
            "/admin/stats/coverage", params={"region": region}, headers=headers or await self.admin()
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def item(self, region: str, child: str) -> dict[str, Any]:
        items = {i["code"]: i for i in (await self.coverage(region))["items"]}
        return items[child]


def today() -> date:
    return china_today()


@pytest.fixture
def stats(client: httpx.AsyncClient, factory: Factory) -> Stats:
    return Stats(client, factory)
