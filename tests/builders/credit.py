"""Credit test helpers: import households through HTTP, link them to farmers directly."""

from __future__ import annotations

import itertools
import random
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.credit.models import Household
from tests.factories import Factory, make_resident_id

_seq = itertools.count(random.randint(0, 400))


def new_id(village: str) -> str:
    n = next(_seq)
    return make_resident_id(village[:6], born=f"19{60 + n % 40:02d}0{1 + n % 9}1{n % 9}", seq=random.randint(0, 999))


def row(village: str, p: str | float = "96", v: str | float = "96", vetoes: Any = None, **kw: Any) -> dict[str, Any]:
    return {
        "id_number": kw.pop("id_number", None) or new_id(village),
        "real_name": kw.pop("real_name", "张三丰"),
        "phone": kw.pop("phone", ""),
        "village_code": village,
        "provincial_score": p,
        "village_score": v,
        "vetoes": vetoes or [],
        "is_registered_poor": kw.pop("is_registered_poor", False),
        **kw,
    }


class Credit:
    def __init__(self, client: httpx.AsyncClient, factory: Factory) -> None:
        self.client, self.factory = client, factory
        self._admin: dict[str, str] | None = None

    async def admin(self) -> dict[str, str]:
        if self._admin is None:
            self._admin = self.factory.headers(await self.factory.user("admin"))
        return self._admin

    async def import_rows(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        r = await self.client.post("/admin/ratings/import", json={"rows": rows}, headers=await self.admin())
        assert r.status_code == 200, r.text
        return r.json()

    async def household(self, village: str | None = None, **kw: Any) -> uuid.UUID:
        village = village or await self.factory.fresh_village("411725")
        r = row(village, **kw)
        body = await self.import_rows([r])
        assert body["rows"][0]["ok"], body
        async with self.factory.session() as s:
            from app.core import crypto

            h = await s.scalar(
                select(Household).where(Household.id_number_hash == crypto.index_hash(r["id_number"], "resident_id"))
            )
            assert h is not None
            return h.id

    async def farmer_with(self, household_id: uuid.UUID) -> tuple[Any, dict[str, str]]:
        user = await self.factory.user("farmer")
        async with self.factory.session() as s:
            h = await s.get(Household, household_id)
            assert h is not None
            h.user_id = user.id
            await s.commit()
        return user, self.factory.headers(user)


@pytest.fixture
def credit(client: httpx.AsyncClient, factory: Factory) -> Credit:
    return Credit(client, factory)


@pytest.fixture(scope="session", autouse=True)
async def _keep_demo_villages(factory: Factory) -> None:
    """The demo seeder's villages are never handed to a test that counts households."""
    from app.credit.seed import DEMO_VILLAGES

    await factory.fresh_village()
    factory._used.update(DEMO_VILLAGES)
