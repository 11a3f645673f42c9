"""GET /admin/audit filters; `python -m app.cli verify-audit` exits 0 on an intact chain and 1 after tampering;
the worker's sealing step commits."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from app.core import audit
from app.core.audit import Actor, AuditEntry
from tests.core.audit_tamper import tampering
from tests.factories import Factory

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def _entries(app: Any, actor: Actor, specs: list[tuple[str, str, datetime]]) -> list[uuid.UUID]:
    ids = []
    async with app.state.db.sessionmaker() as s:
        for action, object_id, at in specs:
            e = await audit.record(
                s, action=action, object_type="test", object_id=object_id, after={"n": 1}, actor=actor
            )
            e.created_at = at
            ids.append(e.id)
        await s.commit()
    return ids


def _z(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def test_filters_and_order(client: httpx.AsyncClient, factory: Factory, app) -> None:
    actor = Actor("user", str(uuid.uuid4()), "admin")
    other = Actor("user", str(uuid.uuid4()), "admin")
    obj = f"obj-{uuid.uuid4().hex[:8]}"
    ids = await _entries(
        app,
        actor,
        [
            ("test.create", obj, T0),
            ("test.update", obj, T0 + timedelta(hours=1)),
            ("test.update", "elsewhere", T0 + timedelta(hours=2)),
            ("test.delete", obj, T0 + timedelta(days=1)),
        ],
    )
    await _entries(app, other, [("test.update", obj, T0 + timedelta(hours=3))])
    h = factory.headers(await factory.user("regulator"))

    async def listed(**params: Any) -> list[str]:
        r = await client.get("/admin/audit", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    newest_first = [str(i) for i in reversed(ids)]
    assert await listed(actor=actor.id) == newest_first
    assert await listed(actor=actor.id, object_id=obj) == [newest_first[0], newest_first[2], newest_first[3]]
    assert await listed(actor=actor.id, action="test.update") == [str(ids[2]), str(ids[1])]
    window = {"since": _z(T0 + timedelta(hours=1)), "until": _z(T0 + timedelta(hours=2))}
    assert await listed(actor=actor.id, **window) == [str(ids[1])]  # since inclusive, until exclusive
    assert await listed(actor=actor.id, since="2026-03-01T17:00:00+08:00") == [str(ids[3]), str(ids[2]), str(ids[1])]
    assert len(await listed(object_id=obj)) == 4
    # keyset pages
    r1 = (await client.get("/admin/audit", params={"actor": actor.id, "limit": 3}, headers=h)).json()
    r2 = (
        await client.get("/admin/audit", params={"actor": actor.id, "limit": 3, "cursor": r1["next_cursor"]}, headers=h)
    ).json()
    assert [i["id"] for i in r1["items"] + r2["items"]] == newest_first and r2["next_cursor"] is None
    item = r1["items"][0]
    assert set(item) == {
        "id", "created_at", "actor_type", "actor_id", "actor_role", "action", "object_type", "object_id",
        "summary", "request_id", "chain_seq", "hash",
    }  # fmt: skip
    assert item["actor_role"] == "admin" and item["summary"] == {"after": {"n": 1}}
    for bad in ({"since": "yesterday"}, {"until": "2026-03-01T08:00:00"}, {"limit": 0}, {"cursor": "%%"}):
        r = await client.get("/admin/audit", params=bad, headers=h)
        assert r.status_code == 422, bad


async def test_who_may_read(client: httpx.AsyncClient, factory: Factory) -> None:
    assert (await client.get("/admin/audit")).status_code == 401
    bank = await factory.bank(["411725"])
    for role, kw in (
        ("farmer", {}),
        ("bank_staff", {"bank_id": bank.id}),
        ("bank_admin", {"bank_id": bank.id}),
        ("station_agent", {}),
    ):
        r = await client.get("/admin/audit", headers=factory.headers(await factory.user(role, **kw)))
        assert r.status_code == 403, role
    for role in ("regulator", "admin"):
        r = await client.get("/admin/audit", params={"limit": 1}, headers=factory.headers(await factory.user(role)))
        assert r.status_code == 200


async def test_worker_step_seals_and_commits(app) -> None:
    from app.worker import seal_audit

    [entry_id] = await _entries(app, Actor("system", "system", "system"), [("test.seal", "seal", datetime.now(UTC))])
    while await seal_audit(app.state.db, app.state.redis):
        pass
    async with app.state.db.sessionmaker() as s:
        row = (await s.execute(select(AuditEntry).where(AuditEntry.id == entry_id))).scalar_one()
        assert row.chain_seq is not None and row.hash


def _cli(*argv: str) -> int:
    from app.cli import main

    return main(list(argv))


async def test_verify_audit_cli_catches_tampering(app) -> None:
    # The CLI runs its own event loop and engine in a thread, as it would in its own process.
    [entry_id] = await _entries(
        app, Actor("system", "system", "system"), [("test.cli", f"cli-{uuid.uuid4().hex[:6]}", datetime.now(UTC))]
    )
    assert await asyncio.to_thread(_cli, "verify-audit") == 0
    async with tampering(app.state.db) as s:
        row = (await s.execute(select(AuditEntry).where(AuditEntry.id == entry_id))).scalar_one()
        assert row.chain_seq is not None
        original = dict(row.summary)
        await s.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(summary={"after": {"n": 2}}))
    try:
        assert await asyncio.to_thread(_cli, "verify-audit") == 1
        assert await asyncio.to_thread(_cli, "verify-audit", "--no-seal") == 1
    finally:
        async with tampering(app.state.db) as s:
            await s.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(summary=original))
    assert await asyncio.to_thread(_cli, "verify-audit") == 0
