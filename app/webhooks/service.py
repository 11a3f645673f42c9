"""Managing a bank's webhook endpoints and reading their delivery log (delivery itself: `delivery.py`)."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.crypto import encrypt
from app.core.db import utcnow
from app.core.errors import InvalidState, NotFound
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.events.service import emit
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import WebhookCreate, WebhookUpdate
from app.webhooks.urls import validate_url


def secret_context(endpoint_id: uuid.UUID) -> str:
    return f"webhook-secret:{endpoint_id}"


def _summary(e: WebhookEndpoint) -> dict[str, Any]:
    return {"url": e.url, "events": list(e.events), "enabled": e.enabled}


async def create(session: AsyncSession, bank_id: uuid.UUID, body: WebhookCreate) -> tuple[WebhookEndpoint, str]:
    await validate_url(body.url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(bank_id=bank_id, url=body.url, events=list(body.events), secret_enc="")
    endpoint.secret_enc = encrypt(secret, secret_context(endpoint.id))
    session.add(endpoint)
    await session.flush()
    await audit.record(
        session, action="webhook.create", object_type="webhook", object_id=endpoint.id, after=_summary(endpoint)
    )
    return endpoint, secret


async def get(
    session: AsyncSession, bank_id: uuid.UUID, endpoint_id: uuid.UUID, *, lock: bool = False
) -> WebhookEndpoint:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.bank_id == bank_id)
    if lock:
        stmt = stmt.with_for_update()
    endpoint = (await session.execute(stmt)).scalar_one_or_none()
    if endpoint is None:
        raise NotFound()
    return endpoint


_LIST_ORDER = ((WebhookEndpoint.created_at, True), (WebhookEndpoint.id, True))


async def list_endpoints(
    session: AsyncSession, bank_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[WebhookEndpoint], str | None]:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.bank_id == bank_id)
    if cursor:
        stmt = stmt.where(after(_LIST_ORDER, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(_LIST_ORDER)).limit(limit + 1))).scalars().all()
    return page_of(rows, limit, lambda e: (e.created_at, e.id))


async def update(
    session: AsyncSession, bank_id: uuid.UUID, endpoint_id: uuid.UUID, body: WebhookUpdate
) -> WebhookEndpoint:
    endpoint = await get(session, bank_id, endpoint_id, lock=True)
    before = _summary(endpoint)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("url") is not None:
        await validate_url(changes["url"])
        endpoint.url = changes["url"]
    if changes.get("events") is not None:
        endpoint.events = list(changes["events"])
    if changes.get("enabled") is not None:
        if changes["enabled"] and not endpoint.enabled:
            # Re-enabled by the bank: start counting failures afresh.
            endpoint.consecutive_failures = 0
            endpoint.disabled_reason = None
        elif not changes["enabled"] and endpoint.enabled:
            endpoint.disabled_reason = "disabled_by_bank"
        endpoint.enabled = changes["enabled"]
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    await session.flush()
    await audit.record(
        session,
        action="webhook.update",
        object_type="webhook",
        object_id=endpoint.id,
        before=before,
        after=_summary(endpoint),
    )
    return endpoint


async def remove(session: AsyncSession, bank_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    endpoint = await get(session, bank_id, endpoint_id, lock=True)
    before = _summary(endpoint)
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    await session.delete(endpoint)
    await session.flush()
    await audit.record(session, action="webhook.delete", object_type="webhook", object_id=endpoint_id, before=before)


async def send_test(session: AsyncSession, bank_id: uuid.UUID, endpoint_id: uuid.UUID) -> uuid.UUID:
    """A `webhook.test` event; the fan-out sends it to this endpoint only, whatever it subscribes to."""
    endpoint = await get(session, bank_id, endpoint_id)
    if not endpoint.enabled:
        raise InvalidState(("该 webhook 已停用，请先启用", "The webhook is disabled; enable it first"))
    event = await emit(session, type="webhook.test", bank_id=bank_id, data={"webhook_id": str(endpoint.id)})
    await session.flush()
    await audit.record(session, action="webhook.test", object_type="webhook", object_id=endpoint.id)
    return event.id


_LOG_ORDER = ((WebhookDelivery.event_created_at, True), (WebhookDelivery.id, True))


async def deliveries(
    session: AsyncSession, bank_id: uuid.UUID, endpoint_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[WebhookDelivery], str | None]:
    endpoint = await get(session, bank_id, endpoint_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if cursor:
        stmt = stmt.where(after(_LOG_ORDER, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(_LOG_ORDER)).limit(limit + 1))).scalars().all()
    return page_of(rows, limit, lambda d: (d.event_created_at, d.id))
