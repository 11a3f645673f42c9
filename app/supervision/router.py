from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import Regulator
from app.core.db import ReadSessionDep
from app.core.pagination import Cursor, Limit, Page
from app.supervision import service
from app.supervision.schemas import ITEM_FIELDS, CoveragePublic, SnapshotPublic

router = APIRouter(tags=["supervision"])

RegionQuery = Annotated[
    str | None,
    Query(pattern=r"^\d{2,12}$", description="行政区划代码；默认监管员的辖区，平台管理员为驻马店市 4117"),
]


@router.get(
    "/admin/stats/coverage",
    response_model=CoveragePublic,
    summary="三个全覆盖：按下级区划统计",
    description=(
        "每个下级区划一行：App 覆盖率（已绑定账号的农户 ÷ 农户数）、授信证覆盖率（持有效授信证的农户 ÷ 农户数）、"
        "服务站覆盖率（有服务站的行政村 ÷ 行政村数）、贷款余额、逾期率、信用村、信用乡、隔离区域。"
        "比率为 0–1 的小数（四位，四舍五入），分母为 0 时为 null。`households` 优先采用区划导入给出的官方户数。"
        "村（社区）没有下级区划，返回空列表。监管员只能查询本辖区。"
    ),
)
async def coverage(_: Regulator, session: ReadSessionDep, region: RegionQuery = None) -> CoveragePublic:
    return await service.coverage(session, _, region)


@router.get(
    "/admin/stats/coverage.csv",
    summary="三个全覆盖（CSV）",
    description="与 `/admin/stats/coverage` 相同的表格，UTF-8（带 BOM，Excel 可直接打开），首行为字段名，null 为空。",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def coverage_csv(_: Regulator, session: ReadSessionDep, region: RegionQuery = None) -> Response:
    table = await service.coverage(session, _, region)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(ITEM_FIELDS)
    for item in table.items:
        values = item.model_dump()
        writer.writerow([_cell(values[f]) for f in ITEM_FIELDS])
    return Response(
        content="\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="coverage-{table.region.code}.csv"',
            "Cache-Control": "no-store",
        },
    )


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


@router.get(
    "/admin/stats/snapshots",
    response_model=Page[SnapshotPublic],
    summary="统计快照（趋势）",
    description=(
        "`python -m app.cli snapshot-stats` 每日保存的全市、各县区、各乡镇数据；返回该区划自身及其下级，按日期升序。"
    ),
)
async def list_snapshots(
    _: Regulator,
    session: ReadSessionDep,
    region: RegionQuery = None,
    since: Annotated[date | None, Query(description="起始日期（含），YYYY-MM-DD")] = None,
    until: Annotated[date | None, Query(description="截止日期（含），YYYY-MM-DD")] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[SnapshotPublic]:
    items, nxt = await service.list_snapshots(
        session, _, region_code=region, since=since, until=until, limit=limit, cursor=cursor
    )
    return Page[SnapshotPublic](items=items, next_cursor=nxt)
