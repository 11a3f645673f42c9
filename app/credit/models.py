"""Households: rated by the provincial system and the village groups, with or without an account.

Also the credit domain's policy data (factor catalogue, certificate policy, thresholds), the rating history,
the certificate limit ledger, per-village counters and rating objections.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, Numeric
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field, money_field


def score_field(scale: int = 2, **kw: Any) -> Any:
    return Field(sa_type=Numeric(5, scale), **kw)


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
    # The rating: scores as given (0-100, two decimals), the composite (one decimal) and what follows from it.
    provincial_score: Decimal | None = score_field(default=None, nullable=True)
    village_score: Decimal | None = score_field(default=None, nullable=True)
    composite_score: Decimal | None = score_field(1, default=None, nullable=True)
    stars: int = Field(default=0)
    is_credit_household: bool = Field(default=False)
    vetoed: bool = Field(default=False)
    positives: list[str] = Field(default_factory=list, sa_type=JSON)
    negatives: list[str] = Field(default_factory=list, sa_type=JSON)
    vetoes: list[str] = Field(default_factory=list, sa_type=JSON)
    rated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
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


class RatingFactor(SQLModel, table=True):
    """The editable catalogue of positive, negative and veto items (policy default, seeded by the migration)."""

    __tablename__ = "rating_factors"

    code: str = Field(max_length=48, primary_key=True)
    kind: str = Field(max_length=16, index=True)  # positive | negative | veto
    label_zh: str = Field(max_length=128)
    sort_order: int = Field(default=0)
    is_active: bool = Field(default=True)


class CertificatePolicy(SQLModel, table=True):
    """Stars → certificate colour, limit, rate cap and validity (DOMAIN.md "Certificate policy")."""

    __tablename__ = "certificate_policies"

    stars: int = Field(primary_key=True)
    color: str = Field(max_length=8)
    limit_fen: int = money_field()
    max_annual_rate_bp: int
    validity_months: int


class CreditSetting(SQLModel, table=True):
    """Small policy values kept as data (credit village / township thresholds)."""

    __tablename__ = "credit_settings"

    key: str = Field(max_length=64, primary_key=True)
    value: str = Field(max_length=255)


class CertificateCounter(SQLModel, table=True):
    """Serial numbers for certificate numbers, one row per year (ZMD-2026-000123)."""

    __tablename__ = "certificate_counters"

    year: int = Field(primary_key=True)
    last: int = Field(default=0)


class RatingChange(SQLModel, table=True):
    """Every rating change: who, when, old → new."""

    __tablename__ = "rating_changes"
    __table_args__ = (Index("ix_rating_changes_household_created", "household_id", "created_at"),)

    id: uuid.UUID = id_field()
    household_id: uuid.UUID = Field(foreign_key="households.id")
    source: str = Field(max_length=16)  # import | admin | agent | objection
    actor_type: str = Field(max_length=16)
    actor_id: str = Field(max_length=64)
    actor_role: str = Field(default="", max_length=32)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = created_field()


class CertificateLedgerEntry(SQLModel, table=True):
    """The limit-change ledger: granted, upgraded, downgraded, frozen, unfrozen, revoked, renewed."""

    __tablename__ = "certificate_ledger"
    __table_args__ = (Index("ix_certificate_ledger_certificate_created", "certificate_id", "created_at"),)

    id: uuid.UUID = id_field()
    certificate_id: uuid.UUID = Field(foreign_key="certificates.id")
    household_id: uuid.UUID = Field(foreign_key="households.id", index=True)
    kind: str = Field(max_length=16)
    old_limit_fen: int = money_field(default=0)
    new_limit_fen: int = money_field(default=0)
    old_status: str | None = Field(default=None, max_length=16)
    new_status: str = Field(max_length=16)
    reason: str = Field(default="", max_length=255)
    actor_type: str = Field(default="system", max_length=16)
    actor_id: str = Field(default="system", max_length=64)
    created_at: datetime = created_field()


class VillageCreditStats(SQLModel, table=True):
    """Per-village counters kept in the rating transaction, so nothing has to scan households."""

    __tablename__ = "village_credit_stats"

    village_code: str = Field(max_length=12, primary_key=True)
    township_code: str = Field(max_length=9, index=True)
    rated: int = Field(default=0)
    credit: int = Field(default=0)
    is_credit_village: bool = Field(default=False)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Objection(SQLModel, table=True):
    """A farmer's objection to their rating (PIPL Art. 24), resolved by a regulator."""

    __tablename__ = "rating_objections"
    __table_args__ = (Index("ix_rating_objections_status_created", "status", "created_at"),)

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    household_id: uuid.UUID | None = Field(default=None, foreign_key="households.id", index=True)
    village_code: str | None = Field(default=None, max_length=12)
    reason: str = Field(max_length=1000)
    status: str = Field(default="open", max_length=16)  # open | resolved
    outcome: str | None = Field(default=None, max_length=16)  # upheld | dismissed
    resolution: str | None = Field(default=None, max_length=1000)
    resolved_by: uuid.UUID | None = Field(default=None)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_field()
