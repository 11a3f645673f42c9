"""Overload degrades as 503 service_unavailable with Retry-After, never 500, and leaves nothing half-written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.core.problems import overloaded
from app.drawdowns import service as drawdowns
from app.drawdowns.models import Drawdown
from tests.drawdowns.conftest import Lending, lending  # noqa: F401


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
