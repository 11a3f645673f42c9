"""Reading the audit trail (app.core.audit writes and seals it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auditlog.schemas import AuditEntryPublic
from app.core.audit import AuditEntry
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.core.principal import Principal

CITY_WIDE = ("", "41", "4117")


def region_scope(p: Principal) -> str | None:
    """A regulator of a county, township or village sees the entries of objects inside it (their region filled
    by the sealer, app.auditlog.regions); a regulator of the whole city and an admin see every entry."""
    if p.role != "regulator" or (p.region_code or "") in CITY_WIDE:
        return None
    return p.region_code


async def list_entries(
    session: AsyncSession,
    *,
    region: str | None,
    actor: str | None,
    object_id: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AuditEntryPublic], str | None]:
    """Newest first. Each equality filter plus the time order is served by one of the (x, created_at)
    indexes on audit_entries."""
    cols = [(AuditEntry.created_at, True), (AuditEntry.id, True)]
    stmt = select(AuditEntry)
    if region is not None:
        stmt = stmt.where(col(AuditEntry.region_code).startswith(region, autoescape=True))
    if actor is not None:
        stmt = stmt.where(AuditEntry.actor_id == actor)
    if object_id is not None:
        stmt = stmt.where(AuditEntry.object_id == object_id)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if since is not None:
        stmt = stmt.where(AuditEntry.created_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.created_at < until)
    if cursor:
        stmt = stmt.where(after(cols, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    items, nxt = page_of(rows, limit, lambda e: [e.created_at, e.id])
    return [AuditEntryPublic.model_validate(e, from_attributes=True) for e in items], nxt
