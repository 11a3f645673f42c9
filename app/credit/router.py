from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from app.auth.dependencies import Admin, Farmer, Regulator, StepUp, require
from app.core.deps import SessionDep
from app.core.idempotency import idempotent
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import Principal, Role
from app.core.problems import wants_english
from app.credit import farmer, imports, service
from app.credit.schemas import (
    ActivationCreate,
    CertificateAdminPublic,
    CertificatePublic,
    HouseholdDetail,
    HouseholdPublic,
    ImportResult,
    MyCredit,
    ObjectionCreate,
    ObjectionPublic,
    ObjectionResolve,
    RatingFactorPublic,
    RatingUpdate,
    ReasonBody,
)

router = APIRouter(tags=["credit"])
CertificateStaff = Annotated[Principal, require(Role.regulator, Role.admin, Role.bank_admin)]

IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"rows": {"type": "array", "maxItems": 50000, "items": {"type": "object"}}},
                    "required": ["rows"],
                }
            },
        },
    }
}


# ---- farmer ---------------------------------------------------------------------------------------------


@router.get("/me/credit", response_model=MyCredit, summary="我的信用评级与授信证")
async def my_credit(principal: Farmer, session: SessionDep, request: Request) -> MyCredit:
    return await farmer.my_credit(session, principal, english=wants_english(request))


@router.post("/me/certificate/activation", response_model=CertificatePublic, summary="启信：选择主办银行")
async def activate(
    principal: Farmer, _step: StepUp, session: SessionDep, body: ActivationCreate, response: Response
) -> CertificatePublic:
    return await farmer.activate(session, principal, body.lead_bank_id)


@router.post("/me/credit/objections", response_model=ObjectionPublic, status_code=201, summary="对信用评级提出异议")
@idempotent()
async def create_objection(principal: Farmer, session: SessionDep, body: ObjectionCreate) -> ObjectionPublic:
    return await farmer.object_to_rating(session, principal, body)


@router.get("/me/credit/objections", response_model=Page[ObjectionPublic], summary="我的评级异议")
async def my_objections(
    principal: Farmer, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[ObjectionPublic]:
    items, nxt = await farmer.my_objections(session, principal, limit, cursor)
    return Page[ObjectionPublic](items=items, next_cursor=nxt)


@router.get("/me/credit/objections/{objection_id}", response_model=ObjectionPublic, summary="一条评级异议")
async def my_objection(principal: Farmer, session: SessionDep, objection_id: uuid.UUID) -> ObjectionPublic:
    return await farmer.my_objection(session, principal, objection_id)


# ---- regulator / admin ----------------------------------------------------------------------------------


@router.get("/admin/rating-factors", response_model=list[RatingFactorPublic], summary="评级因素目录")
async def rating_factors(_: Regulator, session: SessionDep) -> list[RatingFactorPublic]:
    return await service.list_factors(session)


@router.post(
    "/admin/ratings/import",
    response_model=ImportResult,
    summary="导入信用评级（CSV 或 JSON）",
    openapi_extra=IMPORT_BODY,
)
async def import_ratings(principal: Regulator, request: Request, session: SessionDep) -> ImportResult:
    rows = imports.parse_body(await request.body(), request.headers.get("content-type", "application/json"))
    return await imports.import_rows(
        session, rows, actor=principal.actor(), region_code=service.region_scope(principal)
    )


@router.get("/admin/households", response_model=Page[HouseholdPublic], summary="农户列表（个人信息脱敏）")
async def list_households(
    principal: Regulator,
    session: SessionDep,
    village_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[HouseholdPublic]:
    items, nxt = await service.list_households(session, principal, village_code, limit, cursor)
    return Page[HouseholdPublic](items=items, next_cursor=nxt)


@router.get("/admin/households/{household_id}", response_model=HouseholdDetail, summary="农户详情与评级历史")
async def get_household(
    principal: Regulator, session: SessionDep, household_id: uuid.UUID, response: Response
) -> HouseholdDetail:
    return await service.get_household(session, principal, household_id)


@router.put("/admin/households/{household_id}/rating", response_model=HouseholdDetail, summary="修改农户评级")
async def update_rating(
    principal: Regulator, session: SessionDep, household_id: uuid.UUID, body: RatingUpdate
) -> HouseholdDetail:
    return await service.update_rating(session, principal, household_id, body)


@router.post("/admin/households/{household_id}/unlink", response_model=HouseholdDetail, summary="解除账号绑定")
async def unlink(_: Admin, session: SessionDep, household_id: uuid.UUID) -> HouseholdDetail:
    return await service.unlink(session, household_id)


@router.get("/admin/objections", response_model=Page[ObjectionPublic], summary="评级异议列表")
async def list_objections(
    principal: Regulator,
    session: SessionDep,
    status: Literal["open", "resolved"] | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[ObjectionPublic]:
    items, nxt = await service.list_objections(session, principal, status, limit, cursor)
    return Page[ObjectionPublic](items=items, next_cursor=nxt)


@router.post("/admin/objections/{objection_id}/resolve", response_model=ObjectionPublic, summary="处理评级异议")
async def resolve_objection(
    principal: Regulator, session: SessionDep, objection_id: uuid.UUID, body: ObjectionResolve
) -> ObjectionPublic:
    return await service.resolve_objection(session, principal, objection_id, body)


@router.post("/admin/certificates/{certificate_id}/freeze", response_model=CertificateAdminPublic, summary="冻结授信证")
async def freeze(
    principal: CertificateStaff,
    session: SessionDep,
    certificate_id: uuid.UUID,
    body: ReasonBody,
) -> CertificateAdminPublic:
    return await service.set_frozen(session, principal, certificate_id, True, body.reason)


@router.post(
    "/admin/certificates/{certificate_id}/unfreeze", response_model=CertificateAdminPublic, summary="解冻授信证"
)
async def unfreeze(
    principal: CertificateStaff,
    session: SessionDep,
    certificate_id: uuid.UUID,
    body: ReasonBody,
) -> CertificateAdminPublic:
    return await service.set_frozen(session, principal, certificate_id, False, body.reason)
