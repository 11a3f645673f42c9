"""/admin/key-enterprises: the county lists of key enterprises 重点支持企业名录库 (regulator or admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse

from app.auth.dependencies import Regulator
from app.core.deps import SessionDep
from app.core.pagination import Cursor, Limit, Page
from app.enterprises import service
from app.enterprises.schemas import KeyEnterprisePublic, KeyEnterprisePut

router = APIRouter(tags=["key-enterprises"])

CodePath = Annotated[str, Path(min_length=1, max_length=32, description="统一社会信用代码（18 位，GB 32100）")]


@router.put(
    "/admin/key-enterprises/{unified_social_credit_code}",
    response_model=KeyEnterprisePublic,
    summary="把企业列入所在县区的重点支持企业名录（201 新增 / 200 修改或无变化）",
    responses={201: {"description": "新增", "model": KeyEnterprisePublic}},
)
async def put_key_enterprise(
    p: Regulator, session: SessionDep, unified_social_credit_code: CodePath, body: KeyEnterprisePut
) -> JSONResponse:
    status, out = await service.put(session, p, unified_social_credit_code, body)
    return JSONResponse(out.model_dump(mode="json"), status_code=status)


@router.delete("/admin/key-enterprises/{unified_social_credit_code}", status_code=204, summary="移出重点支持企业名录")
async def delete_key_enterprise(p: Regulator, session: SessionDep, unified_social_credit_code: CodePath) -> Response:
    await service.remove(session, p, unified_social_credit_code)
    return Response(status_code=204)


@router.get(
    "/admin/key-enterprises",
    response_model=Page[KeyEnterprisePublic],
    summary="重点支持企业名录（监管人员只看到本辖区的县区）",
)
async def list_key_enterprises(
    p: Regulator,
    session: SessionDep,
    county_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[KeyEnterprisePublic]:
    items, nxt = await service.list_(session, p, county_code, limit, cursor)
    return Page[KeyEnterprisePublic](items=items, next_cursor=nxt)
