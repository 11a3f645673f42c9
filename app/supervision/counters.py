"""Moving the per-village supervision counters, in the caller's transaction.

Called from the code paths that change what they count: household creation and village changes and certificate
derivations (`app.credit.rating_updates._after_rating`) and unlinking (`app.credit.service.unlink`), announced
as the signals `credit.households_changed` and `credit.certificate_holders_changed`; linking (the signal
`credit.household_linked`); and the demo seeders. Upserts run in sorted key order so that two transactions
touching the same villages lock their rows in the same order. Nothing here imports another domain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import hooks
from app.core.db import utcnow
from app.supervision.models import (
    VillageCertificateMonthStats,
    VillageCertificateStats,
    VillageCertificateYearStats,
    VillageHouseholdStats,
)

LIVE = ("issued", "active", "frozen")


def certificate_key(cert: Any) -> date | None:
    """The expiry date a certificate is counted under, or None when it does not count (not current, not live)."""
    if cert is None or not cert.is_current or cert.status not in LIVE:
        return None
    expires: date = cert.expires_on
    return expires


def _insert(session: AsyncSession, table: Any) -> Any:
    return (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)


async def move_households(session: AsyncSession, deltas: Mapping[str, tuple[int, int]]) -> None:
    """Add (households, linked) per village code."""
    rows = [
        {
            "village_code": code,
            "township_code": code[:9],
            "county_code": code[:6],
            "households": d[0],
            "linked": d[1],
            "updated_at": utcnow(),
        }
        for code, d in sorted(deltas.items())
        if d != (0, 0)
    ]
    if not rows:
        return
    table = VillageHouseholdStats.__table__  # type: ignore[attr-defined]
    stmt = _insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["village_code"],
        set_={
            "households": table.c.households + stmt.excluded.households,
            "linked": table.c.linked + stmt.excluded.linked,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    for i in range(0, len(rows), 1000):
        await session.execute(stmt, rows[i : i + 1000])


@hooks.subscribe("credit.household_linked")
async def _household_linked(session: AsyncSession, *, user_id: Any, household: Any) -> None:
    """An account linked its household (`app.credit.linking`): one more linked household in its village."""
    await move_households(session, {household.village_code: (0, 1)})


async def move_certificates(session: AsyncSession, deltas: Mapping[tuple[str, date], int]) -> None:
    """Add holders per (village code, expiry date), to the day rows and the month rows."""
    months: dict[tuple[str, date], int] = defaultdict(int)
    years: dict[tuple[str, int], int] = defaultdict(int)
    for (code, expires), n in deltas.items():
        months[(code, expires.replace(day=1))] += n
        years[(code, expires.year)] += n
    await _add_holders(session, VillageCertificateStats, "expires_on", deltas)
    await _add_holders(session, VillageCertificateMonthStats, "expires_month", months)
    await _add_holders(session, VillageCertificateYearStats, "expires_year", years)


async def _add_holders(session: AsyncSession, model: Any, key: str, deltas: Mapping[tuple[str, Any], int]) -> None:
    rows = [{"village_code": code, key: d, "holders": n} for (code, d), n in sorted(deltas.items()) if n != 0]
    if not rows:
        return
    table = model.__table__
    stmt = _insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["village_code", key],
        set_={"holders": table.c.holders + stmt.excluded.holders},
    )
    for i in range(0, len(rows), 1000):
        await session.execute(stmt, rows[i : i + 1000])


REBUILD_SQL = (
    "DELETE FROM village_household_stats",
    "DELETE FROM village_certificate_stats",
    "DELETE FROM village_certificate_month_stats",
    "DELETE FROM village_certificate_year_stats",
    "INSERT INTO village_household_stats (village_code, township_code, county_code, households, linked) "
    "SELECT village_code, MIN(township_code), MIN(county_code), COUNT(*), COUNT(user_id) "
    "FROM households GROUP BY village_code",
    "INSERT INTO village_certificate_stats (village_code, expires_on, holders) "
    "SELECT h.village_code, c.expires_on, COUNT(*) FROM certificates c JOIN households h ON h.id = c.household_id "
    "WHERE c.is_current AND c.status IN ('issued', 'active', 'frozen') GROUP BY h.village_code, c.expires_on",
)


BUCKET_ROWS_SQL = {
    "postgresql": (
        "INSERT INTO village_certificate_month_stats (village_code, expires_month, holders) "
        "SELECT village_code, CAST(date_trunc('month', expires_on) AS date), SUM(holders) "
        "FROM village_certificate_stats GROUP BY village_code, CAST(date_trunc('month', expires_on) AS date)",
        "INSERT INTO village_certificate_year_stats (village_code, expires_year, holders) "
        "SELECT village_code, CAST(EXTRACT(YEAR FROM expires_on) AS integer), SUM(holders) "
        "FROM village_certificate_stats GROUP BY village_code, CAST(EXTRACT(YEAR FROM expires_on) AS integer)",
    ),
    "sqlite": (
        "INSERT INTO village_certificate_month_stats (village_code, expires_month, holders) "
        "SELECT village_code, date(expires_on, 'start of month'), SUM(holders) "
        "FROM village_certificate_stats GROUP BY village_code, date(expires_on, 'start of month')",
        "INSERT INTO village_certificate_year_stats (village_code, expires_year, holders) "
        "SELECT village_code, CAST(strftime('%Y', expires_on) AS integer), SUM(holders) "
        "FROM village_certificate_stats GROUP BY village_code, CAST(strftime('%Y', expires_on) AS integer)",
    ),
}


async def rebuild(session: AsyncSession) -> None:
    """Recount everything from the rows (the migration's backfill; bulk loads that bypass the app)."""
    for sql in (*REBUILD_SQL, *BUCKET_ROWS_SQL[session.get_bind().dialect.name]):
        await session.execute(text(sql))


# ---- what credit announces (app.core.hooks; subscribed through app.wiring) -----------------------------------


@hooks.subscribe("credit.households_changed")
async def _households_changed(session: AsyncSession, *, deltas: Mapping[str, tuple[int, int]]) -> None:
    """Households created, moved between villages, linked or unlinked: (households, linked) per village."""
    await move_households(session, deltas)


@hooks.subscribe("credit.certificate_holders_changed")
async def _certificate_holders_changed(session: AsyncSession, *, deltas: Mapping[tuple[str, date], int]) -> None:
    """Households that started or stopped holding a live certificate, per (village, expiry date)."""
    await move_certificates(session, deltas)
