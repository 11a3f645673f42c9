"""After-commit delivery of the SMS copies queued by `notify(..., sms_to=...)`.

Several workers may run at once: each claims a batch with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite
serialises writers anyway), sends, and marks every row `sent` or `failed` in the same transaction, so a
message is never picked up again once its row is committed as sent.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.notifications.models import Notification

log = logging.getLogger("app.notifications")

BATCH = 100


async def _send(phone: str, text: str) -> None:
    from app.sms import send_sms

    await send_sms(phone, text)


def sms_text(n: Notification) -> str:
    """The signature 【普惠通】 is added by app.sms."""
    return f"{n.title}：{n.body}"


async def deliver_pending_sms(session: AsyncSession, batch: int = BATCH) -> int:
    """Send up to `batch` pending SMS copies, oldest first; returns how many were handled."""
    rows = (
        (
            await session.execute(
                select(Notification)
                .where(Notification.sms_status == "pending")
                .order_by(Notification.created_at, Notification.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for n in rows:
        if not n.sms_phone:
            n.sms_status = "failed"
            continue
        try:
            await _send(n.sms_phone, sms_text(n))
        except Exception:
            log.exception("sms delivery failed", extra={"fields": {"notification_id": str(n.id)}})
            n.sms_status = "failed"
        else:
            n.sms_status = "sent"
    await session.flush()
    return len(rows)
