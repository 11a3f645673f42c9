"""Onboarding (bank staff, regulators), account switches, and bank systems' API clients."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import clients, service, users
from app.auth.dependencies import Admin, BankAdmin
from app.auth.models import ApiClient, User
from app.auth.schemas import (
    ApiClientCreate,
    ApiClientPublic,
    ApiClientSecret,
    BankStaffCreate,
    RegulatorCreate,
    StaffCreate,
    StaffPublic,
)
from app.core.deps import RedisDep, SessionDep
from app.core.idempotency import idempotent
from app.core.pagination import Cursor, Limit, Page

router = APIRouter(tags=["staff"])


def _staff(user: User) -> StaffPublic:
    return StaffPublic(
        id=user.id,
        username=user.username,
        role=user.role,
        real_name=user.real_name,
        phone=user.phone,
        bank_id=user.bank_id,
        region_code=user.region_code,
        is_active=user.is_active,
        created_at=user.created_at,
    )


def _client(c: ApiClient) -> ApiClientPublic:
    return ApiClientPublic(
        id=c.id,
        name=c.name,
        client_id=c.client_id,
        scopes=c.scopes.split(),
        created_at=c.created_at,
        rotated_at=c.rotated_at,
        revoked_at=c.revoked_at,
    )


@router.post(
    "/admin/banks/{bank_id}/staff",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffPublic,
    summary="平台：为银行创建 bank_admin 或 bank_staff",
)
@idempotent()
async def create_bank_staff_admin(p: Admin, session: SessionDep, bank_id: uuid.UUID, body: StaffCreate) -> StaffPublic:
    return await _create_bank_user(session, bank_id, body)


@router.post(
    "/bank/staff", status_code=status.HTTP_201_CREATED, response_model=StaffPublic, summary="银行管理员：创建本行员工"
)
@idempotent()
async def create_bank_staff(p: BankAdmin, session: SessionDep, body: BankStaffCreate) -> StaffPublic:
    assert p.bank_id is not None
    return await _create_bank_user(session, p.bank_id, body)


async def _create_bank_user(
    session: AsyncSession, bank_id: uuid.UUID, body: StaffCreate | BankStaffCreate
) -> StaffPublic:
    user = await users.create_bank_user(
        session,
        bank_id=bank_id,
        role=body.role,
        username=body.username,
        password=body.password,
        real_name=body.real_name,
        phone=body.phone,
    )
    return _staff(user)


@router.post(
    "/admin/regulators", status_code=status.HTTP_201_CREATED, response_model=StaffPublic, summary="平台：创建监管账号"
)
@idempotent()
async def create_regulator(p: Admin, session: SessionDep, body: RegulatorCreate) -> StaffPublic:
    user = await users.create_regulator(
        session,
        username=body.username,
        password=body.password,
        real_name=body.real_name,
        phone=body.phone,
        region_code=body.region_code,
    )
    return _staff(user)


@router.post(
    "/admin/users/{user_id}/disable",
    response_model=StaffPublic,
    summary="平台：停用账号（会话立即失效）",
    responses={
        409: {
            "description": "不能停用自己、最后一个平台管理员或银行最后一个银行管理员 (invalid_state)",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    },
)
async def disable_user(p: Admin, session: SessionDep, redis: RedisDep, user_id: uuid.UUID) -> StaffPublic:
    return _staff(await service.set_active(session, redis, user_id, False, actor_id=p.id))


@router.post("/admin/users/{user_id}/enable", response_model=StaffPublic, summary="平台：重新启用账号")
async def enable_user(p: Admin, session: SessionDep, redis: RedisDep, user_id: uuid.UUID) -> StaffPublic:
    return _staff(await service.set_active(session, redis, user_id, True, actor_id=p.id))


@router.post(
    "/bank/api-clients",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiClientSecret,
    summary="银行管理员：创建 API 客户端（密钥只显示一次）",
)
async def create_api_client(p: BankAdmin, session: SessionDep, body: ApiClientCreate) -> ApiClientSecret:
    assert p.bank_id is not None
    issued = await clients.create(session, bank_id=p.bank_id, name=body.name, scopes=list(body.scopes), created_by=p.id)
    return ApiClientSecret(**_client(issued.client).model_dump(), client_secret=issued.secret)


@router.get("/bank/api-clients", response_model=Page[ApiClientPublic], summary="银行管理员：本行 API 客户端")
async def list_api_clients(
    p: BankAdmin, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[ApiClientPublic]:
    assert p.bank_id is not None
    items, nxt = await clients.list_for_bank(session, p.bank_id, limit, cursor)
    return Page[ApiClientPublic](items=[_client(c) for c in items], next_cursor=nxt)


@router.post(
    "/bank/api-clients/{client_id}/rotate",
    response_model=ApiClientSecret,
    summary="银行管理员：轮换密钥（旧密钥与其令牌立即失效）",
)
async def rotate_api_client(
    p: BankAdmin, session: SessionDep, redis: RedisDep, client_id: uuid.UUID
) -> ApiClientSecret:
    assert p.bank_id is not None
    issued = await clients.rotate(session, redis, bank_id=p.bank_id, client_id=client_id)
    return ApiClientSecret(**_client(issued.client).model_dump(), client_secret=issued.secret)


@router.delete(
    "/bank/api-clients/{client_id}", status_code=status.HTTP_204_NO_CONTENT, summary="银行管理员：吊销 API 客户端"
)
async def revoke_api_client(p: BankAdmin, session: SessionDep, redis: RedisDep, client_id: uuid.UUID) -> Response:
    assert p.bank_id is not None
    await clients.revoke(session, redis, bank_id=p.bank_id, client_id=client_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
