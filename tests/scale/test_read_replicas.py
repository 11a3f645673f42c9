"""Read replicas (DATABASE_READ_URLS): lag-tolerant routes are served by a replica, a caller's reads right after
its own write by the primary, and a replica that is down or lagging is skipped.

The proofs against a real streaming replica (TEST_DATABASE_READ_URLS, started by .ci/scale.sh) pause its WAL
replay (`pg_wal_replay_pause()`), write a row on the primary, and look: a replica-served answer lacks the row, a
primary-served one has it. The rest runs on any backend.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings
from app.core.db import Database, Replica, async_url, get_read_session, parse_lsn
from app.regions.models import Region
from tests.factories import Factory, make_uscc

READ_URLS = [u for u in os.environ.get("TEST_DATABASE_READ_URLS", "").split(",") if u]
needs_replica = pytest.mark.skipif(not READ_URLS, reason="needs a streaming replica (TEST_DATABASE_READ_URLS)")
needs_postgres = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"), reason="replicas are PostgreSQL's"
)
TOWNSHIP = "411702001"  # 驿城区 顺河街道: a real township of the seeded tree


# ---- rules (every backend) -------------------------------------------------------------------------------------


def test_read_urls_setting_takes_json_or_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_READ_URLS", "postgresql://a/x, postgresql://b/x")
    assert Settings().database_read_urls == ["postgresql://a/x", "postgresql://b/x"]
    monkeypatch.setenv("DATABASE_READ_URLS", '["postgresql://a/x"]')
    assert Settings().database_read_urls == ["postgresql://a/x"]
    monkeypatch.setenv("DATABASE_READ_URLS", "")
    assert Settings().database_read_urls == []


def test_lsn_parsing_orders_like_postgres() -> None:
    assert parse_lsn("0/16B3748") < parse_lsn("0/16B3749") < parse_lsn("1/0")
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848


def test_lag_is_the_age_of_the_newest_primary_position_the_replica_has_replayed() -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none", read_urls=["postgresql://nobody@127.0.0.1:1/none"])
    db._samples.extend([(100.0, 10), (101.0, 20), (102.0, 30)])
    assert db._lag_of(30, now=102.5) == 0.0  # has everything the primary had at the last check
    assert db._lag_of(35, now=102.5) == 0.0
    assert db._lag_of(25, now=102.5) == pytest.approx(1.5)  # reached the 101.0 position, not the 102.0 one
    assert db._lag_of(9, now=102.5) is None  # behind every position kept: beyond any tolerance


def test_without_replicas_the_read_session_is_the_primary() -> None:
    db = Database("postgresql://nobody@127.0.0.1:1/none")
    assert db.replicas == []
    assert asyncio.run(db.healthy_replica()) is None
    assert Database("sqlite:///x.db", read_urls=["postgresql://r/x"]).replicas == []  # SQLite has none


def test_read_routes_resolve_the_principal_before_the_read_session(app: FastAPI) -> None:
    """The pin is looked up for request.state.principal, so the principal must be resolved first."""
    read_routes = []
    for route in _api_routes(app.routes):
        deps = [d.call for d in route.dependant.dependencies]
        if get_read_session not in deps:
            continue
        read_routes.append(route.path)
        at = deps.index(get_read_session)
        principal_at = [i for i, d in enumerate(route.dependant.dependencies) if _needs_principal(d)]
        assert all(i < at for i in principal_at), route.path
    assert {"/products", "/regions", "/bank/demands", "/admin/stats/coverage"} <= set(read_routes)


def _api_routes(routes: Any) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's included routers
            yield from _api_routes(route.original_router.routes)


def _needs_principal(dep: Any) -> bool:
    from app.auth.dependencies import get_principal

    return dep.call is get_principal or any(_needs_principal(d) for d in dep.dependencies)


# ---- a replica that does not answer (any PostgreSQL) ---------------------------------------------------------


@needs_postgres
async def test_a_replica_that_is_down_is_skipped(app: FastAPI, client: httpx.AsyncClient) -> None:
    db: Database = app.state.db
    dead = Replica("postgresql://postgres@127.0.0.1:18299/nothing_listens_here")
    saved = db.replicas, db.read_check_seconds, db._checked_at
    db.replicas, db.read_check_seconds, db._checked_at = [dead], 0.0, float("-inf")
    try:
        r = await client.get(f"/regions/{TOWNSHIP}")
        assert r.status_code == 200, r.text
        assert dead.healthy is False and dead.error and dead.error.startswith("unreachable")
    finally:
        db.replicas, db.read_check_seconds, db._checked_at = saved
        await dead.engine.dispose()


# ---- a real streaming replica -------------------------------------------------------------------------------


@pytest.fixture
async def replica_admin() -> AsyncIterator[Any]:
    """A superuser connection to the replica (to pause and resume its replay)."""
    engine = create_async_engine(async_url(READ_URLS[0]), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        yield conn
        await conn.execute(text("SELECT pg_wal_replay_resume()"))
    await engine.dispose()


async def _pause(conn: Any) -> None:
    await conn.execute(text("SELECT pg_wal_replay_pause()"))
    for _ in range(500):
        if (await conn.execute(text("SELECT pg_get_wal_replay_pause_state()"))).scalar_one() == "paused":
            return
        await asyncio.sleep(0.01)
    raise AssertionError("replay did not pause")


async def _resume_and_catch_up(app: FastAPI, conn: Any) -> None:
    await conn.execute(text("SELECT pg_wal_replay_resume()"))
    await _catch_up(conn, await app.state.db.primary_lsn())


async def _catch_up(conn: Any, target: int) -> None:
    for _ in range(1000):
        raw = (await conn.execute(text("SELECT pg_last_wal_replay_lsn()::text"))).scalar_one()
        if parse_lsn(str(raw)) >= target:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("replica did not catch up")


@pytest.fixture
async def lag_mode(app: FastAPI, replica_admin: Any) -> AsyncIterator[Database]:
    """The production read path: no waiting for replay, a lag tolerance large enough for a paused replay, a
    health check on every read, and one primary position that the replica is known to have replayed."""
    db: Database = app.state.db
    saved = (db.read_wait_seconds, db.read_max_lag_seconds, db.read_check_seconds, db._checked_at)
    db.read_wait_seconds, db.read_max_lag_seconds, db.read_check_seconds = 0.0, 3600.0, 0.0
    db._checked_at = float("-inf")
    at, lsn = time.monotonic(), await db.primary_lsn()
    await _catch_up(replica_admin, lsn)
    db._samples.append((at, lsn))
    yield db
    db.read_wait_seconds, db.read_max_lag_seconds, db.read_check_seconds, db._checked_at = saved


@pytest.fixture
async def new_village(app: FastAPI) -> AsyncIterator[str]:
    code = f"{TOWNSHIP}{uuid.uuid4().int % 900 + 100}"  # ...9xx-style codes the seed never uses
    yield code
    async with app.state.db.sessionmaker() as s:
        await s.execute(delete(Region).where(Region.code == code))
        await s.commit()


async def _add_village(app: FastAPI, code: str) -> None:
    async with app.state.db.sessionmaker() as s:
        s.add(Region(code=code, name="复制延迟测试村", level="village", parent_code=TOWNSHIP))
        await s.commit()


@needs_replica
async def test_a_read_route_is_served_by_the_replica(
    app: FastAPI, client: httpx.AsyncClient, lag_mode: Database, replica_admin: Any, new_village: str
) -> None:
    assert lag_mode.replicas, "TEST_DATABASE_READ_URLS is set but the app has no replica"
    await _pause(replica_admin)
    await _add_village(app, new_village)  # on the primary only, while the replica stands still
    r = await client.get(f"/regions/{new_village}")
    assert r.status_code == 404, "a replica-served read must not see a row the replica has not replayed"
    assert lag_mode.replicas[0].healthy and lag_mode.replicas[0].lag is not None and lag_mode.replicas[0].lag > 0
    await _resume_and_catch_up(app, replica_admin)
    r = await client.get(f"/regions/{new_village}")
    assert r.status_code == 200 and r.json()["name"] == "复制延迟测试村"


@needs_replica
async def test_a_callers_reads_after_its_own_write_go_to_the_primary(
    app: FastAPI,
    client: httpx.AsyncClient,
    factory: Factory,
    lag_mode: Database,
    replica_admin: Any,
    new_village: str,
) -> None:
    admin = factory.headers(await factory.user("admin"))
    other = factory.headers(await factory.user("admin"))
    await _pause(replica_admin)
    await _add_village(app, new_village)

    def codes(r: httpx.Response) -> set[str]:
        assert r.status_code == 200, r.text
        return {i["code"] for i in r.json()["items"]}

    coverage = {"region": TOWNSHIP}
    assert new_village not in codes(await client.get("/admin/stats/coverage", params=coverage, headers=admin))
    # The admin writes something (anything: the pin is per caller, not per table)…
    body = {
        "name": f"读写一致银行{uuid.uuid4().hex[:6]}",
        "unified_social_credit_code": make_uscc(),
        "region_code": "4117",
        "county_codes": ["411702"],
        "contact_phone": "0396-1234567",
    }
    w = await client.post("/admin/banks", json=body, headers=admin)
    assert w.status_code == 201, w.text
    # …and from then on reads the primary, which has the village; another caller still reads the replica.
    assert new_village in codes(await client.get("/admin/stats/coverage", params=coverage, headers=admin))
    assert new_village not in codes(await client.get("/admin/stats/coverage", params=coverage, headers=other))
    # The bank feed and the public routes take the same path.
    assert (await client.get(f"/regions/{new_village}")).status_code == 404


@needs_replica
async def test_a_lagging_replica_is_skipped(
    app: FastAPI, client: httpx.AsyncClient, lag_mode: Database, replica_admin: Any, new_village: str
) -> None:
    await _pause(replica_admin)
    await _add_village(app, new_village)
    lag_mode.read_max_lag_seconds = 0.0  # any lag is too much: the replica has not replayed the new row
    lag_mode._samples.clear()
    r = await client.get(f"/regions/{new_village}")
    assert r.status_code == 200, "a lagging replica must be skipped, the primary answers"
    assert lag_mode.replicas[0].healthy is False and lag_mode.replicas[0].error == "lagging"
    await _resume_and_catch_up(app, replica_admin)
    lag_mode.read_max_lag_seconds = 3600.0
    await lag_mode.check_replicas()
    assert lag_mode.replicas[0].healthy, "a replica that caught up is used again"
