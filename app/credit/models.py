"""Households: rated by the provincial system and the village groups, with or without an account."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field


class Household(SQLModel, table=True):
    __tablename__ = "households"

    id: uuid.UUID = id_field()
    id_number_enc: str = Field(max_length=255)
    id_number_hash: str = Field(max_length=64, unique=True)
    real_name: str = Field(max_length=64)
    phone: str | None = Field(default=None, max_length=16)
    village_code: str = Field(max_length=12, foreign_key="regions.code", index=True)
    township_code: str = Field(max_length=9, index=True)
    county_code: str = Field(max_length=6, index=True)
    is_registered_poor: bool = Field(default=False)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", unique=True)
    created_at: datetime = created_field()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
