from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.auth.dependencies import Admin
from app.banks import service
from app.banks.schemas import BankCreate, BankPublic, BankUpdate
from app.core.db import ReadSessionDep
from app.core.deps import SessionDep
from app.core.http import cacheable
from app.core.idempotency import idempotent
from app.core.pagination import Cursor, Limit, Page

public_router = APIRouter(tags=["banks"])
router = APIRouter(tags=["banks"])


@public_router.get("/banks", response_model=Page[BankPublic], summary="参与银行列表")
async def list_banks(
    request: Request,
    session: ReadSessionDep,
    county_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    items, nxt = await service.list_banks(session, county_code=county_code, limit=limit, cursor=cursor)
    return cacheable(request, Page[BankPublic](items=items, next_cursor=nxt), max_age=300)


@public_router.get("/banks/{bank_id}", response_model=BankPublic, summary="单个银行")
async def get_bank(request: Request, session: ReadSessionDep, bank_id: uuid.UUID) -> Response:
    return cacheable(request, await service.get_public(session, bank_id), max_age=300)


@router.post("/admin/banks", response_model=BankPublic, status_code=201, summary="银行入驻")
@idempotent()
async def create_bank(_: Admin, session: SessionDep, body: BankCreate) -> BankPublic:
    return await service.create_bank(session, body)


@router.patch("/admin/banks/{bank_id}", response_model=BankPublic, summary="修改银行信息")
async def update_bank(_: Admin, session: SessionDep, bank_id: uuid.UUID, body: BankUpdate) -> BankPublic:
    return await service.update_bank(session, bank_id, body)
