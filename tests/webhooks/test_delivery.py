"""Delivery to a real local receiver: signed, retried with backoff, in order, once per worker, SSRF at send."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.core.config import get_settings
from app.core.db import utcnow
from app.events.service import EVENT_TYPES
from app.notifications.models import Notification
from app.webhooks import delivery
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import PAYLOADS
from tests.builders.webhooks import BankCtx, Receiver, drain, emit_event

U = "00000000-0000-4000-8000-00000000000"
SAMPLES: dict[str, dict] = {
    "drawdown.submitted": {
        "drawdown_id": U + "1",
        "household_id": U + "2",
        "amount_fen": 3000000,
        "term_months": 12,
        "purpose": "planting",
        "status": "submitted",
        "borrower": {"name": "张**", "phone": "+86 139****5678", "masked": True},
    },
    "drawdown.cancelled": {
        "drawdown_id": U + "1",
        "household_id": U + "2",
        "amount_fen": 3000000,
        "term_months": 12,
        "purpose": "planting",
        "status": "cancelled",
        "borrower": {"name": "张**", "phone": "+86 139****5678", "masked": True},
    },
    "offer.accepted": {
        "demand_id": U + "3",
        "offer_id": U + "4",
        "applicant": {"name": "张三", "phone": "+8613912345678"},
    },
    "consent.withdrawn": {"consent_id": U + "5", "household_id": U + "2"},
    "demand.created": {
        "demand_id": U + "3",
        "county_code": "411702",
        "village_code": "411702001001",
        "amount_fen": 500000,
        "term_months": 6,
        "purpose": "livestock",
        "applicant": {"name": "李*", "phone": None, "masked": True},
    },
    "certificate.changed": {
        "certificate_id": U + "6",
        "household_id": U + "2",
        "status": "frozen",
        "limit_fen": 5000000,
        "change": "frozen",
    },
    "product.approved": {"product_id": U + "7", "external_id": "P-1", "status": "published", "reasons": []},
    "product.rejected": {"product_id": U + "7", "external_id": None, "status": "rejected", "reasons": ["rate_cap"]},
    "compensation_claim.paid": {
        "claim_id": U + "8",
        "drawdown_id": U + "1",
        "county_code": "411725",
        "status": "paid",
        "loss_fen": 1000000,
        "fund_share_fen": 500000,
        "reason": None,
    },
    "compensation_claim.rejected": {
        "claim_id": U + "8",
        "drawdown_id": U + "1",
        "county_code": "411725",
        "status": "rejected",
        "loss_fen": 1000000,
        "fund_share_fen": 500000,
        "reason": "材料不全",
    },
    "bridge_loan.approved": {
        "bridge_loan_id": U + "9",
        "county_code": "411725",
        "enterprise_name": "确山县某农产品加工有限公司",
        "loan_reference": "L-2026-001",
        "amount_fen": 50000000,
        "days": 20,
        "due_on": "2026-12-21",
        "status": "lent",
    },
}


async def _register(client: httpx.AsyncClient, ctx: BankCtx, url: str, events: list[str]) -> tuple[str, str]:
    r = await client.post("/bank/webhooks", json={"url": url, "events": events}, headers=ctx.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["secret"]


async def _log(client: httpx.AsyncClient, ctx: BankCtx, wid: str) -> list[dict]:
    r = await client.get(f"/bank/webhooks/{wid}/deliveries", headers=ctx.headers)
    assert r.status_code == 200
    return r.json()["items"]


async def test_every_event_type_arrives_signed(app, client, bank_ctx: BankCtx, receiver: Receiver) -> None:
    types = [t for t in EVENT_TYPES if t != "webhook.test"]
    wid, secret = await _register(client, bank_ctx, receiver.url, types)
    sent = {t: await emit_event(app, t, bank_ctx.bank.id, SAMPLES[t]) for t in types}
    r = await client.post(f"/bank/webhooks/{wid}/test", headers=bank_ctx.headers)
    assert r.status_code == 202
    sent["webhook.test"] = r.json()["event_id"]
    await drain(app)

    assert len(receiver.received) == len(EVENT_TYPES)
    now = int(time.time())
    for rec in receiver.received:
        assert rec.path == "/hook"
        assert rec.headers["content-type"] == "application/json"
        assert delivery.verify(secret, rec.headers["x-puhuitong-signature"], rec.body, now=now)
        assert not delivery.verify("whsec_wrong", rec.headers["x-puhuitong-signature"], rec.body, now=now)
        assert not delivery.verify(secret, rec.headers["x-puhuitong-signature"], rec.body + b" ", now=now)
        t, v1 = rec.headers["x-puhuitong-signature"].split(",")
        assert t.startswith("t=") and v1.startswith("v1=") and len(v1) == 3 + 64
        payload = json.loads(rec.body)
        assert set(payload) == {"id", "type", "created_at", "data"}
        assert payload["id"] == rec.headers["x-puhuitong-event-id"] == sent[payload["type"]]
        assert payload["created_at"].endswith("Z")
        PAYLOADS[payload["type"]].model_validate(payload["data"])  # the documented schema
    assert [json.loads(r.body)["type"] for r in receiver.received] == [*types, "webhook.test"]  # in order
    log = await _log(client, bank_ctx, wid)
    assert len(log) == len(EVENT_TYPES)
    assert all(d["status"] == "delivered" and d["attempts"] == 1 and d["last_status"] == 200 for d in log)
    assert all(d["delivered_at"] and d["next_attempt_at"] is None for d in log)


async def test_only_subscribed_types_and_own_bank(app, client, bank_ctx: BankCtx, receiver: Receiver, factory) -> None:
    await _register(client, bank_ctx, receiver.url, ["demand.created"])
    other_bank = await factory.bank()
    await emit_event(app, "drawdown.submitted", bank_ctx.bank.id, SAMPLES["drawdown.submitted"])
    await emit_event(app, "demand.created", other_bank.id, SAMPLES["demand.created"])
    mine = await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    await drain(app)
    assert [r.headers["x-puhuitong-event-id"] for r in receiver.received] == [mine]


async def test_fails_twice_then_succeeds_exactly_once(app, client, bank_ctx: BankCtx, receiver: Receiver) -> None:
    receiver.plan = [500, 503]
    wid, _ = await _register(client, bank_ctx, receiver.url, ["demand.created"])
    eid = await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    t0 = utcnow()
    await drain(app, now=t0)
    [d] = await _log(client, bank_ctx, wid)
    assert d["status"] == "pending" and d["attempts"] == 1 and d["last_status"] == 500
    assert d["next_attempt_at"]
    # not due yet: 10 s backoff
    await drain(app, now=t0 + timedelta(seconds=5))
    assert len(receiver.received) == 1
    await drain(app, now=t0 + timedelta(seconds=11))
    [d] = await _log(client, bank_ctx, wid)
    assert d["attempts"] == 2 and d["last_status"] == 503
    await drain(app, now=t0 + timedelta(seconds=11 + 15))  # 20 s backoff now: not yet
    assert len(receiver.received) == 2
    await drain(app, now=t0 + timedelta(seconds=11 + 21))
    assert len(receiver.succeeded) == 1
    assert {r.headers["x-puhuitong-event-id"] for r in receiver.received} == {eid}  # the same id every retry
    [d] = await _log(client, bank_ctx, wid)
    assert d["status"] == "delivered" and d["attempts"] == 3 and d["last_status"] == 200 and d["event_id"] == eid
    await drain(app, now=t0 + timedelta(hours=2))
    assert len(receiver.received) == 3


async def test_newer_event_waits_for_older_one(app, client, bank_ctx: BankCtx, receiver: Receiver) -> None:
    receiver.plan = [500]
    await _register(client, bank_ctx, receiver.url, ["demand.created"])
    first = await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    second = await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    t0 = utcnow()
    await drain(app, now=t0)
    assert [r.headers["x-puhuitong-event-id"] for r in receiver.received] == [first]
    await drain(app, now=t0 + timedelta(seconds=11))
    assert [r.headers["x-puhuitong-event-id"] for r in receiver.received] == [first, first, second]


async def test_redirect_is_a_failure_and_not_followed(app, client, bank_ctx: BankCtx, receiver: Receiver) -> None:
    receiver.plan = [302]
    wid, _ = await _register(client, bank_ctx, receiver.url, ["demand.created"])
    await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    await drain(app)
    assert [r.path for r in receiver.received] == ["/hook"]  # /elsewhere never requested
    [d] = await _log(client, bank_ctx, wid)
    assert d["status"] == "pending" and d["last_status"] == 302 and d["last_error"] == "redirect not followed"


async def test_disabled_endpoint_gets_nothing(app, client, bank_ctx: BankCtx, receiver: Receiver) -> None:
    wid, _ = await _register(client, bank_ctx, receiver.url, ["demand.created"])
    r = await client.patch(f"/bank/webhooks/{wid}", json={"enabled": False}, headers=bank_ctx.headers)
    assert r.status_code == 200
    await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    await drain(app)
    assert receiver.received == [] and await _log(client, bank_ctx, wid) == []


async def test_url_rechecked_at_delivery(app, client, bank_ctx, receiver: Receiver, monkeypatch) -> None:
    """Registered while private addresses were allowed; at send time they are not: nothing goes out."""
    wid, _ = await _register(client, bank_ctx, receiver.url, ["demand.created"])
    await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    monkeypatch.setattr(get_settings(), "webhook_allow_private_urls", False)
    await drain(app)
    assert receiver.received == []
    [d] = await _log(client, bank_ctx, wid)
    assert d["status"] == "pending" and d["attempts"] == 1 and "地址被拒绝" in d["last_error"]


async def test_gives_up_after_a_day_and_disables_after_repeated_failure(
    app, client, bank_ctx: BankCtx, receiver: Receiver, monkeypatch
) -> None:
    monkeypatch.setattr(delivery, "MAX_CONSECUTIVE_FAILURES", 3)
    receiver.plan = [500] * 10
    wid, _ = await _register(client, bank_ctx, receiver.url, ["demand.created"])
    await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    t0 = utcnow()
    await drain(app, now=t0)
    await drain(app, now=t0 + timedelta(hours=25))  # past the retry window: this attempt is the last
    [d] = await _log(client, bank_ctx, wid)
    assert d["status"] == "failed" and d["attempts"] == 2 and d["next_attempt_at"] is None
    await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    await drain(app, now=t0 + timedelta(hours=26))  # the third consecutive failure disables the endpoint
    ep = (await client.get("/bank/webhooks", headers=bank_ctx.headers)).json()["items"][0]
    assert ep["enabled"] is False and ep["disabled_reason"] == "too_many_failures"
    sent = len(receiver.received)
    assert sent == 3
    await drain(app, now=t0 + timedelta(hours=30))
    assert len(receiver.received) == sent
    async with app.state.db.sessionmaker() as s:
        notes = (
            (
                await s.execute(
                    select(Notification).where(
                        Notification.bank_id == bank_ctx.bank.id, Notification.kind == "webhook_disabled"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(notes) == 1 and notes[0].data == {"webhook_id": wid}


async def test_expired_lease_is_retried(app, client, bank_ctx: BankCtx, receiver: Receiver) -> None:
    """A worker that claimed a delivery and died: the row is sent again once its lease expires."""
    wid, _ = await _register(client, bank_ctx, receiver.url, ["demand.created"])
    eid = await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    t0 = utcnow()
    await delivery.fan_out(app.state.db, t0)
    claims = await delivery.claim(app.state.db, t0)
    assert eid in {str(c.event_id) for c in claims}
    await drain(app, now=t0 + timedelta(seconds=30))  # leased: nobody else sends it
    assert receiver.received == []
    await drain(app, now=t0 + delivery.LEASE + timedelta(seconds=1))
    assert [r.headers["x-puhuitong-event-id"] for r in receiver.received] == [eid]
    # the dead worker's late result is ignored: its lease is gone
    mine = next(c for c in claims if str(c.event_id) == eid)
    await delivery.record(app.state.db, mine, delivery.Outcome(False, 500, "late"), t0 + timedelta(seconds=90))
    [d] = await _log(client, bank_ctx, wid)
    assert d["status"] == "delivered" and d["attempts"] == 1


async def test_concurrent_workers_deliver_each_event_once(app, client, bank_ctx: BankCtx, receiver: Receiver) -> None:
    """Two (on PostgreSQL: truly concurrent) workers racing over the same outbox never send a delivery twice."""
    types = ["demand.created", "drawdown.submitted"]
    await _register(client, bank_ctx, receiver.url, types)
    receiver2 = Receiver()
    server = await asyncio.start_server(receiver2.handle, "127.0.0.1", 0)
    receiver2.port = server.sockets[0].getsockname()[1]
    async with server:
        await _register(client, bank_ctx, receiver2.url, types)
        ids = [await emit_event(app, types[i % 2], bank_ctx.bank.id, SAMPLES[types[i % 2]]) for i in range(12)]
        for _ in range(40):
            done = await asyncio.gather(*(delivery.run(app.state.db) for _ in range(3)))
            if not any(done):
                break
        server.close()
    for rec in (receiver, receiver2):
        got = [r.headers["x-puhuitong-event-id"] for r in rec.received]
        assert got == ids  # each exactly once, in order
    async with app.state.db.sessionmaker() as s:
        n = (
            await s.execute(
                select(func.count())
                .select_from(WebhookDelivery)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookEndpoint.bank_id == bank_ctx.bank.id, WebhookDelivery.status == "delivered")
            )
        ).scalar_one()
    assert n == 24


async def test_delivery_log_paginates(app, client, bank_ctx: BankCtx, receiver: Receiver) -> None:
    wid, _ = await _register(client, bank_ctx, receiver.url, ["demand.created"])
    for _ in range(3):
        await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    await drain(app)
    r1 = (await client.get(f"/bank/webhooks/{wid}/deliveries?limit=2", headers=bank_ctx.headers)).json()
    assert len(r1["items"]) == 2 and r1["next_cursor"]
    r2 = (
        await client.get(
            f"/bank/webhooks/{wid}/deliveries?limit=2&cursor={r1['next_cursor']}", headers=bank_ctx.headers
        )
    ).json()
    assert len(r2["items"]) == 1 and r2["next_cursor"] is None
    assert uuid.UUID(r2["items"][0]["event_id"])


@pytest.mark.parametrize("attempts", [1, 2, 3, 10, 30])
def test_backoff_doubles_and_is_capped(attempts: int) -> None:
    expected = min(10 * 2 ** (attempts - 1), 3600)
    assert delivery.backoff(attempts) == timedelta(seconds=expected)


async def test_delivery_connects_to_the_vetted_address(
    app, client, bank_ctx: BankCtx, receiver: Receiver, monkeypatch
) -> None:
    """DNS rebinding: the name is resolved once, checked, and that address is connected to. The name here
    resolves nowhere else (a second look-up at connect time would fail), yet the receiver gets the POST, with
    the name in Host."""
    from app.webhooks import urls

    wid, _ = await _register(client, bank_ctx, receiver.url, ["demand.created"])
    rebind_url = f"http://hooks.rebind.invalid:{receiver.port}/hook"
    async with app.state.db.sessionmaker() as s:
        ep = await s.get(WebhookEndpoint, uuid.UUID(wid))
        ep.url = rebind_url
        await s.commit()
    looked_up: list[str] = []

    async def resolve_once(host: str, port: int) -> list[urls.IPAddress]:
        looked_up.append(host)
        return [urls.ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(urls, "resolve", resolve_once)
    await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    await drain(app)
    assert looked_up == ["hooks.rebind.invalid"]
    [got] = receiver.received
    assert got.headers["host"] == f"hooks.rebind.invalid:{receiver.port}"
    [d] = await _log(client, bank_ctx, wid)
    assert d["last_status"] == 200


async def test_one_fan_out_at_a_time(app, client, bank_ctx: BankCtx, receiver: Receiver) -> None:
    """While another worker fans out (it holds the fan-out lock), this one leaves every event to it: two workers
    splitting the events could queue a later one at an endpoint before an earlier one."""
    if app.state.db.sqlite:
        pytest.skip("one writer on SQLite: no second fan-out can run at once")
    from sqlalchemy import text

    await _register(client, bank_ctx, receiver.url, ["demand.created"])
    eid = await emit_event(app, "demand.created", bank_ctx.bank.id, SAMPLES["demand.created"])
    async with app.state.db.sessionmaker() as other:  # the other worker, in the middle of its fan-out
        await other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": delivery.FANOUT_LOCK})
        assert await delivery.fan_out(app.state.db, utcnow()) == 0
        await other.rollback()
    assert await delivery.fan_out(app.state.db, utcnow()) >= 1
    await drain(app)
    assert eid in [r.headers["x-puhuitong-event-id"] for r in receiver.received]
