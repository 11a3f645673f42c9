"""Stations: onboarding and editing (admins, the host bank's admin), public look-up by village or distance."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.users import create_platform_user
from app.banks import service as banks
from app.core import audit
from app.core.crypto import mask_name, mask_phone
from app.core.db import utcnow
from app.core.errors import BankNotServingCounty, Forbidden, NotFound, ValidationFailed, field_error
from app.core.identity import normalize_contact_phone
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_uuid
from app.core.principal import Principal, Role
from app.regions import service as regions
from app.regions.service import Level
from app.stations import functions as fn
from app.stations.models import Station
from app.stations.schemas import (
    AgentCreate,
    AgentPublic,
    StationBankUpdate,
    StationCreate,
    StationFunctionPublic,
    StationPublic,
    StationUpdate,
)

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEG_LAT = 111.195  # 2πR / 360
MAX_RADIUS_KM = 50.0
DEFAULT_RADIUS_KM = 10.0
STATION_LEVELS = (Level.village.value, Level.community.value)
# Fields of a station that identify a person: audit summaries name them as changed, never their values.
PERSONAL_FIELDS = {"manager_name", "phone"}


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lng: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lng, max_lng) enclosing the circle, with a small margin for rounding."""
    dlat = radius_km / KM_PER_DEG_LAT * 1.01
    cos_lat = max(math.cos(math.radians(min(89.0, abs(lat) + dlat))), 1e-6)
    dlng = min(180.0, radius_km / (KM_PER_DEG_LAT * cos_lat) * 1.01)
    return lat - dlat, lat + dlat, lng - dlng, lng + dlng


# --- what other domains read ------------------------------------------------------------------------------


async def villages_with_station(session: AsyncSession, prefix: str) -> set[str]:
    """The village codes under `prefix` that have a service station (supervision's coverage)."""
    stmt = select(Station.village_code).where(col(Station.village_code).startswith(prefix)).distinct()
    return set((await session.execute(stmt)).scalars().all())


# --- validation -----------------------------------------------------------------------------------------


async def _check_village(session: AsyncSession, code: str) -> None:
    region = await regions.find(session, code)
    if region is None or region.level not in STATION_LEVELS:
        raise ValidationFailed(errors=[field_error("village_code", "village_invalid", "须为已登记的村或社区代码")])


async def _check_host_bank(session: AsyncSession, bank_id: uuid.UUID, village_code: str) -> None:
    if await banks.bank_active(session, bank_id=bank_id) is not True:
        raise ValidationFailed(errors=[field_error("host_bank_id", "bank_unknown", "主办银行不存在")])
    if not await banks.bank_serves_county(session, bank_id, village_code[:6]):
        raise BankNotServingCounty(
            ("主办银行不服务该村所在县区", "The host bank does not serve the village's county"),
            errors=[field_error("host_bank_id", "bank_not_serving_county", "主办银行不服务该村所在县区")],
        )


def _phone(value: str) -> str:
    phone = normalize_contact_phone(value)
    if phone is None:
        raise ValidationFailed(
            errors=[field_error("phone", "phone_invalid", "须为手机号、固定电话（如 0396-1234567）或服务号码")]
        )
    return phone


def _functions(values: Sequence[Any]) -> list[str]:
    codes = fn.normalized(list(values))
    missing = fn.missing_standard(codes)
    if missing:
        raise ValidationFailed(
            errors=[
                field_error("functions", "standard_function_missing", f"须包含四项基础功能，缺少：{code}")
                for code in missing
            ]
        )
    return codes


# --- presentation ---------------------------------------------------------------------------------------


async def present(
    session: AsyncSession, stations: Sequence[Station], distances: dict[uuid.UUID, float] | None = None
) -> list[StationPublic]:
    """Stations with their village and bank names, two queries for the whole page."""
    if not stations:
        return []
    villages = await regions.names(session, {s.village_code for s in stations})
    bank_names = await banks.bank_names(session, {s.host_bank_id for s in stations})
    display_name = regions.display_name

    out = []
    for s in stations:
        village = villages.get(s.village_code)
        out.append(
            StationPublic(
                id=s.id,
                name=s.name,
                village_code=s.village_code,
                village_name=display_name(village) if village else None,
                address=s.address,
                lat=s.lat,
                lng=s.lng,
                host_bank_id=s.host_bank_id,
                host_bank_name=bank_names.get(s.host_bank_id),
                manager_name=s.manager_name,
                phone=s.phone,
                opening_hours=s.opening_hours,
                functions=list(s.functions),
                function_details=[StationFunctionPublic(code=c, label=fn.LABELS.get(c, c)) for c in s.functions],
                distance_km=round(distances[s.id], 2) if distances is not None else None,
                created_at=s.created_at,
                updated_at=s.updated_at,
            )
        )
    return out


def _audit_view(s: Station) -> dict[str, Any]:
    return {
        "name": s.name,
        "village_code": s.village_code,
        "host_bank_id": str(s.host_bank_id),
        "lat": s.lat,
        "lng": s.lng,
        "functions": list(s.functions),
    }


# --- writes ---------------------------------------------------------------------------------------------


async def create(session: AsyncSession, body: StationCreate) -> StationPublic:
    await _check_village(session, body.village_code)
    phone = _phone(body.phone)
    functions = _functions(body.functions)
    await _check_host_bank(session, body.host_bank_id, body.village_code)
    station = Station(
        name=body.name.strip(),
        village_code=body.village_code,
        address=body.address.strip(),
        lat=body.lat,
        lng=body.lng,
        host_bank_id=body.host_bank_id,
        manager_name=body.manager_name.strip(),
        phone=phone,
        opening_hours=body.opening_hours.strip(),
        functions=functions,
    )
    session.add(station)
    await session.flush()
    await audit.record(
        session, action="station.create", object_type="station", object_id=station.id, after=_audit_view(station)
    )
    return (await present(session, [station]))[0]


async def _get(session: AsyncSession, station_id: uuid.UUID, *, bank_id: uuid.UUID | None = None) -> Station:
    station = await session.get(Station, station_id)
    if station is None or (bank_id is not None and station.host_bank_id != bank_id):
        raise NotFound(("服务站不存在", "No such station"))
    return station


async def _apply(session: AsyncSession, station: Station, body: StationBankUpdate) -> StationPublic:
    changes = body.model_dump(exclude_unset=True)
    for key in (
        "name",
        "address",
        "manager_name",
        "lat",
        "lng",
        "village_code",
        "host_bank_id",
        "phone",
        "functions",
        "opening_hours",
    ):
        if key in changes and changes[key] is None:
            raise ValidationFailed(errors=[field_error(key, "null_not_allowed", "不能为空")])
    if "village_code" in changes:
        await _check_village(session, changes["village_code"])
    if "phone" in changes:
        changes["phone"] = _phone(changes["phone"])
    if "functions" in changes:
        changes["functions"] = _functions(changes["functions"])
    if "village_code" in changes or "host_bank_id" in changes:
        await _check_host_bank(
            session,
            changes.get("host_bank_id", station.host_bank_id),
            changes.get("village_code", station.village_code),
        )
    before = _audit_view(station)
    changed: list[str] = []
    for key, value in changes.items():
        if isinstance(value, str):
            value = value.strip()
        if getattr(station, key) != value:
            setattr(station, key, value)
            changed.append(key)
    if changed:
        station.updated_at = utcnow()
        await session.flush()
        await audit.record(
            session,
            action="station.update",
            object_type="station",
            object_id=station.id,
            before=before,
            after=_audit_view(station),
            changed=sorted(changed),
        )
    return (await present(session, [station]))[0]


async def update(session: AsyncSession, station_id: uuid.UUID, body: StationUpdate) -> StationPublic:
    return await _apply(session, await _get(session, station_id), body)


async def update_for_bank(
    session: AsyncSession, principal: Principal, station_id: uuid.UUID, body: StationBankUpdate
) -> StationPublic:
    station = await _get(session, station_id, bank_id=principal.bank_id)
    return await _apply(session, station, body)


# --- reads ----------------------------------------------------------------------------------------------


async def get_public(session: AsyncSession, station_id: uuid.UUID) -> StationPublic:
    return (await present(session, [await _get(session, station_id)]))[0]


async def list_for_bank(
    session: AsyncSession, principal: Principal, limit: int, cursor: str | None
) -> tuple[list[StationPublic], str | None]:
    cols = [(Station.created_at, True), (Station.id, True)]
    stmt = select(Station).where(Station.host_bank_id == principal.bank_id)
    if cursor:
        from app.core.pagination import parse_dt

        stmt = stmt.where(after(cols, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    items, nxt = page_of(rows, limit, lambda s: [s.created_at, s.id])
    return await present(session, items), nxt


async def list_by_village(
    session: AsyncSession, village_code: str, limit: int, cursor: str | None
) -> tuple[list[StationPublic], str | None]:
    cols = [(Station.name, False), (Station.id, False)]
    stmt = select(Station).where(Station.village_code == village_code)
    if cursor:
        stmt = stmt.where(after(cols, decode_cursor(cursor, [str, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    items, nxt = page_of(rows, limit, lambda s: [s.name, s.id])
    return await present(session, items), nxt


async def list_nearest(
    session: AsyncSession, lat: float, lng: float, radius_km: float, limit: int, cursor: str | None
) -> tuple[list[StationPublic], str | None]:
    """Nearest first within `radius_km`. The indexed bounding box bounds the candidates; the exact
    great-circle distance orders and filters them. The cursor is (distance, id) of the last item."""
    min_lat, max_lat, min_lng, max_lng = bounding_box(lat, lng, radius_km)
    where = [col(Station.lat).between(min_lat, max_lat)]
    if max_lng - min_lng < 360:
        if min_lng < -180 or max_lng > 180:  # the box crosses the antimeridian
            where.append(
                (Station.lng >= ((min_lng + 540) % 360) - 180) | (Station.lng <= ((max_lng + 540) % 360) - 180)
            )
        else:
            where.append(col(Station.lng).between(min_lng, max_lng))
    rows = (await session.execute(select(Station.id, Station.lat, Station.lng).where(and_(*where)))).all()
    ranked = sorted((d, sid) for sid, slat, slng in rows if (d := haversine_km(lat, lng, slat, slng)) <= radius_km)
    if cursor:
        last_d, last_id = decode_cursor(cursor, [float, parse_uuid])
        ranked = [(d, sid) for d, sid in ranked if (d, sid) > (last_d, last_id)]
    page = ranked[: limit + 1]
    items, nxt = page_of(page, limit, lambda p: [p[0], p[1]])
    stations = {
        s.id: s
        for s in (
            await session.execute(select(Station).where(col(Station.id).in_([sid for _, sid in items])))
        ).scalars()
    }
    ordered = [stations[sid] for _, sid in items if sid in stations]
    return await present(session, ordered, {sid: d for d, sid in items}), nxt


# --- agents ---------------------------------------------------------------------------------------------


async def create_agent(session: AsyncSession, station_id: uuid.UUID, body: AgentCreate) -> AgentPublic:
    if body.role != Role.station_agent:
        raise ValidationFailed(errors=[field_error("role", "role_invalid", "服务站协管员的角色须为 station_agent")])
    station = await _get(session, station_id)
    # Raises PasswordRejected / ValidationFailed (422) and UsernameTaken (409) like every staff onboarding.
    user = await create_platform_user(
        session,
        role=Role.station_agent,
        username=body.username,
        password=body.password,
        station_id=station.id,
        real_name=body.real_name,
        phone=body.phone,
    )
    assert user.username is not None
    return AgentPublic(
        id=user.id,
        username=user.username,
        role=user.role,
        station_id=station.id,
        real_name=mask_name(user.real_name),
        phone=mask_phone(user.phone),
        created_at=user.created_at,
    )


async def agent_village(session: AsyncSession, principal: Principal) -> str:
    """The village code of the calling agent's station; 403 for an agent without a (live) station."""
    if principal.role != Role.station_agent or principal.station_id is None:
        raise Forbidden()
    code = (
        await session.execute(select(Station.village_code).where(Station.id == principal.station_id))
    ).scalar_one_or_none()
    if code is None:
        raise Forbidden(("所属服务站不存在", "The agent's station no longer exists"))
    return str(code)
