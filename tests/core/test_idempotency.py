"""The Idempotency-Key mechanism on a probe route: replay, reuse, in flight, refusals stored, failures not."""

from __future__ import annotations

import asyncio
import inspect
import uuid

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from app.auth.dependencies import Farmer, StepUp
from app.core import audit
from app.core.audit import AuditEntry
from app.core.deps import SessionDep
from app.core.errors import LimitExceeded
from app.core.idempotency import idempotent


class ProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: int
    tag: str


@pytest.fixture(scope="module", autouse=True)
def probe_routes(app: FastAPI) -> None:
    if any(getattr(r, "path", "") == "/api/v1/_probe/required" for r in app.router.routes):
        return

    async def effect(session, body: ProbeIn) -> dict:
        if body.amount_fen < 0:
            raise LimitExceeded()
        if body.amount_fen == 13:
            raise RuntimeError("boom")
        await asyncio.sleep(0.05)
        await audit.record(session, action="probe", object_type="probe", object_id=body.tag)
        return {"tag": body.tag, "n": str(uuid.uuid4())}

    @app.post("/api/v1/_probe/required", status_code=201)
    @idempotent(required=True)
    async def probe_required(p: Farmer, body: ProbeIn, session: SessionDep) -> dict:
        return await effect(session, body)

    @app.post("/api/v1/_probe/optional", status_code=201)
    @idempotent()
    async def probe_optional(p: Farmer, body: ProbeIn, session: SessionDep) -> dict:
        return await effect(session, body)


async def _effects(session, tag: str) -> int:
    return (
        await session.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.object_id == tag))
    ).scalar_one()


async def test_key_required(client: httpx.AsyncClient, farmer_headers) -> None:
    r = await client.post("/_probe/required", json={"amount_fen": 1, "tag": "x"}, headers=farmer_headers)
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required"


async def test_missing_key_checked_before_body(client: httpx.AsyncClient, farmer_headers) -> None:
    r = await client.post("/_probe/required", json={"bad": 1}, headers=farmer_headers)
    assert r.status_code == 400


async def test_replay_returns_first_answer_once(client: httpx.AsyncClient, farmer_headers, app) -> None:
    tag = uuid.uuid4().hex
    h = {**farmer_headers, "Idempotency-Key": f"k-{tag}"}
    r1 = await client.post("/_probe/required", json={"amount_fen": 5, "tag": tag}, headers=h)
    assert r1.status_code == 201
    r2 = await client.post("/_probe/required", json={"tag": tag, "amount_fen": 5}, headers=h)
    assert r2.status_code == 201 and r2.json() == r1.json()
    assert r2.headers["idempotent-replayed"] == "true"
    async with app.state.db.sessionmaker() as s:
        assert await _effects(s, tag) == 1


async def test_same_key_other_body_is_422(client: httpx.AsyncClient, farmer_headers) -> None:
    tag = uuid.uuid4().hex
    h = {**farmer_headers, "Idempotency-Key": f"k-{tag}"}
    await client.post("/_probe/required", json={"amount_fen": 5, "tag": tag}, headers=h)
    r = await client.post("/_probe/required", json={"amount_fen": 6, "tag": tag}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"


async def test_keys_are_per_caller(client: httpx.AsyncClient, factory) -> None:
    tag = uuid.uuid4().hex
    a = factory.headers(await factory.user("farmer"))
    b = factory.headers(await factory.user("farmer"))
    r1 = await client.post(
        "/_probe/required", json={"amount_fen": 5, "tag": tag}, headers={**a, "Idempotency-Key": "same"}
    )
    r2 = await client.post(
        "/_probe/required", json={"amount_fen": 5, "tag": tag}, headers={**b, "Idempotency-Key": "same"}
    )
    assert r1.status_code == r2.status_code == 201
    assert "idempotent-replayed" not in r2.headers


async def test_validation_failure_does_not_spend_key(client: httpx.AsyncClient, farmer_headers) -> None:
    tag = uuid.uuid4().hex
    h = {**farmer_headers, "Idempotency-Key": f"k-{tag}"}
    r = await client.post("/_probe/required", json={"amount_fen": "lots", "tag": tag}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    r = await client.post("/_probe/required", json={"amount_fen": 1, "tag": tag}, headers=h)
    assert r.status_code == 201


async def test_business_refusal_is_stored_and_replayed(client: httpx.AsyncClient, farmer_headers) -> None:
    h = {**farmer_headers, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    r1 = await client.post("/_probe/required", json={"amount_fen": -1, "tag": "t"}, headers=h)
    assert r1.status_code == 409 and r1.json()["code"] == "limit_exceeded"
    r2 = await client.post("/_probe/required", json={"amount_fen": -1, "tag": "t"}, headers=h)
    assert r2.status_code == 409 and r2.headers["idempotent-replayed"] == "true"
    assert r2.headers["content-type"].startswith("application/problem+json")


async def test_concurrent_same_key_does_the_work_once(client: httpx.AsyncClient, farmer_headers, app) -> None:
    tag = uuid.uuid4().hex
    h = {**farmer_headers, "Idempotency-Key": f"k-{tag}"}
    rs = await asyncio.gather(
        *[client.post("/_probe/required", json={"amount_fen": 5, "tag": tag}, headers=h) for _ in range(8)]
    )
    statuses = sorted(r.status_code for r in rs)
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    for r in rs:
        if r.status_code == 409:
            assert r.json()["code"] == "idempotency_key_in_flight"
    async with app.state.db.sessionmaker() as s:
        assert await _effects(s, tag) == 1


async def test_bad_key_is_422(client: httpx.AsyncClient, farmer_headers) -> None:
    h = {**farmer_headers, "Idempotency-Key": "x" * 256}
    r = await client.post("/_probe/optional", json={"amount_fen": 1, "tag": "z"}, headers=h)
    assert r.status_code == 422


async def test_optional_without_key_just_works(client: httpx.AsyncClient, farmer_headers) -> None:
    r = await client.post("/_probe/optional", json={"amount_fen": 1, "tag": uuid.uuid4().hex}, headers=farmer_headers)
    assert r.status_code == 201


def test_the_decorator_puts_the_key_after_the_principals_and_wants_session_and_body() -> None:
    async def route(p: Farmer, _: StepUp, body: ProbeIn, session: SessionDep) -> dict:
        return {}

    names = list(inspect.signature(idempotent(required=True)(route)).parameters)
    assert names == ["p", "_", "idem", "body", "session"]

    async def no_body(p: Farmer, session: SessionDep) -> dict:
        return {}

    with pytest.raises(TypeError):
        idempotent()(no_body)
