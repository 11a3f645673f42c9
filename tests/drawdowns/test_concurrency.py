"""No interleaving of requests can take outstanding + pending above the limit (PostgreSQL, real concurrency)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from app.core.config import get_settings
from app.drawdowns.models import Drawdown
from tests.builders.drawdowns import Lending

pytestmark = pytest.mark.skipif(
    get_settings().database_url.startswith("sqlite"),
    reason="SQLite serialises every request through one connection: concurrency is only meaningful on PostgreSQL",
)


async def test_fifty_concurrent_drawdowns_never_overdraw(lending: Lending, monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "drawdowns_per_day", 10_000)
    limit, amount, n = 1_000_000, 30_001, 60
    b = await lending.borrower(limit_fen=limit)
    rs = await asyncio.gather(*[lending.submit(b, amount) for _ in range(n)])
    codes = sorted(r.status_code for r in rs)
    accepted = [r for r in rs if r.status_code == 201]
    refused = [r for r in rs if r.status_code != 201]
    assert len(accepted) == limit // amount, codes
    assert all(r.status_code == 409 and r.json()["code"] == "limit_exceeded" for r in refused)
    c = await lending.certificate(b)
    assert c.pending_fen == sum(r.json()["amount_fen"] for r in accepted) == (limit // amount) * amount
    (rows,) = await lending.all(
        select(func.count()).select_from(Drawdown).where(Drawdown.certificate_id == b.certificate.id)
    )
    assert rows == len(accepted)


async def test_concurrent_replays_of_one_key_make_one_drawdown(lending: Lending) -> None:
    b = await lending.borrower(limit_fen=1_000_000)
    key = f"same-{uuid.uuid4().hex}"
    rs = await asyncio.gather(*[lending.submit(b, 10_000, key=key) for _ in range(20)])
    assert {r.status_code for r in rs} <= {201, 409}
    assert any(r.status_code == 201 for r in rs)
    for r in rs:
        if r.status_code == 409:
            assert r.json()["code"] == "idempotency_key_in_flight"
    ids = {r.json()["id"] for r in rs if r.status_code == 201}
    assert len(ids) == 1
    (rows,) = await lending.all(
        select(func.count()).select_from(Drawdown).where(Drawdown.certificate_id == b.certificate.id)
    )
    assert rows == 1
    assert (await lending.certificate(b)).pending_fen == 10_000


async def test_concurrent_repayments_never_overpay(lending: Lending) -> None:
    b = await lending.borrower(limit_fen=1_000_000)
    dd = await lending.loan(b, 100_000)
    rs = await asyncio.gather(*[lending.repay(b, dd, 7_000) for _ in range(30)])
    ok = [r for r in rs if r.status_code == 201]
    assert len(ok) == 100_000 // 7_000
    assert all(r.json()["code"] == "repayment_invalid" for r in rs if r.status_code != 201)
    c = await lending.certificate(b)
    assert c.outstanding_fen == 100_000 - len(ok) * 7_000
