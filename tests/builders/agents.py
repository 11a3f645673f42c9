"""Station-agent helpers: a station in a fresh village with its agent, households written directly (the credit
domain imports them through its own routes), banks with products from the demand helpers."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.auth.models import User
from app.core.config import get_settings
from app.core.crypto import encrypt, index_hash
from app.credit.models import Household
from app.stations.models import Station
from tests.builders.demands import Demands
from tests.factories import Factory, make_resident_id, unique_phone

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")
COUNTY = "411725"


def sms_to(phone: str) -> list[str]:
    path = Path(get_settings().sms_outbox_path)
    if not path.exists():
        return []
    msgs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [m["text"] for m in msgs if m["phone"] == phone]


def last_code(phone: str) -> str:
    texts = sms_to(phone)
    assert texts, f"no SMS to {phone}"
    codes = CODE.findall(texts[-1])
    assert len(codes) == 1
    return str(codes[0])


@dataclass
class Post:
    station_id: uuid.UUID
    village: str
    agent: User
    headers: dict[str, str]


class Agents:
    def __init__(self, factory: Factory, client: httpx.AsyncClient) -> None:
        self.factory, self.client = factory, client
        self.demands = Demands(factory, client)

    async def post(self, county: str = COUNTY) -> Post:
        f = self.factory
        village = await f.fresh_village(county)
        bank = await f.bank([county])
        async with f.session() as s:
            st = Station(
                name="测试服务站",
                village_code=village,
                address="村委会院内",
                lat=32.8,
                lng=114.0,
                host_bank_id=bank.id,
                manager_name="王建国",
                phone="13912340000",
                functions=["cash_withdrawal", "transfer_remittance", "payment_collection", "inquiry"],
            )
            s.add(st)
            await s.commit()
            await s.refresh(st)
        agent = await f.user("station_agent", station_id=st.id)
        return Post(st.id, village, agent, f.headers(agent))

    async def household(
        self,
        village: str,
        *,
        phone: str | None = "new",
        user: User | None = None,
        provincial: str | None = "96",
        village_score: str | None = "96",
        stars: int = 5,
        name: str = "李秀英",
    ) -> Household:
        rid = make_resident_id(village[:6], seq=int(uuid.uuid4().int % 1000))
        async with self.factory.session() as s:
            h = Household(
                id_number_enc=encrypt(rid, "resident_id"),
                id_number_hash=index_hash(f"{rid}-{uuid.uuid4().hex}", "resident_id"),
                real_name=name,
                phone=unique_phone() if phone == "new" else phone,
                village_code=village,
                township_code=village[:9],
                county_code=village[:6],
                user_id=user.id if user else None,
                provincial_score=Decimal(provincial) if provincial else None,
                village_score=Decimal(village_score) if village_score else None,
                stars=stars,
                is_credit_household=stars > 0,
            )
            s.add(h)
            await s.commit()
            await s.refresh(h)
        return h

    async def code(self, post: Post, h: Household) -> str:
        r = await self.client.post(f"/agent/households/{h.id}/sms-codes", headers=post.headers)
        assert r.status_code == 202, r.text
        assert h.phone is not None
        return last_code(h.phone)

    async def file(self, post: Post, h: Household, **over: Any) -> httpx.Response:
        body: dict[str, Any] = {
            "household_id": str(h.id),
            "code": await self.code(post, h),
            "amount_fen": 3_000_000,
            "term_months": 12,
            "purpose": "livestock",
            "description": "代办：扩建羊圈，购买饲料。",
            "collateral_types": ["livestock"],
        }
        body.update(over)
        return await self.client.post("/agent/demands", json=body, headers=post.headers)


@pytest.fixture
def agents(factory: Factory, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> Agents:
    # Several codes to one household phone in a test: no resend interval (the limit itself is tested apart).
    monkeypatch.setattr(get_settings(), "sms_phone_interval_seconds", 0)
    return Agents(factory, client)


@pytest.fixture(scope="session", autouse=True)
async def _keep_demo_villages(factory: Factory) -> None:
    """The demo seeders' villages are never handed to these tests (the seed tests count their households)."""
    from app.credit.seed import DEMO_VILLAGES

    await factory.fresh_village()
    factory._used.update(DEMO_VILLAGES)
