"""Nobody locks the platform out (issue 13 item 12): no admin disables itself, the last active admin, or a
bank's last active bank_admin — not even two admins at once."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select, update

from app.auth.models import User
from app.core.config import get_settings
from tests.factories import Factory

on_postgres = pytest.mark.skipif(
    get_settings().database_url.startswith("sqlite"),
    reason="SQLite serialises every request through one connection: row locks are PostgreSQL's",
)


async def _active(factory: Factory, *users: User) -> dict[str, bool]:
    async with factory.session() as s:
        rows = (await s.execute(select(User.id, User.is_active).where(User.id.in_([u.id for u in users])))).all()
    return {str(i): bool(a) for i, a in rows}


async def test_an_admin_cannot_disable_itself(
    client: httpx.AsyncClient, factory: Factory, admin: User, admin_headers: dict[str, str]
) -> None:
    await factory.user("admin")  # not the last one: the refusal is about itself
    r = await client.post(f"/admin/users/{admin.id}/disable", headers=admin_headers)
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_state"
    assert r.json()["detail"] == "不能停用自己的账号"
    assert (await _active(factory, admin))[str(admin.id)] is True
    # and its session goes on
    r = await client.post(f"/admin/users/{admin.id}/enable", headers=admin_headers)
    assert r.status_code == 200


async def test_a_banks_last_active_bank_admin_stays(
    client: httpx.AsyncClient, factory: Factory, admin_headers: dict[str, str]
) -> None:
    bank = await factory.bank()
    first = await factory.user("bank_admin", bank_id=bank.id)
    second = await factory.user("bank_admin", bank_id=bank.id)
    staff = await factory.user("bank_staff", bank_id=bank.id)
    other_bank = await factory.bank()
    await factory.user("bank_admin", bank_id=other_bank.id)  # another bank's admin does not count
    assert (await client.post(f"/admin/users/{first.id}/disable", headers=admin_headers)).status_code == 200
    r = await client.post(f"/admin/users/{second.id}/disable", headers=admin_headers)
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_state"
    assert r.json()["detail"] == "该银行至少须保留一个在用的银行管理员账号"
    assert (await _active(factory, second))[str(second.id)] is True
    # Staff are not guarded; a second admin enabled again makes the first one free to go.
    assert (await client.post(f"/admin/users/{staff.id}/disable", headers=admin_headers)).status_code == 200
    assert (await client.post(f"/admin/users/{first.id}/enable", headers=admin_headers)).status_code == 200
    assert (await client.post(f"/admin/users/{second.id}/disable", headers=admin_headers)).status_code == 200


async def _only_these_admins_active(factory: Factory, *keep: User) -> None:
    """The platform's admins are these (other tests' admins are disabled: each test makes its own)."""
    async with factory.session() as s:
        await s.execute(
            update(User).where(User.role == "admin", User.id.not_in([u.id for u in keep])).values(is_active=False)
        )
        await s.commit()


async def test_the_last_active_admin_stays(client: httpx.AsyncClient, factory: Factory) -> None:
    a, b = await factory.user("admin"), await factory.user("admin")
    await _only_these_admins_active(factory, a)
    # b was disabled just after its request got past sign-in (what a race does): the state itself refuses.
    r = await client.post(f"/admin/users/{a.id}/disable", headers=factory.headers(b))
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_state"
    assert r.json()["detail"] == "至少须保留一个在用的平台管理员账号"
    assert (await _active(factory, a))[str(a.id)] is True


@on_postgres
async def test_two_admins_disabling_each_other_at_once_leave_one(client: httpx.AsyncClient, factory: Factory) -> None:
    for _ in range(3):
        a, b = await factory.user("admin"), await factory.user("admin")
        await _only_these_admins_active(factory, a, b)
        ra, rb = await asyncio.gather(
            client.post(f"/admin/users/{b.id}/disable", headers=factory.headers(a)),
            client.post(f"/admin/users/{a.id}/disable", headers=factory.headers(b)),
        )
        assert sorted([ra.status_code, rb.status_code]) == [200, 409], (ra.text, rb.text)
        assert sum((await _active(factory, a, b)).values()) == 1


@on_postgres
async def test_disabling_a_banks_two_admins_at_once_leaves_one(
    client: httpx.AsyncClient, factory: Factory, admin_headers: dict[str, str]
) -> None:
    bank = await factory.bank()
    admins = [await factory.user("bank_admin", bank_id=bank.id) for _ in range(2)]
    rs = await asyncio.gather(*[client.post(f"/admin/users/{u.id}/disable", headers=admin_headers) for u in admins])
    assert sorted(r.status_code for r in rs) == [200, 409]
    assert sum((await _active(factory, *admins)).values()) == 1
