"""Delivery of the event outbox to bank systems: fan-out, claim, signed POST, retry, give up, disable.

One pass (`run`, the worker step):
1. Fan-out: undispatched events become one `webhook_deliveries` row per enabled endpoint of the event's bank
   that subscribes to its type (a `webhook.test` event goes to its own endpoint only); the event is marked
   dispatched in the same transaction. One worker fans out at a time (an advisory lock on PostgreSQL): events
   split between two workers could reach an endpoint's queue out of order.
2. Claim: the head of each enabled endpoint's queue (its oldest pending delivery, by event time) if it is due
   and not leased, locked with SKIP LOCKED and given a lease (lease_id, lease_until) in a short transaction.
3. Send: outside any transaction, after re-checking the URL's addresses (DNS rebinding), an httpx POST to
   the vetted address itself (Host, SNI and certificate check for the name: no second look-up) with no
   redirects and a short timeout. 2xx is delivered; anything else (3xx included) is a failed attempt.
4. Record: in a new transaction, only if the lease is still ours.

Guarantees: at least once (a crash after the POST and before step 4 leaves the lease to expire and the row is
sent again with the same X-Puhuitong-Event-Id); never two workers on one delivery at once (the lease); per
endpoint, in order: a newer event is not sent to an endpoint while an older one is pending (in backoff or in
flight); an event that has failed for RETRY_WINDOW is given up (status `failed`) and the queue moves on.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, exists, or_, select, text
from sqlalchemy.orm import aliased
from sqlmodel import col

from app.core.config import get_settings
from app.core.crypto import decrypt
from app.core.db import Database, utcnow
from app.events.models import Event
from app.notifications.service import notify
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.service import secret_context
from app.webhooks.urls import UrlRefused, check_url, pinned

log = logging.getLogger("app.webhooks")

# Policy defaults.
FIRST_RETRY = timedelta(seconds=10)  # then 20 s, 40 s, … doubling
MAX_RETRY = timedelta(hours=1)
RETRY_WINDOW = timedelta(hours=24)  # after this long failing, an event is given up for that endpoint
MAX_CONSECUTIVE_FAILURES = 20  # then the endpoint is disabled and the bank told
LEASE = timedelta(seconds=60)  # longer than any one HTTP attempt (timeout) by far
FANOUT_BATCH = 200
FANOUT_LOCK = 7_102_420_001  # pg_try_advisory_xact_lock key of the fan-out step
CLAIM_BATCH = 50
CONCURRENCY = 10
USER_AGENT = "Puhuitong-Webhooks/1.0"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`X-Puhuitong-Signature` value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (documented for banks, used in tests): check the MAC and the timestamp's age."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    expected = sign(secret, t, body).split("v1=", 1)[1]
    return abs(now - t) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


def body_of(event: Event) -> bytes:
    envelope = {
        "id": str(event.id),
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()


def backoff(attempts: int) -> timedelta:
    return min(FIRST_RETRY * (2 ** max(0, attempts - 1)), MAX_RETRY)


async def fan_out(db: Database, now: datetime) -> int:
    async with db.sessionmaker() as session:
        # One fan-out at a time (a transaction-level advisory lock; the other workers skip this step for the pass).
        # With two workers splitting the undispatched events by SKIP LOCKED, a later event's deliveries could be
        # committed, and claimed as the head of its endpoint's queue, before an earlier event's: out of order.
        if not db.sqlite and not await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": FANOUT_LOCK}):
            return 0
        events = (
            (
                await session.execute(
                    select(Event)
                    .where(col(Event.dispatched).is_(False))
                    .order_by(Event.created_at, Event.id)
                    .limit(FANOUT_BATCH)
                    .with_for_update(skip_locked=True)
                )
            )
            .scalars()
            .all()
        )
        if not events:
            return 0
        bank_ids = {e.bank_id for e in events}
        endpoints = (
            (
                await session.execute(
                    select(WebhookEndpoint).where(
                        col(WebhookEndpoint.bank_id).in_(bank_ids), col(WebhookEndpoint.enabled).is_(True)
                    )
                )
            )
            .scalars()
            .all()
        )
        by_bank: dict[uuid.UUID, list[WebhookEndpoint]] = {}
        for ep in endpoints:
            by_bank.setdefault(ep.bank_id, []).append(ep)
        for event in events:
            for ep in by_bank.get(event.bank_id, []):
                if event.type == "webhook.test":
                    if str(ep.id) != str(event.data.get("webhook_id")):
                        continue
                elif event.type not in ep.events:
                    continue
                session.add(
                    WebhookDelivery(
                        endpoint_id=ep.id,
                        event_id=event.id,
                        event_type=event.type,
                        event_created_at=event.created_at,
                        next_attempt_at=now,
                    )
                )
            event.dispatched = True
            session.add(event)
        await session.commit()
        return len(events)


@dataclass
class Claim:
    delivery_id: uuid.UUID
    lease_id: uuid.UUID
    attempts: int
    created_at: datetime
    endpoint_id: uuid.UUID
    url: str
    secret: str
    event_id: uuid.UUID
    body: bytes


async def claim(db: Database, now: datetime) -> list[Claim]:
    older = aliased(WebhookDelivery)
    head_of_queue = ~exists().where(
        older.endpoint_id == WebhookDelivery.endpoint_id,
        older.status == "pending",
        or_(
            older.event_created_at < WebhookDelivery.event_created_at,
            and_(older.event_created_at == WebhookDelivery.event_created_at, older.id < WebhookDelivery.id),
        ),
    )
    async with db.sessionmaker() as session:
        rows = (
            (
                await session.execute(
                    select(WebhookDelivery)
                    .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                    .where(
                        WebhookDelivery.status == "pending",
                        col(WebhookEndpoint.enabled).is_(True),
                        WebhookDelivery.next_attempt_at <= now,
                        or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
                        head_of_queue,
                    )
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(CLAIM_BATCH)
                    .with_for_update(skip_locked=True, of=WebhookDelivery)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            return []
        endpoints = {
            e.id: e
            for e in (
                await session.execute(
                    select(WebhookEndpoint).where(col(WebhookEndpoint.id).in_({r.endpoint_id for r in rows}))
                )
            ).scalars()
        }
        events = {
            e.id: e
            for e in (
                await session.execute(select(Event).where(col(Event.id).in_({r.event_id for r in rows})))
            ).scalars()
        }
        claims: list[Claim] = []
        for row in rows:
            row.lease_id = uuid.uuid4()
            row.lease_until = now + LEASE
            session.add(row)
            ep = endpoints[row.endpoint_id]
            claims.append(
                Claim(
                    delivery_id=row.id,
                    lease_id=row.lease_id,
                    attempts=row.attempts,
                    created_at=row.created_at,
                    endpoint_id=ep.id,
                    url=ep.url,
                    secret=decrypt(ep.secret_enc, secret_context(ep.id)),
                    event_id=row.event_id,
                    body=body_of(events[row.event_id]),
                )
            )
        await session.commit()
        return claims


@dataclass
class Outcome:
    ok: bool
    status: int | None
    error: str | None


async def send(client: httpx.AsyncClient, c: Claim) -> Outcome:
    try:
        addresses = await check_url(c.url)  # again at delivery: the name may point elsewhere now
    except UrlRefused as exc:
        return Outcome(False, None, f"地址被拒绝：{exc.reason}")
    base = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Puhuitong-Event-Id": str(c.event_id),
        # the real clock, not the pass's `now`: receivers judge replay by it
        "X-Puhuitong-Signature": sign(c.secret, int(utcnow().timestamp()), c.body),
    }
    resp: httpx.Response | None = None
    for i, ip in enumerate(addresses):
        # Connect to the address just vetted, never to a second look-up of the name (DNS rebinding); Host, SNI
        # and the certificate check stay the name's. The next vetted address only if this one refused to connect.
        url, host, extensions = pinned(c.url, ip)
        request = client.build_request("POST", url, content=c.body, headers={**base, **host}, extensions=extensions)
        try:
            resp = await client.send(request, follow_redirects=False)
            break
        except httpx.ConnectError as exc:
            if i == len(addresses) - 1:
                return Outcome(False, None, f"{type(exc).__name__}"[:300])
        except httpx.TimeoutException:
            return Outcome(False, None, "timeout")
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}"[:300])
    if resp is None:
        return Outcome(False, None, "no address")
    if 200 <= resp.status_code < 300:
        return Outcome(True, resp.status_code, None)
    err = "redirect not followed" if 300 <= resp.status_code < 400 else f"HTTP {resp.status_code}"
    return Outcome(False, resp.status_code, err)


async def record(db: Database, c: Claim, out: Outcome, now: datetime) -> None:
    async with db.sessionmaker() as session:
        row = (
            await session.execute(
                select(WebhookDelivery)
                .where(WebhookDelivery.id == c.delivery_id, WebhookDelivery.lease_id == c.lease_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if row is None:  # lease lost (expired and re-claimed, or endpoint deleted): the other worker records
            return
        endpoint = (
            await session.execute(select(WebhookEndpoint).where(WebhookEndpoint.id == c.endpoint_id).with_for_update())
        ).scalar_one()
        row.attempts += 1
        row.last_status = out.status
        row.last_error = out.error
        row.lease_id = None
        row.lease_until = None
        if out.ok:
            row.status = "delivered"
            row.delivered_at = now
            endpoint.consecutive_failures = 0
        else:
            endpoint.consecutive_failures += 1
            if now - row.created_at >= RETRY_WINDOW:
                row.status = "failed"
            else:
                row.next_attempt_at = now + backoff(row.attempts)
            if endpoint.enabled and endpoint.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
                endpoint.enabled = False
                endpoint.disabled_reason = "too_many_failures"
                endpoint.updated_at = now
                await notify(
                    session,
                    kind="webhook_disabled",
                    title="Webhook 已自动停用",
                    body=f"Webhook 连续 {endpoint.consecutive_failures} 次投递失败，已停用。请检查接收地址后重新启用。",
                    bank_id=endpoint.bank_id,
                    data={"webhook_id": str(endpoint.id)},
                )
        session.add(row)
        session.add(endpoint)
        await session.commit()


async def deliver_due(db: Database, now: datetime, client: httpx.AsyncClient | None = None) -> int:
    claims = await claim(db, now)
    if not claims:
        return 0
    own = client is None
    if client is None:
        client = httpx.AsyncClient(
            follow_redirects=False, timeout=httpx.Timeout(get_settings().webhook_timeout_seconds), trust_env=False
        )
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(c: Claim) -> None:
        async with sem:
            out = await send(client, c)
        await record(db, c, out, now)

    try:
        await asyncio.gather(*(one(c) for c in claims))
    finally:
        if own:
            await client.aclose()
    return len(claims)


async def run(db: Database, *, now: datetime | None = None, client: httpx.AsyncClient | None = None) -> int:
    """One worker pass; `now` lets tests move time forward instead of sleeping through backoff."""
    when = now or utcnow()
    done = await fan_out(db, when)
    done += await deliver_due(db, when, client)
    return done
