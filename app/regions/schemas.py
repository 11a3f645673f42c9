from __future__ import annotations

from pydantic import BaseModel


class RegionPublic(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None
    households: int | None = None


class RegionImportRow(BaseModel):
    line: int
    ok: bool
    errors: list[dict[str, str]] = []


class RegionImportResult(BaseModel):
    created: int
    updated: int
    rejected: int
    rows: list[RegionImportRow]
