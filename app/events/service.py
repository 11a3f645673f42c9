"""Emit an event for one bank in the caller's transaction; delivery happens after commit (app.webhooks)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import Event

EVENT_TYPES = (
    "drawdown.submitted",
    "drawdown.cancelled",
    "offer.accepted",
    "consent.withdrawn",
    "demand.created",
    "certificate.changed",
    "product.approved",
    "product.rejected",
    "webhook.test",
    "compensation_claim.paid",
    "compensation_claim.rejected",
    "bridge_loan.approved",
)


async def emit(session: AsyncSession, *, type: str, bank_id: uuid.UUID, data: dict[str, Any]) -> Event:
    """`data` carries ids and only what this bank may see (masked personal data unless it holds consent)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type}")
    event = Event(type=type, bank_id=bank_id, data=json.loads(json.dumps(data, default=str, ensure_ascii=False)))
    session.add(event)
    return event
