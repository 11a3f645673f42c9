from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from app.auditlog import service
from app.auditlog.schemas import AuditEntryPublic
from app.auth.dependencies import Regulator
from app.core.deps import SessionDep
from app.core.errors import ValidationFailed, field_error
from app.core.pagination import Cursor, Limit, Page

router = APIRouter(tags=["audit"])


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed(errors=[field_error(name, "timezone_required", "须为带时区的 RFC 3339 时间")])
    return value


@router.get("/admin/audit", response_model=Page[AuditEntryPublic], summary="审计记录（新的在前）")
async def list_audit_entries(
    p: Regulator,
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=64, description="操作者 id")] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(description="起（含），RFC 3339")] = None,
    until: Annotated[datetime | None, Query(description="止（不含），RFC 3339")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[AuditEntryPublic]:
    items, nxt = await service.list_entries(
        session,
        region=service.region_scope(p),
        actor=actor,
        object_id=object_id,
        action=action,
        since=_aware("since", since),
        until=_aware("until", until),
        limit=limit,
        cursor=cursor,
    )
    return Page[AuditEntryPublic](items=items, next_cursor=nxt)
