"""`Idempotency-Key` is accepted on creating POSTs (API.md): the same key and body create one object."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from app.auth.models import User
from app.banks.models import Bank
from tests.factories import make_uscc


async def test_bank_onboarding_replays(client: httpx.AsyncClient, admin_headers, app) -> None:
    body = {
        "name": "幂等测试银行",
        "unified_social_credit_code": make_uscc(),
        "region_code": "4117",
        "county_codes": ["411725"],
        "contact_phone": "95599",
    }
    h = {**admin_headers, "Idempotency-Key": f"bank-{uuid.uuid4().hex}"}
    r1 = await client.post("/admin/banks", json=body, headers=h)
    r2 = await client.post("/admin/banks", json=body, headers=h)
    assert r1.status_code == r2.status_code == 201
    assert r2.json() == r1.json() and r2.headers["idempotent-replayed"] == "true"
    async with app.state.db.sessionmaker() as s:
        n = await s.scalar(
            select(func.count())
            .select_from(Bank)
            .where(Bank.unified_social_credit_code == body["unified_social_credit_code"])
        )
    assert n == 1
    r3 = await client.post("/admin/banks", json={**body, "name": "另一家"}, headers=h)
    assert r3.status_code == 422 and r3.json()["code"] == "idempotency_key_reused"


async def test_staff_creation_replays(client: httpx.AsyncClient, admin_headers, factory, app) -> None:
    bank = await factory.bank(["411725"])
    username = f"idem-{uuid.uuid4().hex[:8]}"
    body = {"username": username, "password": "Zhumadian-Loans-88", "role": "bank_staff", "real_name": "李四"}
    h = {**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    r1 = await client.post(f"/admin/banks/{bank.id}/staff", json=body, headers=h)
    r2 = await client.post(f"/admin/banks/{bank.id}/staff", json=body, headers=h)
    assert r1.status_code == 201, r1.text
    assert r2.status_code == 201 and r2.json() == r1.json()
    async with app.state.db.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(User).where(User.username == username)) == 1
