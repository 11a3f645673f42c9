from __future__ import annotations

from fastapi import APIRouter

from app.auth.dependencies import BankUser, Farmer
from app.core.deps import SessionDep
from app.core.pagination import Cursor, Limit
from app.notifications import service
from app.notifications.schemas import NotificationPage, NotificationRead, NotificationReadResult

router = APIRouter(tags=["notifications"])


@router.get("/me/notifications", response_model=NotificationPage, summary="我的通知（新的在前，含未读数）")
async def list_my_notifications(
    p: Farmer, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> NotificationPage:
    return await service.list_mine(session, p.id, limit, cursor)


@router.post("/me/notifications/read", response_model=NotificationReadResult, summary="标记通知已读")
async def read_my_notifications(p: Farmer, body: NotificationRead, session: SessionDep) -> NotificationReadResult:
    return await service.mark_read(session, p.id, body)


@router.get("/bank/notifications", response_model=NotificationPage, summary="本行及本人的通知（新的在前）")
async def list_bank_notifications(
    p: BankUser, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> NotificationPage:
    return await service.list_mine(session, p.id, limit, cursor, bank_id=p.bank_id)


@router.post("/bank/notifications/read", response_model=NotificationReadResult, summary="标记本行通知已读")
async def read_bank_notifications(p: BankUser, body: NotificationRead, session: SessionDep) -> NotificationReadResult:
    return await service.mark_read(session, p.id, body, bank_id=p.bank_id)
