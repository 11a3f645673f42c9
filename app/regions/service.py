"""Regions: look-ups for every domain, and the CSV import."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import audit
from app.core.errors import NotFound
from app.core.pagination import after, decode_cursor, page_of
from app.regions.models import Level as Level  # the levels, for the domains that check one
from app.regions.models import Region
from app.regions.schemas import RegionImportResult, RegionImportRow

LEVELS = {lvl.value for lvl in Level}
CODE_LEN = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12, "community": 12}


def display_name(name: str) -> str:
    """Villages' official names end in 村民委员会/村委会/居民委员会; the app shows the short form."""
    for suffix in ("村民委员会", "村委会", "居民委员会", "社区居委会", "居委会"):
        if name.endswith(suffix) and len(name) > len(suffix):
            short = name[: -len(suffix)]
            return short + ("村" if "村" in suffix else "社区" if suffix == "社区居委会" else "")
    return name


async def get(session: AsyncSession, code: str) -> Region:
    region = await session.get(Region, code)
    if region is None:
        raise NotFound(("行政区划不存在", "No such region"))
    return region


async def find(session: AsyncSession, code: str) -> Region | None:
    return await session.get(Region, code)


async def names(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    """The stored name of each region of `codes` that exists (one query; none for no codes)."""
    wanted = set(codes)
    if not wanted:
        return {}
    rows = await session.execute(select(Region.code, Region.name).where(col(Region.code).in_(wanted)))
    return {c: n for c, n in rows.all()}


async def of_level(session: AsyncSession, codes: Iterable[str], level: str) -> set[str]:
    """The codes of `codes` that are regions of `level` (one query; none for no codes)."""
    wanted = set(codes)
    if not wanted:
        return set()
    rows = await session.execute(select(Region.code).where(col(Region.code).in_(wanted), Region.level == level))
    return {c for (c,) in rows.all()}


async def list_children(
    session: AsyncSession, parent: str | None, level: str | None, limit: int, cursor: str | None
) -> tuple[list[Region], str | None]:
    stmt = select(Region)
    if parent is not None:
        stmt = stmt.where(Region.parent_code == parent)
    elif level is None:
        stmt = stmt.where(Region.parent_code.is_(None))
    if level is not None:
        stmt = stmt.where(Region.level == level)
    if cursor is not None:
        stmt = stmt.where(after([(Region.code, False)], decode_cursor(cursor, [str])))
    rows = (await session.execute(stmt.order_by(Region.code).limit(limit + 1))).scalars().all()
    return page_of(rows, limit, lambda r: [r.code])


def ancestors_of(code: str) -> list[str]:
    """Codes of the county, township (by prefix) a 12-digit code belongs to, from the code itself."""
    out = []
    if len(code) >= 6:
        out.append(code[:6])
    if len(code) >= 9:
        out.append(code[:9])
    return out


def parse_csv(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]


def _validate(row: dict[str, str], known: set[str]) -> list[dict[str, str]]:
    errs = []
    code, level, parent = row.get("code", ""), row.get("level", ""), row.get("parent_code", "")
    if not code.isdigit() or level not in LEVELS or len(code) != CODE_LEN.get(level, -1):
        errs.append({"field": "code", "code": "invalid", "message": "区划代码或级别无效"})
    if not row.get("name") or len(row.get("name", "")) > 64:
        errs.append({"field": "name", "code": "invalid", "message": "名称不能为空且不超过 64 字"})
    if parent and (parent not in known or not code.startswith(parent)):
        errs.append({"field": "parent_code", "code": "invalid", "message": "上级区划不存在或不匹配"})
    for k in ("households", "population"):
        v = row.get(k)
        if v and (not v.isdigit() or len(v) > 9):
            errs.append({"field": k, "code": "invalid", "message": "须为非负整数"})
    return errs


async def import_rows(session: AsyncSession, rows: Sequence[dict[str, str]]) -> RegionImportResult:
    """Upsert rows (parents before children); one bad row never loses the good ones."""
    existing = {
        code: (name, level, parent, hh, pop)
        for code, name, level, parent, hh, pop in (
            await session.execute(
                select(
                    Region.code,
                    Region.name,
                    Region.level,
                    Region.parent_code,
                    Region.households,
                    Region.population,
                )
            )
        ).all()
    }
    known = set(existing)
    report: list[RegionImportRow] = []
    to_insert: list[dict[str, object]] = []
    to_update: list[dict[str, object]] = []
    for line, row in enumerate(rows, start=1):
        errs = _validate(row, known)
        if errs:
            report.append(RegionImportRow(line=line, ok=False, errors=errs))
            continue
        values = {
            "code": row["code"],
            "name": row["name"],
            "level": row["level"],
            "parent_code": row.get("parent_code") or None,
            "households": int(row["households"]) if row.get("households") else None,
            "population": int(row["population"]) if row.get("population") else None,
        }
        report.append(RegionImportRow(line=line, ok=True))
        old = existing.get(row["code"])
        if old is None:
            to_insert.append(values)
        else:
            hh = values["households"] if values["households"] is not None else old[3]
            pop = values["population"] if values["population"] is not None else old[4]
            values["households"], values["population"] = hh, pop
            if (values["name"], values["level"], values["parent_code"], hh, pop) != old:
                to_update.append(values)
        known.add(row["code"])
        existing[row["code"]] = (
            values["name"],
            values["level"],
            values["parent_code"],
            values["households"],
            values["population"],
        )
    for chunk in _chunks(to_insert, 1000):
        await session.execute(insert(Region), chunk)
    for chunk in _chunks(to_update, 1000):
        await session.execute(update(Region), chunk)
    rejected = sum(1 for r in report if not r.ok)
    await audit.record(
        session,
        action="regions.import",
        object_type="regions",
        object_id="tree",
        after={"created": len(to_insert), "updated": len(to_update), "rejected": rejected},
    )
    return RegionImportResult(created=len(to_insert), updated=len(to_update), rejected=rejected, rows=report)


def _chunks(items: list[dict[str, object]], n: int) -> Iterable[list[dict[str, object]]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]
