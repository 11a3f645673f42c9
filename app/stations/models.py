"""Service stations 普惠金融服务站: one per village, each with a host bank 主办银行 and its "4+X" functions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Float, Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field


class Station(SQLModel, table=True):
    __tablename__ = "stations"
    __table_args__ = (
        # Nearest-station search: a bounding-box range on lat (then lng) before exact distances in Python.
        Index("ix_stations_lat_lng", "lat", "lng"),
        # By village (the village's own station), in a stable order for keyset pages.
        Index("ix_stations_village_name", "village_code", "name", "id"),
        # A bank's own stations (GET /bank/stations).
        Index("ix_stations_host_bank_created", "host_bank_id", "created_at", "id"),
    )

    id: uuid.UUID = id_field()
    name: str = Field(max_length=64)
    village_code: str = Field(max_length=12, foreign_key="regions.code")
    address: str = Field(max_length=255)
    lat: float = Field(sa_type=Float)
    lng: float = Field(sa_type=Float)
    host_bank_id: uuid.UUID = Field(foreign_key="banks.id")
    manager_name: str = Field(max_length=64)
    phone: str = Field(max_length=32)
    opening_hours: str = Field(default="", max_length=128)
    functions: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = created_field()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
