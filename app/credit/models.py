"""Households: rated by the provincial system and the village groups, with or without an account."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field, money_field


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


class Certificate(SQLModel, table=True):
    """A household's credit certificate 普惠金融授信证 (red or blue), its limit and what is drawn on it.

    `outstanding_fen` (disbursed, unpaid principal) and `pending_fen` (submitted + approved draw-downs) are kept
    on this row so that a draw-down is admitted by one conditional UPDATE (or under a row lock):
    outstanding + pending + amount <= limit. No CHECK ties them to the limit, because a downgrade may leave
    outstanding above a new, lower limit; that only stops new draws.
    """

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint("outstanding_fen >= 0 AND pending_fen >= 0", name="amounts_not_negative"),
        CheckConstraint("limit_fen >= 0", name="limit_not_negative"),
        Index(
            "uq_certificates_current_household",
            "household_id",
            unique=True,
            postgresql_where=Column("is_current"),
            sqlite_where=Column("is_current"),
        ),
    )

    id: uuid.UUID = id_field()
    number: str = Field(max_length=32, unique=True)
    household_id: uuid.UUID = Field(foreign_key="households.id", index=True)
    # Only one current certificate per household; expired or replaced ones stay as history.
    is_current: bool = Field(default=True)
    color: str = Field(max_length=8)  # red | blue
    stars: int
    limit_fen: int = money_field()
    max_annual_rate_bp: int = Field(default=675)
    status: str = Field(max_length=16, index=True)  # issued | active | frozen | revoked | expired
    lead_bank_id: uuid.UUID | None = Field(default=None, foreign_key="banks.id", index=True)
    outstanding_fen: int = money_field(default=0)
    pending_fen: int = money_field(default=0)
    issued_on: date
    expires_on: date
    activated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status_reason: str | None = Field(default=None, max_length=255)
    created_at: datetime = created_field()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
