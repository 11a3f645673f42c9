"""Writing notifications in the caller's transaction (the outbox); the worker sends SMS copies after commit.

Read side: a user's own notifications (`user_id`), and for bank staff also their bank's bank-wide ones
(`bank_id` set, `user_id` null). A bank-wide notification has one read state for the whole bank: once any of
its staff has read it, it is read for all of them (it is the bank's to-do, not each person's).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import rights
from app.auth.models import User
from app.core.db import utcnow
from app.core.errors import ValidationFailed, field_error
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.notifications.models import Notification
from app.notifications.schemas import NotificationPage, NotificationPublic, NotificationRead, NotificationReadResult


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


def _mine(user_id: uuid.UUID, bank_id: uuid.UUID | None) -> ColumnElement[bool]:
    """A user's own notifications, plus their bank's bank-wide ones when `bank_id` is given."""
    own: ColumnElement[bool] = col(Notification.user_id) == user_id
    if bank_id is None:
        return own
    return or_(own, and_(Notification.bank_id == bank_id, Notification.user_id.is_(None)))


def _public(n: Notification) -> NotificationPublic:
    return NotificationPublic(
        id=n.id,
        kind=n.kind,
        title=n.title,
        body=n.body,
        data=n.data,
        read=n.read_at is not None,
        read_at=n.read_at,
        created_at=n.created_at,
    )


async def unread_count(session: AsyncSession, user_id: uuid.UUID, bank_id: uuid.UUID | None = None) -> int:
    stmt = select(func.count()).select_from(Notification).where(_mine(user_id, bank_id), Notification.read_at.is_(None))
    return int((await session.execute(stmt)).scalar_one())


async def list_mine(
    session: AsyncSession, user_id: uuid.UUID, limit: int, cursor: str | None, bank_id: uuid.UUID | None = None
) -> NotificationPage:
    cols = [(Notification.created_at, True), (Notification.id, True)]
    stmt = select(Notification).where(_mine(user_id, bank_id))
    if cursor:
        stmt = stmt.where(after(cols, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    items, nxt = page_of(rows, limit, lambda n: [n.created_at, n.id])
    return NotificationPage(
        items=[_public(n) for n in items], next_cursor=nxt, unread_count=await unread_count(session, user_id, bank_id)
    )


async def mark_read(
    session: AsyncSession, user_id: uuid.UUID, body: NotificationRead, bank_id: uuid.UUID | None = None
) -> NotificationReadResult:
    """Mark the caller's own notifications read; ids that are not theirs are silently ignored."""
    where = [_mine(user_id, bank_id), Notification.read_at.is_(None)]
    if body.ids is None and body.all is False:
        raise ValidationFailed(errors=[field_error("ids", "ids_required", "请提供 ids，或以 all=true 全部标记已读")])
    if body.ids is not None and not body.all:
        if not body.ids:
            return NotificationReadResult(marked=0, unread_count=await unread_count(session, user_id, bank_id))
        where.append(col(Notification.id).in_(set(body.ids)))
    result = await session.execute(
        update(Notification).where(*where).values(read_at=utcnow()).execution_options(synchronize_session=False)
    )
    marked = int(getattr(result, "rowcount", 0) or 0)
    return NotificationReadResult(marked=marked, unread_count=await unread_count(session, user_id, bank_id))


# ---- the farmer's rights -----------------------------------------------------------------------------------


async def export_notifications(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """`GET /me/export` section: the account's own notifications, newest first (at most 5,000)."""
    rows = (
        await session.execute(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
            .limit(5000)
        )
    ).scalars()
    return [_public(n).model_dump(mode="json") for n in rows]


async def erase_notifications(session: AsyncSession, user: User) -> tuple[list[str], list[dict[str, str]]]:
    """Notifications are copies of what other records say; nothing requires keeping them, so they go."""
    await session.execute(delete(Notification).where(Notification.user_id == user.id))
    return ["notifications"], []


rights.register_exporter("notifications", export_notifications)
rights.register_eraser(erase_notifications)
