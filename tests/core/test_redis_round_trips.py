"""Redis round trips of an authenticated, step-up, idempotent, rate-limited request (issue 16 item 3): what a
draw-down does, on a probe route. The revocation keys (four GETs: a cluster pipeline refuses MGET) and the step-up EXISTS go in one pipeline; a committed
idempotency record leaves its lock to expire instead of deleting it. Before: 5 round trips (MGET, EXISTS, SET NX,
EVAL, DEL); now 3 (the pipeline, SET NX, EVAL)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from app.auth.dependencies import Farmer, StepUp
from app.core import ratelimit
from app.core.deps import RedisDep, SessionDep
from app.core.idempotency import idempotent
from tests.core.test_idempotency import probe_routes  # noqa: F401  (the probe routes fixture)
from tests.factories import Factory


class RoundIn(BaseModel):
    tag: str


@pytest.fixture(scope="module", autouse=True)
def round_trip_route(app: FastAPI) -> None:
    if any(getattr(r, "path", "") == "/api/v1/_probe/round-trips" for r in app.router.routes):
        return

    @app.post("/api/v1/_probe/round-trips", status_code=201)
    @idempotent(required=True)
    async def probe(p: Farmer, _: StepUp, body: RoundIn, session: SessionDep, redis: RedisDep) -> dict:
        await ratelimit.hit(redis, f"probe:{p.id}", 100, 60)
        return {"tag": body.tag}

    @app.get("/api/v1/_probe/plain")
    async def plain(p: Farmer) -> dict:
        return {"ok": True}


def _pipelined(pipe: Any) -> list[str]:
    """The command names queued on a pipeline: one server's, or a Redis Cluster's (queued in its strategy)."""
    if hasattr(pipe, "command_stack"):
        return [str(c[0][0]) for c in pipe.command_stack]
    return [str(c.args[0]) for c in pipe._execution_strategy._command_queue]


class Counted:
    """Counts round trips on the app's Redis client: each command, and each pipeline's execute, is one."""

    def __init__(self, redis: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        command, pipeline = redis.execute_command, redis.pipeline

        async def counted_command(*args: Any, **kw: Any) -> Any:
            self.calls.append(str(args[0]))
            return await command(*args, **kw)

        def counted_pipeline(*args: Any, **kw: Any) -> Any:
            pipe = pipeline(*args, **kw)
            run = pipe.execute

            async def execute(*a: Any, **k: Any) -> Any:
                self.calls.append("PIPELINE " + " ".join(_pipelined(pipe)))
                return await run(*a, **k)

            pipe.execute = execute
            return pipe

        monkeypatch.setattr(redis, "execute_command", counted_command)
        monkeypatch.setattr(redis, "pipeline", counted_pipeline)


async def _farmer(factory: Factory, step_up: bool = True) -> dict[str, str]:
    headers = factory.headers(await factory.user("farmer"))
    if step_up:
        await factory.step_up(headers)
    return headers


async def test_a_step_up_idempotent_request_makes_three_round_trips(
    client: httpx.AsyncClient, factory: Factory, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = {**await _farmer(factory), "Idempotency-Key": uuid.uuid4().hex}
    await client.get("/_probe/plain", headers=headers)  # the revocation cache's marker is in place
    counted = Counted(app.state.redis, monkeypatch)
    r = await client.post("/_probe/round-trips", json={"tag": "a"}, headers=headers)
    assert r.status_code == 201, r.text
    pin = ["SET"] if app.state.db.replicas else []  # with read replicas, the write pins its caller to the primary
    assert counted.calls == ["PIPELINE GET GET GET GET EXISTS", "SET", "EVAL", *pin]
    # The lock was left to expire; the replay finds the committed record (no DEL, no second effect).
    counted.calls.clear()
    again = await client.post("/_probe/round-trips", json={"tag": "a"}, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert counted.calls == ["PIPELINE GET GET GET GET EXISTS", "SET", *pin]


async def test_a_route_without_step_up_reads_no_step_up_mark(
    client: httpx.AsyncClient, factory: Factory, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await _farmer(factory)
    await client.get("/_probe/plain", headers=headers)
    counted = Counted(app.state.redis, monkeypatch)
    assert (await client.get("/_probe/plain", headers=headers)).status_code == 200
    assert counted.calls == ["MGET"]


async def test_step_up_still_refused_without_the_mark_and_the_key_not_locked(
    client: httpx.AsyncClient, factory: Factory, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = {**await _farmer(factory, step_up=False), "Idempotency-Key": uuid.uuid4().hex}
    await client.get("/_probe/plain", headers=headers)
    counted = Counted(app.state.redis, monkeypatch)
    r = await client.post("/_probe/round-trips", json={"tag": "b"}, headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"
    assert counted.calls == ["PIPELINE GET GET GET GET EXISTS"]
    await factory.step_up({k: v for k, v in headers.items() if k == "Authorization"})
    r = await client.post("/_probe/round-trips", json={"tag": "b"}, headers=headers)
    assert r.status_code == 201, r.text


async def test_a_refused_body_releases_the_lock_for_the_retry(
    client: httpx.AsyncClient, factory: Factory, app: FastAPI
) -> None:
    """Nothing stored (the work failed): the lock is deleted, so a corrected retry with the key is not 409."""
    headers = {**await _farmer(factory), "Idempotency-Key": uuid.uuid4().hex}
    with pytest.raises(RuntimeError):  # the test client re-raises the 500's error
        await client.post("/_probe/required", json={"amount_fen": 13, "tag": "boom"}, headers=headers)
    r = await client.post("/_probe/required", json={"amount_fen": 1, "tag": "fine"}, headers=headers)
    assert r.status_code == 201, r.text
