"""Banks: the institutions as they operate in the city, and the counties each serves."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.db import created_field, id_field


class Bank(SQLModel, table=True):
    __tablename__ = "banks"

    id: uuid.UUID = id_field()
    name: str = Field(max_length=128)
    unified_social_credit_code: str = Field(max_length=18, unique=True)
    region_code: str = Field(max_length=12)
    contact_phone: str | None = Field(default=None, max_length=32)
    logo_url: str | None = Field(default=None, max_length=255)
    is_active: bool = Field(default=True)
    created_at: datetime = created_field()


class BankCounty(SQLModel, table=True):
    """Which counties a bank serves: its products, borrowers and visible demands stay inside them."""

    __tablename__ = "bank_counties"

    bank_id: uuid.UUID = Field(foreign_key="banks.id", primary_key=True)
    county_code: str = Field(max_length=6, primary_key=True, index=True)
