"""Draw-downs on a credit certificate (用信), their repayments (还信), per-village loan figures for credit
isolation, and the lending policy as data."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field, money_field


class DrawdownStatus(StrEnum):
    submitted = "submitted"
    approved = "approved"
    disbursed = "disbursed"
    overdue = "overdue"
    repaid = "repaid"
    written_off = "written_off"
    rejected = "rejected"
    cancelled = "cancelled"
    expired = "expired"


# Statuses whose outstanding principal is lent money (counted in loan balances).
LENT = (DrawdownStatus.disbursed, DrawdownStatus.overdue, DrawdownStatus.written_off)
# Statuses whose outstanding principal counts as overdue without looking at the date.
FLAGGED_OVERDUE = (DrawdownStatus.overdue, DrawdownStatus.written_off)
# Statuses whose amount is held in the certificate's pending_fen.
PENDING = (DrawdownStatus.submitted, DrawdownStatus.approved)


class Drawdown(SQLModel, table=True):
    __tablename__ = "drawdowns"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("outstanding_fen >= 0 AND outstanding_fen <= amount_fen", name="outstanding_in_range"),
        # /me/drawdowns, newest first
        Index("ix_drawdowns_user_created", "user_id", "created_at", "id"),
        # the lead bank's queue, optionally by status
        Index("ix_drawdowns_bank_created", "bank_id", "created_at", "id"),
        Index("ix_drawdowns_bank_status_created", "bank_id", "status", "created_at", "id"),
        # "does this borrower have an overdue loan?" and pending look-ups per certificate
        Index("ix_drawdowns_household_status", "household_id", "status", "due_on"),
        Index("ix_drawdowns_certificate_status", "certificate_id", "status"),
        # loans past due_on with no event yet, per area (credit isolation without scanning the city)
        Index("ix_drawdowns_village_status_due", "village_code", "status", "due_on"),
        Index("ix_drawdowns_township_status_due", "township_code", "status", "due_on"),
        Index("ix_drawdowns_county_status_due", "county_code", "status", "due_on"),
        # the worker's sweeps: stale approvals, loans passing due_on
        Index("ix_drawdowns_status_approved_on", "status", "approved_on"),
        Index("ix_drawdowns_status_due", "status", "due_on"),
    )

    id: uuid.UUID = id_field()
    certificate_id: uuid.UUID = Field(foreign_key="certificates.id")
    household_id: uuid.UUID = Field(foreign_key="households.id")
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    # The lender of record: the certificate's lead bank when the draw-down was submitted.
    bank_id: uuid.UUID = Field(foreign_key="banks.id")
    village_code: str = Field(max_length=12)
    township_code: str = Field(max_length=9)
    county_code: str = Field(max_length=6)
    amount_fen: int = money_field()
    outstanding_fen: int = money_field(default=0)
    term_months: int
    purpose: str = Field(max_length=32)
    repayment_method: str = Field(max_length=32)
    annual_rate_bp: int | None = Field(default=None)
    rate_cap_bp: int  # the certificate's cap when submitted (the schedule's estimate before approval)
    status: str = Field(max_length=16)
    submitted_on: date
    approved_on: date | None = Field(default=None)
    disbursed_on: date | None = Field(default=None)
    due_on: date | None = Field(default=None)
    extended_months: int = Field(default=0)
    extension_count: int = Field(default=0)
    renewed_from_id: uuid.UUID | None = Field(default=None, foreign_key="drawdowns.id")
    renewed_to_id: uuid.UUID | None = Field(default=None, foreign_key="drawdowns.id")
    reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_field()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Repayment(SQLModel, table=True):
    __tablename__ = "drawdown_repayments"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_drawdown_repayments_drawdown", "drawdown_id", "paid_on"),
    )

    id: uuid.UUID = id_field()
    drawdown_id: uuid.UUID = Field(foreign_key="drawdowns.id")
    amount_fen: int = money_field()
    paid_on: date
    created_at: datetime = created_field()


class AreaLoanStat(SQLModel, table=True):
    """Per-village loan figures, changed in the transaction of every money or status change.

    `outstanding_fen`: principal outstanding of disbursed, overdue and written-off loans in the village.
    `overdue_fen`: the part of it whose loan is flagged overdue or written off. Loans that passed due_on with no
    event yet are added at read time by an indexed query (see isolation.py).
    """

    __tablename__ = "area_loan_stats"
    __table_args__ = (CheckConstraint("overdue_fen >= 0 AND overdue_fen <= outstanding_fen", name="figures_in_range"),)

    village_code: str = Field(max_length=12, primary_key=True)
    township_code: str = Field(max_length=9, index=True)
    county_code: str = Field(max_length=6, index=True)
    outstanding_fen: int = money_field(default=0)
    overdue_fen: int = money_field(default=0)


class DrawdownPolicy(SQLModel, table=True):
    """Lending policy as data (DOMAIN.md "policy default"): one row, id 1; defaults apply when it is absent."""

    __tablename__ = "drawdown_policy"

    id: int = Field(default=1, primary_key=True)
    min_term_months: int = Field(default=1)
    max_term_months: int = Field(default=36)
    # Credit isolation lines in basis points of the overdue ratio (seed: village 5%, township 3%).
    village_isolation_bp: int = Field(default=500)
    township_isolation_bp: int = Field(default=300)
    approval_valid_days: int = Field(default=15)
    # 展期 / 续贷 for registered-poor households (poverty microcredit).
    extension_max_months: int = Field(default=12)
    extensions_allowed: int = Field(default=1)
    renewal_registered_poor_only: bool = Field(default=True)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
