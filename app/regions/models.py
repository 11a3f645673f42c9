"""The administrative division tree (GB/T 2260 and the 12-digit statistical codes)."""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import Field, SQLModel


class Level(StrEnum):
    province = "province"
    city = "city"
    county = "county"
    township = "township"
    village = "village"
    community = "community"


class Region(SQLModel, table=True):
    __tablename__ = "regions"

    code: str = Field(max_length=12, primary_key=True)
    name: str = Field(max_length=64)
    level: str = Field(max_length=16, index=True)
    parent_code: str | None = Field(default=None, max_length=12, index=True)
    # Official counts where the import gives them; coverage ratios prefer them to counted records.
    households: int | None = Field(default=None)
    population: int | None = Field(default=None)
