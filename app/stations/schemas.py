from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.auth.schemas import StaffCreate
from app.stations.functions import STANDARD, StationFunction

Lat = Annotated[float, Field(ge=-90, le=90, description="纬度（WGS-84）")]
Lng = Annotated[float, Field(ge=-180, le=180, description="经度（WGS-84）")]
Functions = Annotated[
    list[StationFunction],
    Field(max_length=32, description="“4+X”功能：四项基础功能（须全部包含）加扩展功能"),
]


class StationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    village_code: str = Field(pattern=r"^\d{12}$")
    address: str = Field(min_length=1, max_length=255)
    lat: Lat
    lng: Lng
    host_bank_id: uuid.UUID
    manager_name: str = Field(min_length=1, max_length=64)
    phone: str = Field(min_length=3, max_length=32)
    opening_hours: str = Field(default="", max_length=128)
    functions: Functions = Field(default_factory=lambda: [StationFunction(f) for f in STANDARD])


class StationBankUpdate(BaseModel):
    """What the host bank's admin may change (not the village or the host bank)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=64)
    address: str | None = Field(default=None, min_length=1, max_length=255)
    lat: Lat | None = None
    lng: Lng | None = None
    manager_name: str | None = Field(default=None, min_length=1, max_length=64)
    phone: str | None = Field(default=None, min_length=3, max_length=32)
    opening_hours: str | None = Field(default=None, max_length=128)
    functions: Functions | None = None


class StationUpdate(StationBankUpdate):
    """An admin may also move the station to another village or host bank."""

    village_code: str | None = Field(default=None, pattern=r"^\d{12}$")
    host_bank_id: uuid.UUID | None = None


class StationFunctionPublic(BaseModel):
    code: str
    label: str


class StationPublic(BaseModel):
    id: uuid.UUID
    name: str
    village_code: str
    village_name: str | None
    address: str
    lat: float
    lng: float
    host_bank_id: uuid.UUID
    host_bank_name: str | None
    manager_name: str
    phone: str
    opening_hours: str
    functions: list[str]
    function_details: list[StationFunctionPublic]
    distance_km: float | None = None
    created_at: datetime
    updated_at: datetime | None


class AgentCreate(StaffCreate):
    """The staff body (API.md "Staff"); for a station the role can only be `station_agent`."""

    role: str = Field(default="station_agent", max_length=32)


class AgentPublic(BaseModel):
    id: uuid.UUID
    username: str
    role: str
    station_id: uuid.UUID
    real_name: str | None
    phone: str | None
    created_at: datetime
