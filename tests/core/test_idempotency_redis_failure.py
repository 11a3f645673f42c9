"""Redis failing after the response has started (issue 13 item 11): the idempotency lock release runs after the
answer was sent; its error is logged once and the client's answer is unaffected. A committed record needs no
release at all (issue 16 item 3): its lock is left to expire and the record answers every retry."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from app.core import idempotency
from tests.core.test_idempotency import _effects, probe_routes  # noqa: F401  (the probe routes fixture)
from tests.factories import Factory


class DeleteFails:
    """The app's Redis, except that DEL raises (Redis gone between the answer and the lock release)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.deletes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def delete(self, *keys: str) -> int:
        self.deletes += 1
        raise RedisConnectionError("Connection reset by peer")


async def test_lock_release_failure_is_logged_once_and_the_answer_stands(
    client: httpx.AsyncClient,
    farmer_headers: dict[str, str],
    factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = idempotency.get_redis
    failing: dict[str, DeleteFails] = {}

    def get_redis(request: Any) -> Any:
        return failing.setdefault("r", DeleteFails(real(request)))

    monkeypatch.setattr(idempotency, "get_redis", get_redis)
    tag = f"release-{uuid.uuid4().hex}"
    headers = {**farmer_headers, "Idempotency-Key": uuid.uuid4().hex}
    with caplog.at_level(logging.WARNING, logger="app.idempotency"):
        with pytest.raises(RuntimeError):  # nothing stored: the lock is released (the client re-raises the 500)
            await client.post("/_probe/required", json={"amount_fen": 13, "tag": tag}, headers=headers)
    assert failing["r"].deletes == 1
    records = [rec for rec in caplog.records if rec.name == "app.idempotency"]
    assert len(records) == 1
    assert "not released" in records[0].getMessage()
    async with factory.session() as s:
        assert await _effects(s, tag) == 0


async def test_a_committed_record_leaves_its_lock_to_expire(
    client: httpx.AsyncClient,
    farmer_headers: dict[str, str],
    factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = idempotency.get_redis
    failing: dict[str, DeleteFails] = {}

    def get_redis(request: Any) -> Any:
        return failing.setdefault("r", DeleteFails(real(request)))

    monkeypatch.setattr(idempotency, "get_redis", get_redis)
    tag = f"release-{uuid.uuid4().hex}"
    headers = {**farmer_headers, "Idempotency-Key": uuid.uuid4().hex}
    with caplog.at_level(logging.WARNING, logger="app.idempotency"):
        r = await client.post("/_probe/required", json={"amount_fen": 1, "tag": tag}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["tag"] == tag
    assert failing["r"].deletes == 0
    assert not [rec for rec in caplog.records if rec.name == "app.idempotency"]
    async with factory.session() as s:
        assert await _effects(s, tag) == 1
    # The lock still stands, and the committed record answers the retry.
    monkeypatch.setattr(idempotency, "get_redis", real)
    again = await client.post("/_probe/required", json={"amount_fen": 1, "tag": tag}, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == r.json()
