"""Supervision statistics: per-village counters kept in the writing transactions, and dated snapshots.

The counters exist so that the coverage table never scans households or certificates:
- `village_household_stats`: household records and linked (app) households per village or community;
- `village_certificate_stats` (per village and expiry date), `village_certificate_month_stats` (per village and
  expiry month) and `village_certificate_year_stats` (per village and expiry year): current, live
  (issued/active/frozen) certificates. A live certificate is held until `expires_on` (expiry is a date, not an
  event), so a village's holders today are its year rows after this year, its month rows of this year after
  this month, and its day rows of this month after today: exact without any sweep, and a read of at most
  ~4 + 11 + 31 rows per village whatever the spread of issue dates.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field, money_field


class VillageHouseholdStats(SQLModel, table=True):
    __tablename__ = "village_household_stats"

    village_code: str = Field(max_length=12, primary_key=True)
    township_code: str = Field(max_length=9)
    county_code: str = Field(max_length=6)
    households: int = Field(default=0)
    linked: int = Field(default=0)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class VillageCertificateStats(SQLModel, table=True):
    __tablename__ = "village_certificate_stats"
    __table_args__ = (
        # "holders today": the rows whose certificates have not expired yet
        Index("ix_village_certificate_stats_expires_village", "expires_on", "village_code"),
    )

    village_code: str = Field(max_length=12, primary_key=True)
    expires_on: date = Field(primary_key=True)
    holders: int = Field(default=0)


class VillageCertificateMonthStats(SQLModel, table=True):
    __tablename__ = "village_certificate_month_stats"
    __table_args__ = (
        # the rest of this year's months
        Index("ix_village_certificate_month_stats_month_village", "expires_month", "village_code"),
    )

    village_code: str = Field(max_length=12, primary_key=True)
    expires_month: date = Field(primary_key=True)  # the first day of the expiry month
    holders: int = Field(default=0)


class VillageCertificateYearStats(SQLModel, table=True):
    __tablename__ = "village_certificate_year_stats"

    village_code: str = Field(max_length=12, primary_key=True)
    expires_year: int = Field(primary_key=True)
    holders: int = Field(default=0)


class CoverageSnapshot(SQLModel, table=True):
    """One region's own coverage figures on one day (China time); ratios are derived from the counts."""

    __tablename__ = "coverage_snapshots"
    __table_args__ = (
        UniqueConstraint("snapshot_date", "region_code", name="uq_coverage_snapshots_date_region"),
        # a region's trend, and its children's trends
        Index("ix_coverage_snapshots_region_date", "region_code", "snapshot_date"),
        Index("ix_coverage_snapshots_parent_date", "parent_code", "snapshot_date", "region_code"),
    )

    id: uuid.UUID = id_field()
    snapshot_date: date
    region_code: str = Field(max_length=12)
    parent_code: str | None = Field(default=None, max_length=12)
    name: str = Field(max_length=64)
    level: str = Field(max_length=16)
    households: int
    linked_households: int
    certificate_households: int
    villages: int
    villages_with_station: int
    loan_balance_fen: int = money_field()
    overdue_balance_fen: int = money_field()
    credit_villages: int
    credit_townships: int
    isolated_villages: int
    isolated: bool
    created_at: datetime = created_field()
