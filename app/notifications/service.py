"""Writing notifications in the caller's transaction (the outbox); the worker sends SMS copies after commit."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.notifications.models import Notification


async def notify(
    session: AsyncSession,
    *,
    kind: str,
    title: str,
    body: str,
    user_id: uuid.UUID | None = None,
    bank_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
    sms_to: str | None = None,
) -> Notification:
    """A notification for a user (farmer, staff) or for a bank's staff as a whole; `sms_to` queues an SMS copy."""
    n = Notification(
        user_id=user_id,
        bank_id=bank_id,
        kind=kind,
        title=title,
        body=body,
        data=data or {},
        sms_status="pending" if sms_to else "none",
        sms_phone=sms_to,
    )
    session.add(n)
    return n
