"""The demand library 信贷需求库: loan needs posted by households and small businesses, and the banks' offers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Column, Index
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field, money_field


class DemandStatus(StrEnum):
    open = "open"
    accepted = "accepted"
    withdrawn = "withdrawn"
    expired = "expired"


class OfferStatus(StrEnum):
    pending = "pending"  # live: the farmer may accept or decline it
    accepted = "accepted"
    declined = "declined"  # by the farmer, or because another offer was accepted
    withdrawn = "withdrawn"  # by the bank
    closed = "closed"  # the demand was withdrawn or expired


class Demand(SQLModel, table=True):
    __tablename__ = "demands"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        # GET /bank/demands: one index range scan per county the bank serves, already in ranking order (key
        # enterprises first among equal scores)
        Index("ix_demands_bank_feed", "county_code", "status", "match_base", "key_enterprise", "id"),
        # GET /me/demands, newest first
        Index("ix_demands_user_created", "user_id", "created_at", "id"),
        # the open-demand limit per household (agent-filed demands count too)
        Index("ix_demands_household_status", "household_id", "status"),
        # the worker's expiry sweep
        Index("ix_demands_status_expires", "status", "expires_on"),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    household_id: uuid.UUID | None = Field(default=None, foreign_key="households.id")
    enterprise_id: uuid.UUID | None = Field(default=None, foreign_key="enterprise_profiles.id")
    applicant_kind: str = Field(max_length=16)  # household | enterprise
    filed_by_agent_id: uuid.UUID | None = Field(default=None)
    village_code: str = Field(max_length=12)
    township_code: str = Field(max_length=9)
    county_code: str = Field(max_length=6)
    amount_fen: int = money_field()
    term_months: int
    purpose: str = Field(max_length=32)
    description: str = Field(default="", max_length=500)
    collateral_types: list[str] = Field(default_factory=list, sa_type=JSON)
    # Stored for ranking without joins: the household's stars (refreshed by the worker when the rating changes),
    # the targets it falls under (app.catalog.models.TARGET_BITS) and the bank-independent match score.
    stars: int = Field(default=0)
    target_mask: int = Field(default=0)
    match_base: int = Field(default=0)
    # The applicant is an enterprise on its county's key-enterprise list (app.enterprises), kept current when the
    # list or the enterprise's profile changes: it ranks the demand first among equal match scores.
    key_enterprise: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    status: str = Field(default=DemandStatus.open, max_length=16)
    expires_on: date
    accepted_offer_id: uuid.UUID | None = Field(default=None)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DemandOffer(SQLModel, table=True):
    __tablename__ = "demand_offers"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        # one live offer per bank per demand
        Index(
            "uq_demand_offers_live",
            "demand_id",
            "bank_id",
            unique=True,
            postgresql_where=Column("status") == "pending",
            sqlite_where=Column("status") == "pending",
        ),
        Index("ix_demand_offers_demand_created", "demand_id", "created_at"),
        Index("ix_demand_offers_bank_demand", "bank_id", "demand_id"),
    )

    id: uuid.UUID = id_field()
    demand_id: uuid.UUID = Field(foreign_key="demands.id")
    bank_id: uuid.UUID = Field(foreign_key="banks.id")
    product_id: uuid.UUID = Field(foreign_key="products.id")
    amount_fen: int = money_field()
    annual_rate_bp: int
    term_months: int
    note: str = Field(default="", max_length=500)
    status: str = Field(default=OfferStatus.pending, max_length=16)
    created_by: str = Field(default="", max_length=80)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
