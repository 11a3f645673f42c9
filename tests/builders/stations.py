from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.factories import Factory

STANDARD = ["cash_withdrawal", "transfer_remittance", "payment_collection", "inquiry"]


def station_body(village_code: str, bank_id: Any, **kw: Any) -> dict[str, Any]:
    body = {
        "name": "测试村普惠金融服务站",
        "village_code": village_code,
        "address": "河南省驻马店市确山县测试村村委会院内",
        "lat": 32.8,
        "lng": 114.02,
        "host_bank_id": str(bank_id),
        "manager_name": "王建国",
        "phone": "13912340000",
        "opening_hours": "周一至周日 8:00-18:00",
        "functions": [*STANDARD, "financial_education"],
    }
    body.update(kw)
    return body


@pytest.fixture
def origin() -> tuple[float, float]:
    """A spot of the map no other test uses, so that distance searches see only this test's stations."""
    return round(random.uniform(-60, 60), 4), round(random.uniform(-150, 150), 4)


MakeStation = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def make_station(client: httpx.AsyncClient, factory: Factory, admin_headers: dict[str, str]) -> MakeStation:
    async def make(county: str = "411725", bank: Any = None, village: str | None = None, **kw: Any) -> dict[str, Any]:
        bank = bank or await factory.bank([county])
        village = village or await factory.fresh_village(county)
        r = await client.post("/admin/stations", json=station_body(village, bank.id, **kw), headers=admin_headers)
        assert r.status_code == 201, r.text
        return dict(r.json())

    return make


async def db_all(app: Any, stmt: Any) -> list[Any]:
    """Run a read in its own short session: the SQLite pool has one connection, shared with the app."""
    async with app.state.db.sessionmaker() as s:
        return list((await s.execute(stmt)).all())
