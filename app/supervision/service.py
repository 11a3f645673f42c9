"""Supervision statistics ("三个全覆盖"): the coverage table per child region, and dated snapshots.

Every figure comes from small per-village tables, never from households, certificates or draw-downs:
household and certificate counters (this domain, kept by the writing transactions), the credit domain's
village rating counters (judged against the current thresholds), the draw-down domain's per-village loan
figures (plus its indexed read of loans past due), and the stations. Villages are summed up to the
requested children in Python: a few thousand rows for the whole city.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import audit
from app.core.dates import china_today
from app.core.errors import NotFound
from app.core.pagination import after, decode_cursor, order_by, page_of
from app.core.principal import Principal, Role
from app.credit import areas
from app.credit.rating_engine import is_credit_area
from app.drawdowns import isolation
from app.drawdowns.isolation import AreaFigures
from app.regions.models import Level, Region
from app.regions.service import display_name
from app.risk import service as risk
from app.stations import service as stations
from app.supervision.models import (
    CoverageSnapshot,
    VillageCertificateMonthStats,
    VillageCertificateStats,
    VillageCertificateYearStats,
    VillageHouseholdStats,
)
from app.supervision.schemas import CoverageItem, CoveragePublic, RegionRef, SnapshotPublic

CITY = "4117"
FOUR = Decimal("0.0001")


def ratio(part: int, whole: int) -> float | None:
    """part / whole as a fraction rounded half-up to 4 places with Decimal; None when whole is 0."""
    if whole <= 0:
        return None
    return float((Decimal(part) / Decimal(whole)).quantize(FOUR, rounding=ROUND_HALF_UP))


@dataclass
class Figures:
    code: str
    name: str
    level: str
    parent_code: str | None
    households: int = 0
    linked_households: int = 0
    certificate_households: int = 0
    villages: int = 0
    villages_with_station: int = 0
    loan_balance_fen: int = 0
    overdue_balance_fen: int = 0
    credit_villages: int = 0
    credit_townships: int = 0
    isolated_villages: int = 0
    isolated: bool = False

    def item(self) -> CoverageItem:
        return CoverageItem(
            code=self.code,
            name=self.name,
            households=self.households,
            linked_households=self.linked_households,
            app_coverage=ratio(self.linked_households, self.households),
            certificate_households=self.certificate_households,
            certificate_coverage=ratio(self.certificate_households, self.households),
            villages=self.villages,
            villages_with_station=self.villages_with_station,
            station_coverage=ratio(self.villages_with_station, self.villages),
            loan_balance_fen=self.loan_balance_fen,
            overdue_balance_fen=self.overdue_balance_fen,
            overdue_ratio=ratio(self.overdue_balance_fen, self.loan_balance_fen),
            credit_villages=self.credit_villages,
            credit_townships=self.credit_townships,
            isolated_villages=self.isolated_villages,
            isolated=self.isolated,
        )


# ---- scope -------------------------------------------------------------------------------------------------


def _scope(p: Principal) -> str | None:
    """A regulator sees its region_code and below (none set: the whole city); an admin sees everything."""
    if p.role == Role.regulator:
        return p.region_code or CITY
    return None


async def region_in_scope(session: AsyncSession, p: Principal, code: str | None) -> Region:
    scope = _scope(p)
    code = code or scope or CITY
    if scope is not None and not code.startswith(scope):
        raise NotFound(("行政区划不存在", "No such region"))
    region = await session.get(Region, code)
    if region is None:
        raise NotFound(("行政区划不存在", "No such region"))
    return region


# ---- figures -----------------------------------------------------------------------------------------------


async def compute(
    session: AsyncSession, top: str, targets: Sequence[Region], today: date | None = None
) -> list[Figures]:
    """Figures of each target region (each inside `top`), from one read of each per-village table under `top`."""
    today = today or china_today()
    tree = (
        await session.execute(
            select(Region.code, Region.level, Region.parent_code, Region.households).where(
                col(Region.code).startswith(top)
            )
        )
    ).all()
    leaf_levels = (Level.village, Level.community)
    leaves = [code for code, level, _, _ in tree if level in leaf_levels]
    is_village = {code: level == Level.village for code, level, _, _ in tree if level in leaf_levels}

    hh = {
        code: (n, linked)
        for code, n, linked in (
            await session.execute(
                select(
                    VillageHouseholdStats.village_code, VillageHouseholdStats.households, VillageHouseholdStats.linked
                ).where(col(VillageHouseholdStats.village_code).startswith(top))
            )
        ).all()
    }
    # Certificates held today: expiring in a later year (year rows), later this year (month rows), or later
    # this month (day rows).
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    next_year = date(today.year + 1, 1, 1)
    holders: dict[str, int] = defaultdict(int)
    parts: list[tuple[Any, Any]] = [
        (VillageCertificateYearStats, col(VillageCertificateYearStats.expires_year) > today.year),
        (
            VillageCertificateMonthStats,
            (col(VillageCertificateMonthStats.expires_month) > month_start)
            & (col(VillageCertificateMonthStats.expires_month) < next_year),
        ),
        (
            VillageCertificateStats,
            (col(VillageCertificateStats.expires_on) > today) & (col(VillageCertificateStats.expires_on) < next_month),
        ),
    ]
    for model, when in parts:
        rows = await session.execute(
            select(model.village_code, func.sum(model.holders))
            .where(when, col(model.village_code).startswith(top))
            .group_by(model.village_code)
        )
        for code, n in rows.all():
            holders[code] += int(n)
    with_station = await stations.villages_with_station(session, top)
    credit_counts = await areas.village_credit_counts(session, top)
    v_ratio = await areas.threshold(session, "credit_village_ratio")
    t_ratio = await areas.threshold(session, "credit_township_ratio")
    loans = await isolation.village_figures(session, top, today)
    policy = await isolation.get_policy(session)

    credit_village = {
        code
        for code, (rated, credit) in credit_counts.items()
        if is_village.get(code) and is_credit_area(credit, rated, v_ratio)
    }
    # Townships: ≥ 65 % of ALL their village-level regions are credit villages (communities excluded).
    villages_in: dict[str, int] = defaultdict(int)
    credit_in: dict[str, int] = defaultdict(int)
    for code in leaves:
        if is_village[code]:
            villages_in[code[:9]] += 1
            credit_in[code[:9]] += code in credit_village
    credit_township = {t for t, n in villages_in.items() if is_credit_area(credit_in[t], n, t_ratio)}

    isolated_village = {
        code for code, fig in loans.items() if is_village.get(code) and fig.at_or_over(policy.village_isolation_bp)
    }

    out: list[Figures] = []
    by_len: dict[int, dict[str, Figures]] = defaultdict(dict)
    for r in targets:
        f = Figures(r.code, display_name(r.name), r.level, r.parent_code)
        out.append(f)
        by_len[len(r.code)][r.code] = f
    for code in leaves:
        _, linked = hh.get(code, (0, 0))
        own_loans = loans.get(code)
        for length, targets_of_len in by_len.items():
            f_or_none = targets_of_len.get(code[:length])
            if f_or_none is None:
                continue
            f = f_or_none
            f.linked_households += linked
            f.certificate_households += holders.get(code, 0)
            if own_loans is not None:
                f.loan_balance_fen += own_loans.loan_balance_fen
                f.overdue_balance_fen += own_loans.overdue_balance_fen
            if is_village[code]:
                f.villages += 1
                f.villages_with_station += code in with_station
                f.credit_villages += code in credit_village
                f.isolated_villages += code in isolated_village
    for t in credit_township:
        for length, targets_of_len in by_len.items():
            if length <= 9 and (f_t := targets_of_len.get(t[:length])) is not None:
                f_t.credit_townships += 1
    households = _households(tree, hh)
    for f in out:
        f.households = households.get(f.code, 0)
        # A village (or community) against the village line, a township against the township line (its figures
        # are the sum of its villages', as the draw-down domain computes them); counties are never isolated.
        line = {12: policy.village_isolation_bp, 9: policy.township_isolation_bp}.get(len(f.code))
        if line is not None:
            f.isolated = AreaFigures(f.code, f.loan_balance_fen, f.overdue_balance_fen).at_or_over(line)
    return out


def _households(tree: Sequence[Any], records: dict[str, tuple[int, int]]) -> dict[str, int]:
    """Households per region: its own official count where the regions import gave one; else, for a village or
    community, its household records, and for a wider region the sum of its children's households (so official
    counts given only for some villages still count in their township and county)."""
    official = {code: hh for code, _, _, hh in tree}
    children: dict[str, list[str]] = defaultdict(list)
    for code, _, parent, _ in tree:
        if parent is not None:
            children[parent].append(code)
    out: dict[str, int] = {}
    for code, level, _, _ in sorted(tree, key=lambda r: -len(r[0])):  # children before parents
        own = official[code]
        if own is not None:
            out[code] = own
        elif level in (Level.village, Level.community):
            out[code] = records.get(code, (0, 0))[0]
        else:
            out[code] = sum(out.get(c, 0) for c in children[code])
    return out


async def coverage(session: AsyncSession, p: Principal, region_code: str | None) -> CoveragePublic:
    """One item per child region. A village or community has no children: its items are empty."""
    region = await region_in_scope(session, p, region_code)
    children = list(
        (await session.execute(select(Region).where(Region.parent_code == region.code).order_by(Region.code)))
        .scalars()
        .all()
    )
    figures = await compute(session, region.code, children) if children else []
    items = [f.item() for f in figures]
    funds = await risk.county_figures(session, [f.code for f in figures if f.level == Level.county])
    items = [i.model_copy(update=funds[i.code]) if i.code in funds else i for i in items]
    return CoveragePublic(
        region=RegionRef(code=region.code, name=display_name(region.name), level=region.level),
        items=items,
    )


# ---- snapshots ---------------------------------------------------------------------------------------------


async def take_snapshot(session: AsyncSession, day: date | None = None, top: str = CITY) -> int:
    """Store the figures of the city, every county and every township for `day` (China time), replacing any
    snapshot already taken that day. Returns the number of regions stored."""
    day = day or china_today()
    targets = list(
        (
            await session.execute(
                select(Region)
                .where(
                    or_(
                        Region.code == top,
                        (col(Region.code).startswith(top)) & col(Region.level).in_([Level.county, Level.township]),
                    )
                )
                .order_by(Region.code)
            )
        )
        .scalars()
        .all()
    )
    figures = await compute(session, top, targets, day)
    await session.execute(delete(CoverageSnapshot).where(CoverageSnapshot.snapshot_date == day))
    rows = [
        {
            "snapshot_date": day,
            "region_code": f.code,
            "parent_code": f.parent_code,
            "name": f.name[:64],
            "level": f.level,
            "households": f.households,
            "linked_households": f.linked_households,
            "certificate_households": f.certificate_households,
            "villages": f.villages,
            "villages_with_station": f.villages_with_station,
            "loan_balance_fen": f.loan_balance_fen,
            "overdue_balance_fen": f.overdue_balance_fen,
            "credit_villages": f.credit_villages,
            "credit_townships": f.credit_townships,
            "isolated_villages": f.isolated_villages,
            "isolated": f.isolated,
        }
        for f in figures
    ]
    for chunk in _chunks(rows, 500):
        await session.execute(insert(CoverageSnapshot), chunk)
    await audit.record(
        session,
        action="stats.snapshot",
        object_type="coverage_snapshot",
        object_id=day.isoformat(),
        after={"regions": len(rows)},
    )
    return len(rows)


def _chunks(items: list[dict[str, object]], n: int) -> Iterable[list[dict[str, object]]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _snapshot_public(s: CoverageSnapshot) -> SnapshotPublic:
    f = Figures(
        s.region_code, s.name, s.level, s.parent_code,
        households=s.households, linked_households=s.linked_households,
        certificate_households=s.certificate_households, villages=s.villages,
        villages_with_station=s.villages_with_station, loan_balance_fen=s.loan_balance_fen,
        overdue_balance_fen=s.overdue_balance_fen, credit_villages=s.credit_villages,
        credit_townships=s.credit_townships, isolated_villages=s.isolated_villages, isolated=s.isolated,
    )  # fmt: skip
    return SnapshotPublic(
        **f.item().model_dump(), snapshot_date=s.snapshot_date, level=s.level, parent_code=s.parent_code
    )


async def list_snapshots(
    session: AsyncSession,
    p: Principal,
    *,
    region_code: str | None,
    since: date | None,
    until: date | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[SnapshotPublic], str | None]:
    """The region's own rows and its children's, oldest day first (a trend), keyset-paginated."""
    region = await region_in_scope(session, p, region_code)
    keys = [(CoverageSnapshot.snapshot_date, False), (CoverageSnapshot.region_code, False)]
    stmt = select(CoverageSnapshot).where(
        or_(CoverageSnapshot.region_code == region.code, CoverageSnapshot.parent_code == region.code)
    )
    if since is not None:
        stmt = stmt.where(col(CoverageSnapshot.snapshot_date) >= since)
    if until is not None:
        stmt = stmt.where(col(CoverageSnapshot.snapshot_date) <= until)
    if cursor is not None:
        stmt = stmt.where(after(keys, decode_cursor(cursor, [date.fromisoformat, str])))
    rows = (await session.execute(stmt.order_by(*order_by(keys)).limit(limit + 1))).scalars().all()
    page, nxt = page_of(rows, limit, lambda r: [r.snapshot_date, r.region_code])
    return [_snapshot_public(r) for r in page], nxt
