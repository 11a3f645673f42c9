"""The key-enterprise list 重点支持企业名录库: per county, by unified social credit code (GB 32100).

An enterprise's code is public registration data (not personal information), so it is kept as is; the keyed
hash beside it is the one the enterprise profiles (`app.auth.models.EnterpriseProfile.uscc_hash`) carry, so a
profile is matched to the list without decrypting anything."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.core.db import created_field


class KeyEnterprise(SQLModel, table=True):
    __tablename__ = "key_enterprises"
    __table_args__ = (
        # GET /admin/key-enterprises?county_code=…, keyset on (county, code)
        Index("ix_key_enterprises_county_code", "county_code", "unified_social_credit_code"),
        # "is this profile's code on a list?"
        Index("ix_key_enterprises_uscc_hash", "uscc_hash"),
    )

    unified_social_credit_code: str = Field(max_length=18, primary_key=True)
    uscc_hash: str = Field(max_length=64)
    name: str = Field(max_length=128)
    county_code: str = Field(max_length=6)
    note: str = Field(default="", max_length=500)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    updated_by: str = Field(default="", max_length=80)
