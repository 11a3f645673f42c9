"""Concurrent PUTs of one new code: one creates it, the others change it; never a 500 (real concurrency on
PostgreSQL, and the losing interleaving made certain on both databases)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.core.config import get_settings
from app.enterprises.models import KeyEnterprise
from tests.factories import Factory, make_uscc

on_postgresql = pytest.mark.skipif(
    get_settings().database_url.startswith("sqlite"),
    reason="SQLite serialises every request through one connection: concurrency is only meaningful on PostgreSQL",
)


@on_postgresql
async def test_concurrent_puts_of_one_code(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = factory.headers(await factory.user("admin"))
    code = make_uscc()
    bodies = [{"name": f"并发企业{i}", "county_code": "411725", "note": ""} for i in range(12)]
    rs = await asyncio.gather(*[client.put(f"/admin/key-enterprises/{code}", json=b, headers=admin) for b in bodies])
    codes = sorted(r.status_code for r in rs)
    assert codes.count(201) == 1 and codes.count(200) == len(bodies) - 1, codes
    async with factory.session() as s:
        assert await s.scalar(select(func.count()).select_from(KeyEnterprise).where(
            KeyEnterprise.unified_social_credit_code == code)) == 1  # fmt: skip
        adds = await s.scalar(
            select(func.count()).where(AuditEntry.object_id == code, AuditEntry.action == "key_enterprise.add")
        )
        assert adds == 1


async def test_a_put_that_loses_the_race_changes_the_entry(
    client: httpx.AsyncClient, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving made certain: another request creates the entry after this one looked and found none."""
    from app.enterprises import repository

    admin = factory.headers(await factory.user("admin"))
    code = make_uscc()
    assert (
        await client.put(
            f"/admin/key-enterprises/{code}",
            json={"name": "先到企业", "county_code": "411725", "note": ""},
            headers=admin,
        )
    ).status_code == 201
    real_get = repository.get
    calls = {"n": 0}

    async def not_yet_visible(session, c, *, lock=False):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return None if calls["n"] == 1 else await real_get(session, c, lock=lock)

    monkeypatch.setattr(repository, "get", not_yet_visible)
    r = await client.put(
        f"/admin/key-enterprises/{code}", json={"name": "后到企业", "county_code": "411725", "note": ""}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "后到企业"
