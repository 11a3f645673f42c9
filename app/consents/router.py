from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from app.auth.dependencies import Farmer
from app.consents import service
from app.consents.schemas import ConsentPublic, ConsentTextPublic
from app.core.deps import SessionDep
from app.core.http import cacheable
from app.core.pagination import Cursor, Limit, Page

public_router = APIRouter(tags=["consents"])
router = APIRouter(tags=["consents"])


@public_router.get("/consent-texts/current", response_model=ConsentTextPublic, summary="当前授权书文本")
async def current_consent_text(request: Request, session: SessionDep) -> Response:
    return cacheable(request, await service.current_text(session), max_age=300)


@router.get("/me/consents", response_model=Page[ConsentPublic], summary="我的授权记录")
async def my_consents(
    principal: Farmer, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[ConsentPublic]:
    items, nxt = await service.list_mine(session, principal.id, limit, cursor)
    return Page[ConsentPublic](items=items, next_cursor=nxt)


@router.post("/me/consents/{consent_id}/withdraw", response_model=ConsentPublic, summary="撤回授权（即时生效）")
async def withdraw_consent(principal: Farmer, session: SessionDep, consent_id: uuid.UUID) -> ConsentPublic:
    return await service.withdraw_mine(session, principal.id, consent_id)
