from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.auth.dependencies import Admin, BankAdmin, BankUser
from app.core.db import ReadSessionDep
from app.core.deps import SessionDep
from app.core.errors import ValidationFailed, field_error
from app.core.http import cacheable
from app.core.idempotency import idempotent
from app.core.pagination import Cursor, Limit, Page
from app.stations import service
from app.stations.schemas import (
    AgentCreate,
    AgentPublic,
    StationBankUpdate,
    StationCreate,
    StationPublic,
    StationUpdate,
)

public_router = APIRouter(tags=["stations"])
router = APIRouter(tags=["stations"])

STATIONS_MAX_AGE = 300


@public_router.get(
    "/stations",
    response_model=Page[StationPublic],
    summary="查找服务站：按村，或按坐标由近到远",
    description="`?village_code=`，或 `?lat=&lng=&radius_km=`（半径 0–50 公里，默认 10，`distance_km` 为大圆距离）。",
)
async def list_stations(
    request: Request,
    session: ReadSessionDep,
    village_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lng: Annotated[float | None, Query(ge=-180, le=180)] = None,
    radius_km: Annotated[float, Query(gt=0, le=service.MAX_RADIUS_KM)] = service.DEFAULT_RADIUS_KM,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Response:
    if village_code is not None and lat is None and lng is None:
        items, nxt = await service.list_by_village(session, village_code, limit, cursor)
    elif village_code is None and lat is not None and lng is not None:
        items, nxt = await service.list_nearest(session, lat, lng, radius_km, limit, cursor)
    else:
        raise ValidationFailed(
            errors=[field_error("query", "filter_required", "须提供 village_code，或同时提供 lat 与 lng（二选一）")]
        )
    return cacheable(request, Page[StationPublic](items=items, next_cursor=nxt), max_age=STATIONS_MAX_AGE)


@public_router.get("/stations/{station_id}", response_model=StationPublic, summary="单个服务站")
async def get_station(request: Request, session: ReadSessionDep, station_id: uuid.UUID) -> Response:
    return cacheable(request, await service.get_public(session, station_id), max_age=STATIONS_MAX_AGE)


@router.post("/admin/stations", status_code=201, response_model=StationPublic, summary="建立服务站")
@idempotent()
async def create_station(_: Admin, body: StationCreate, session: SessionDep) -> StationPublic:
    return await service.create(session, body)


@router.patch("/admin/stations/{station_id}", response_model=StationPublic, summary="修改服务站（平台）")
async def update_station(_: Admin, station_id: uuid.UUID, body: StationUpdate, session: SessionDep) -> StationPublic:
    return await service.update(session, station_id, body)


@router.post(
    "/admin/stations/{station_id}/agents",
    status_code=201,
    response_model=AgentPublic,
    summary="为服务站开设协管员账号",
)
@idempotent()
async def create_station_agent(_: Admin, station_id: uuid.UUID, body: AgentCreate, session: SessionDep) -> AgentPublic:
    return await service.create_agent(session, station_id, body)


@router.get("/bank/stations", response_model=Page[StationPublic], summary="本行主办的服务站")
async def list_bank_stations(
    p: BankUser, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[StationPublic]:
    items, nxt = await service.list_for_bank(session, p, limit, cursor)
    return Page[StationPublic](items=items, next_cursor=nxt)


@router.patch("/bank/stations/{station_id}", response_model=StationPublic, summary="修改本行主办的服务站")
async def update_bank_station(
    p: BankAdmin, station_id: uuid.UUID, body: StationBankUpdate, session: SessionDep
) -> StationPublic:
    return await service.update_for_bank(session, p, station_id, body)
