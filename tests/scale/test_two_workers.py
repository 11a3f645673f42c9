"""Outboxes deliver each event exactly once with two worker processes running (`python -m app.cli worker`).

Two real worker processes race over the same outboxes on PostgreSQL (SKIP LOCKED claims and delivery leases):
every webhook event reaches a local HTTP receiver once, and every queued SMS copy is written once. SQLite has
one writer and no second process here, so the test is PostgreSQL's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.core.config import ROOT, get_settings
from app.events.service import emit
from app.notifications.models import Notification
from app.notifications.service import notify
from app.webhooks.models import WebhookDelivery
from tests.builders.webhooks import Receiver
from tests.factories import Factory

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"), reason="two workers need PostgreSQL"
)

EVENTS = 12
SMS = 20


async def _register(client, headers, url: str) -> None:  # type: ignore[no-untyped-def]
    r = await client.post("/bank/webhooks", json={"url": url, "events": ["demand.created"]}, headers=headers)
    assert r.status_code == 201, r.text


async def test_two_worker_processes_deliver_each_event_and_sms_once(  # type: ignore[no-untyped-def]
    app: FastAPI, client, factory: Factory, tmp_path: Path
) -> None:
    bank = await factory.bank()
    headers = factory.headers(await factory.user("bank_admin", bank_id=bank.id))
    receivers = [Receiver(), Receiver()]
    servers = []
    for rec in receivers:
        server = await asyncio.start_server(rec.handle, "127.0.0.1", 0)
        rec.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        await _register(client, headers, rec.url)

    tag = uuid.uuid4().hex[:8]
    phones = [f"+86139{uuid.uuid4().int % 10**8:08d}" for _ in range(SMS)]
    ids: list[str] = []
    async with app.state.db.sessionmaker() as s:
        for i in range(EVENTS):
            data = {"demand_id": str(uuid.uuid4()), "n": i}
            ids.append(str((await emit(s, type="demand.created", bank_id=bank.id, data=data)).id))
        for phone in phones:
            await notify(s, kind="test", title=f"双进程{tag}", body="投递一次", bank_id=bank.id, sms_to=phone)
        await s.commit()

    env = {**os.environ, "LOG_LEVEL": "WARNING", "PYTHONDONTWRITEBYTECODE": "1"}
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        for log in logs
    ]
    try:
        for _ in range(1200):  # a bound, not a timing: the loop ends as soon as everything is handled
            async with app.state.db.sessionmaker() as s:
                pending_hooks = (
                    await s.execute(
                        select(func.count())
                        .select_from(WebhookDelivery)
                        .where(
                            WebhookDelivery.event_id.in_([uuid.UUID(i) for i in ids]),  # type: ignore[attr-defined]
                            WebhookDelivery.status != "delivered",
                        )
                    )
                ).scalar_one()
                delivered_rows = (
                    await s.execute(
                        select(func.count())
                        .select_from(WebhookDelivery)
                        .where(WebhookDelivery.event_id.in_([uuid.UUID(i) for i in ids]))  # type: ignore[attr-defined]
                    )
                ).scalar_one()
                pending_sms = (
                    await s.execute(
                        select(func.count())
                        .select_from(Notification)
                        .where(Notification.title == f"双进程{tag}", Notification.sms_status == "pending")
                    )
                ).scalar_one()
            if delivered_rows == 2 * EVENTS and not pending_hooks and not pending_sms:
                break
            assert all(w.poll() is None for w in workers), "a worker died"
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"not delivered: {pending_hooks} webhooks, {pending_sms} SMS pending")
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.wait(10)
            if w.poll() is None:
                w.kill()
        for server in servers:
            server.close()

    for log in logs:
        print(log.read_text(errors="replace")[-3000:])
    for rec in receivers:
        got = [r.headers["x-puhuitong-event-id"] for r in rec.received]
        assert Counter(got) == Counter(ids), "each event exactly once at each endpoint"
        assert got == ids, "and in order"
    outbox = Path(get_settings().sms_outbox_path)
    sent = Counter()
    for line in outbox.read_text(encoding="utf-8").splitlines():
        msg = json.loads(line)
        if f"双进程{tag}" in json.dumps(msg, ensure_ascii=False):
            sent[next(v for v in msg.values() if isinstance(v, str) and v in phones)] += 1
    assert sent == Counter(phones), "each SMS copy exactly once"
