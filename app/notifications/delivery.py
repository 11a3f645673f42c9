"""After-commit delivery of the SMS copies queued by `notify(..., sms_to=...)`.

Several workers may run at once: each claims a batch with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite
serialises writers anyway), sends, and marks every row `sent` or `failed` in the same transaction, so a
message is never picked up again once its row is committed as sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.core.crypto import mask_phone
from app.core.db import utcnow
from app.notifications.models import Notification

log = logging.getLogger("app.notifications")

BATCH = 100


def _append_line(path: str, line: str) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


# TODO(merge): replace with app.sms.send_sms(phone, text), the real sender with the provider backends.
async def _send(phone: str, text: str) -> None:
    settings = get_settings()
    if settings.sms_backend == "file":
        line = json.dumps(
            {"phone": phone, "text": text, "sent_at": utcnow().isoformat().replace("+00:00", "Z")},
            ensure_ascii=False,
        )
        await asyncio.to_thread(_append_line, settings.sms_outbox_path, line)
    else:
        log.info("sms (%s backend) to %s: %s", settings.sms_backend, mask_phone(phone), text)


def sms_text(n: Notification) -> str:
    return f"【{get_settings().sms_signature}】{n.title}：{n.body}"


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
