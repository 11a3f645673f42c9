from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.auth.dependencies import Admin
from app.core.db import ReadSessionDep
from app.core.deps import SessionDep
from app.core.errors import ValidationFailed, field_error
from app.core.http import cacheable
from app.core.pagination import Cursor, Limit, Page
from app.regions import service
from app.regions.models import Level
from app.regions.schemas import RegionImportResult, RegionPublic

public_router = APIRouter(tags=["regions"])
router = APIRouter(tags=["regions"])


@public_router.get("/regions", response_model=Page[RegionPublic], summary="行政区划列表（按上级）")
async def list_regions(
    request: Request,
    session: ReadSessionDep,
    parent: Annotated[str | None, Query(max_length=12, pattern=r"^\d{2,12}$")] = None,
    level: Level | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    items, nxt = await service.list_children(session, parent, level, limit, cursor)
    page = Page[RegionPublic](
        items=[RegionPublic.model_validate(r, from_attributes=True) for r in items], next_cursor=nxt
    )
    return cacheable(request, page, max_age=3600)


@public_router.get("/regions/{code}", response_model=RegionPublic, summary="单个行政区划")
async def get_region(request: Request, session: ReadSessionDep, code: str) -> Response:
    region = await service.get(session, code)
    return cacheable(request, RegionPublic.model_validate(region, from_attributes=True), max_age=3600)


@router.post("/admin/regions/import", response_model=RegionImportResult, summary="导入行政区划 CSV")
async def import_regions(request: Request, _: Admin, session: SessionDep) -> RegionImportResult:
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(errors=[field_error("body", "encoding", "须为 UTF-8 编码的 CSV")]) from exc
    rows = service.parse_csv(text)
    if not rows or "code" not in rows[0]:
        raise ValidationFailed(errors=[field_error("body", "csv_header", "CSV 须含表头 code,name,level,parent_code")])
    return await service.import_rows(session, rows)
