from __future__ import annotations

from datetime import date

from pydantic import BaseModel

# The coverage item's fields, in API.md's order (also the CSV's columns).
ITEM_FIELDS = (
    "code",
    "name",
    "households",
    "linked_households",
    "app_coverage",
    "certificate_households",
    "certificate_coverage",
    "villages",
    "villages_with_station",
    "station_coverage",
    "loan_balance_fen",
    "overdue_balance_fen",
    "overdue_ratio",
    "credit_villages",
    "credit_townships",
    "isolated_villages",
    "isolated",
    "compensation_balance_fen",
    "bridge_balance_fen",
    "fund_below_minimum",
)


class StatsRegionRef(BaseModel):
    code: str
    name: str
    level: str


# A name of its own in the OpenAPI document (app.demands has another RegionRef).
RegionRef = StatsRegionRef


class CoverageItem(BaseModel):
    """One child region. Ratios are fractions 0–1 rounded half-up to 4 places (null when the denominator is 0)."""

    code: str
    name: str
    households: int
    linked_households: int
    app_coverage: float | None
    certificate_households: int
    certificate_coverage: float | None
    villages: int
    villages_with_station: int
    station_coverage: float | None
    loan_balance_fen: int
    overdue_balance_fen: int
    overdue_ratio: float | None
    credit_villages: int
    credit_townships: int
    isolated_villages: int
    isolated: bool
    # Risk control, on county items only (null elsewhere): the county's funds and whether one is below its minimum.
    compensation_balance_fen: int | None = None
    bridge_balance_fen: int | None = None
    fund_below_minimum: bool | None = None


class CoveragePublic(BaseModel):
    region: RegionRef
    items: list[CoverageItem]


class SnapshotPublic(CoverageItem):
    """A region's own figures on one day (China time)."""

    snapshot_date: date
    level: str
    parent_code: str | None
