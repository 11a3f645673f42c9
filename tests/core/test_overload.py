"""Overload degrades as 503 service_unavailable with Retry-After, never 500, and leaves nothing half-written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.core.problems import overloaded
from app.drawdowns import service as drawdowns
from app.drawdowns.models import Drawdown
from tests.builders.drawdowns import Lending, lending  # noqa: F401


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("refused")
        self.sqlstate = sqlstate


def test_what_counts_as_overload() -> None:
    assert overloaded(PoolTimeout("QueuePool limit of size 10 overflow 5 reached"))
    assert overloaded(DBAPIError("connect", None, _PgError("53300")))  # too_many_connections
    assert overloaded(DBAPIError("connect", None, _PgError("57P03")))  # cannot_connect_now
    assert overloaded(DBAPIError("select", None, _PgError("08006"), connection_invalidated=True))
    assert not overloaded(DBAPIError("insert", None, _PgError("23505")))  # a unique violation is a bug, not load
    assert overloaded(MaxConnectionsError("Too many connections"))  # redis-py's pool is full
    assert overloaded(RedisConnectionError("No connection available."))  # the blocking pool's wait ran out
    assert not overloaded(RuntimeError("boom"))


async def test_pool_timeout_mid_drawdown_is_503_and_rolls_back(
    lending: Lending,  # noqa: F811
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    b = await lending.borrower(limit_fen=1_000_000)
    real = drawdowns.notify

    async def no_connection(*a: Any, **kw: Any) -> None:
        # after the certificate UPDATE and the draw-down INSERT: the failure must undo both
        raise PoolTimeout("QueuePool limit of size 10 overflow 5 reached, connection timed out, timeout 5.00")

    monkeypatch.setattr(drawdowns, "notify", no_connection)
    r = await lending.submit(b, 300_000, key="overload-1")
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "service_unavailable"
    assert r.headers["Retry-After"] == "1" and r.json()["retry_after"] == 1
    cert = await lending.certificate(b)
    assert cert.pending_fen == 0 and cert.outstanding_fen == 0
    assert await lending.all(select(Drawdown).where(Drawdown.certificate_id == b.certificate.id)) == []

    monkeypatch.setattr(drawdowns, "notify", real)
    r = await lending.submit(b, 300_000, key="overload-1")  # the same key works once the service recovers
    assert r.status_code == 201, r.text
    assert "Idempotent-Replayed" not in r.headers
    assert (await lending.certificate(b)).pending_fen == 300_000


async def test_redis_pool_full_is_503(
    lending: Lending,  # noqa: F811
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.core import ratelimit

    b = await lending.borrower(limit_fen=1_000_000)

    async def full(*a: Any, **kw: Any) -> None:
        raise MaxConnectionsError("Too many connections")

    monkeypatch.setattr(ratelimit, "hit", full)
    r = await lending.submit(b, 100_000)
    assert r.status_code == 503 and r.json()["code"] == "service_unavailable", r.text
    assert r.headers["Retry-After"] == "1"
    assert (await lending.certificate(b)).pending_fen == 0


async def test_blocking_redis_pool_waits_then_fails_as_connection_error() -> None:
    from app.core.config import get_settings
    from app.core.redis import make_redis

    url = get_settings().redis_url
    if url.startswith("memory://"):
        pytest.skip("needs a Redis server")
    if "+cluster://" in url:
        pytest.skip("a cluster client keeps one pool per node (past max_connections: MaxConnectionsError, a 503)")
    r = make_redis(url, max_connections=1, pool_timeout=0.2)
    try:
        conn = await r.connection_pool.get_connection()  # hold the only connection
        with pytest.raises(RedisConnectionError):
            await r.ping()
        await r.connection_pool.release(conn)
        assert await r.ping()
    finally:
        await r.aclose()
