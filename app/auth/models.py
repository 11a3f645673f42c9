"""Accounts: farmers (phone + SMS), staff, agents, regulators and admins (password)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field


class Role(StrEnum):
    farmer = "farmer"
    bank_staff = "bank_staff"
    bank_admin = "bank_admin"
    station_agent = "station_agent"
    regulator = "regulator"
    admin = "admin"
    bank_system = "bank_system"  # a bank's API client, never a user


STAFF_ROLES = {Role.bank_staff, Role.bank_admin, Role.station_agent, Role.regulator, Role.admin}
BANK_ROLES = {Role.bank_staff, Role.bank_admin}


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        Index(
            "uq_users_farmer_phone",
            "phone",
            unique=True,
            postgresql_where=Column("role") == "farmer",
            sqlite_where=Column("role") == "farmer",
        ),
    )

    id: uuid.UUID = id_field()
    role: str = Field(max_length=32, index=True)
    username: str | None = Field(default=None, max_length=64, unique=True)
    password_hash: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=16, index=True)
    real_name: str | None = Field(default=None, max_length=64)
    # Resident ID: AES-GCM ciphertext plus a keyed hash for look-ups (PIPL / JR/T 0171).
    id_number_enc: str | None = Field(default=None, max_length=255)
    id_number_hash: str | None = Field(default=None, max_length=64, index=True)
    village_code: str | None = Field(default=None, max_length=12)
    household_type: str | None = Field(default=None, max_length=32)
    bank_id: uuid.UUID | None = Field(default=None, foreign_key="banks.id", index=True)
    station_id: uuid.UUID | None = Field(default=None, index=True)
    region_code: str | None = Field(default=None, max_length=12)
    is_active: bool = Field(default=True)
    sms_second_factor: bool = Field(default=False)
    created_at: datetime = created_field()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
