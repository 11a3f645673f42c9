"""Credit villages and townships (seed: ≥ 70 % / ≥ 65 %, thresholds stored as policy data).

Credit isolation is the draw-down domain's (`app.drawdowns.isolation`: it keeps the loan figures).
Per-village counters (`village_credit_stats`) move in the same transaction as the rating changes that move them,
so nothing here ever scans households.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.db import utcnow
from app.credit.models import CreditSetting, VillageCreditStats
from app.credit.rating_engine import is_credit_area
from app.regions.models import Region

DEFAULT_THRESHOLDS = {"credit_village_ratio": Decimal("0.70"), "credit_township_ratio": Decimal("0.65")}


async def thresholds(session: AsyncSession) -> dict[str, Decimal]:
    """Both thresholds in one read, once per session (no API writes them)."""
    memo: dict[str, Decimal] | None = session.info.get("credit_thresholds")
    if memo is None:
        rows = await session.execute(
            select(CreditSetting.key, CreditSetting.value).where(col(CreditSetting.key).in_(list(DEFAULT_THRESHOLDS)))
        )
        memo = {**DEFAULT_THRESHOLDS, **{k: Decimal(v) for k, v in rows.all() if v is not None}}
        session.info["credit_thresholds"] = memo
    return memo


async def threshold(session: AsyncSession, key: str) -> Decimal:
    return (await thresholds(session))[key]


async def apply_deltas(session: AsyncSession, deltas: Mapping[str, tuple[int, int]]) -> None:
    """Add (rated, credit) deltas per village code and refresh each village's credit status."""
    deltas = {code: d for code, d in deltas.items() if d != (0, 0)}
    if not deltas:
        return
    ratio = await threshold(session, "credit_village_ratio")
    codes = sorted(deltas)
    now = utcnow()
    for i in range(0, len(codes), 500):
        chunk = codes[i : i + 500]
        rows = (
            await session.execute(
                select(VillageCreditStats.village_code, VillageCreditStats.rated, VillageCreditStats.credit)
                .where(col(VillageCreditStats.village_code).in_(chunk))
                .with_for_update()
            )
        ).all()
        have = {code: (rated, credit) for code, rated, credit in rows}
        new_rows, upd = [], []
        for code in chunk:
            d_rated, d_credit = deltas[code]
            if code in have:
                rated, credit = have[code][0] + d_rated, have[code][1] + d_credit
                upd.append(
                    {
                        "village_code": code,
                        "rated": rated,
                        "credit": credit,
                        "is_credit_village": is_credit_area(credit, rated, ratio),
                        "updated_at": now,
                    }
                )
            else:
                new_rows.append(
                    {
                        "village_code": code,
                        "township_code": code[:9],
                        "rated": d_rated,
                        "credit": d_credit,
                        "is_credit_village": is_credit_area(d_credit, d_rated, ratio),
                        "updated_at": now,
                    }
                )
        if new_rows:
            await session.execute(insert(VillageCreditStats), new_rows)
        if upd:
            await session.execute(update(VillageCreditStats), upd)


@dataclass(frozen=True)
class AreaStatus:
    code: str
    name: str
    is_credit: bool
    rated: int = 0
    credit: int = 0


async def village_status(session: AsyncSession, village_code: str) -> AreaStatus:
    from app.regions.service import display_name

    region = await session.get(Region, village_code)
    stats = await session.get(VillageCreditStats, village_code)
    ratio = await threshold(session, "credit_village_ratio")
    rated, credit = (stats.rated, stats.credit) if stats else (0, 0)
    return AreaStatus(
        code=village_code,
        name=display_name(region.name) if region else village_code,
        is_credit=is_credit_area(credit, rated, ratio),
        rated=rated,
        credit=credit,
    )


async def township_status(session: AsyncSession, township_code: str) -> AreaStatus:
    """Credit township: ≥ 65 % of ALL its village-level regions (communities excluded) are credit villages."""
    region = await session.get(Region, township_code)
    villages = (
        (
            await session.execute(
                select(Region.code).where(Region.parent_code == township_code, Region.level == "village")
            )
        )
        .scalars()
        .all()
    )
    v_ratio = await threshold(session, "credit_village_ratio")
    t_ratio = await threshold(session, "credit_township_ratio")
    credit_villages = 0
    if villages:
        rows = (
            await session.execute(
                select(VillageCreditStats.rated, VillageCreditStats.credit).where(
                    col(VillageCreditStats.village_code).in_(list(villages))
                )
            )
        ).all()
        credit_villages = sum(1 for rated, credit in rows if is_credit_area(credit, rated, v_ratio))
    return AreaStatus(
        code=township_code,
        name=region.name if region else township_code,
        is_credit=is_credit_area(credit_villages, len(villages), t_ratio),
        rated=len(villages),
        credit=credit_villages,
    )


async def village_and_township_status(session: AsyncSession, village_code: str) -> tuple[AreaStatus, AreaStatus]:
    """`village_status` and `township_status` in one read: the two regions and every village of the township
    with its counters."""
    from app.regions.service import display_name

    township_code = village_code[:9]
    rows = (
        await session.execute(
            select(
                Region.code,
                Region.name,
                Region.level,
                Region.parent_code,
                VillageCreditStats.rated,
                VillageCreditStats.credit,
            )
            .outerjoin(VillageCreditStats, VillageCreditStats.village_code == Region.code)
            .where(
                or_(
                    col(Region.code).in_([village_code, township_code]),
                    and_(Region.parent_code == township_code, Region.level == "village"),
                )
            )
        )
    ).all()
    ratios = await thresholds(session)
    v_ratio, t_ratio = ratios["credit_village_ratio"], ratios["credit_township_ratio"]
    names = {code: name for code, name, *_ in rows}
    v_rated = v_credit = 0
    villages = credit_villages = 0
    for code, _name, level, parent, rated, credit in rows:
        if code == village_code and rated is not None:
            v_rated, v_credit = rated, credit
        if level == "village" and parent == township_code:
            villages += 1
            if rated is not None and is_credit_area(credit, rated, v_ratio):
                credit_villages += 1
    village = AreaStatus(
        code=village_code,
        name=display_name(names[village_code]) if village_code in names else village_code,
        is_credit=is_credit_area(v_credit, v_rated, v_ratio),
        rated=v_rated,
        credit=v_credit,
    )
    township = AreaStatus(
        code=township_code,
        name=names.get(township_code, township_code),
        is_credit=is_credit_area(credit_villages, villages, t_ratio),
        rated=villages,
        credit=credit_villages,
    )
    return village, township


async def count_credit_villages(session: AsyncSession, prefix: str) -> int:
    """Credit villages (village level only) whose code starts with `prefix` — for supervision statistics."""
    ratio = await threshold(session, "credit_village_ratio")
    rows = (
        await session.execute(
            select(VillageCreditStats.rated, VillageCreditStats.credit)
            .join(Region, Region.code == VillageCreditStats.village_code)
            .where(Region.level == "village", col(VillageCreditStats.village_code).startswith(prefix))
        )
    ).all()
    return sum(1 for rated, credit in rows if is_credit_area(credit, rated, ratio))


async def village_credit_counts(session: AsyncSession, prefix: str) -> dict[str, tuple[int, int]]:
    """(rated, credit) per village or community whose code starts with `prefix`, in one read of the counters —
    for supervision statistics, which judge them against the current thresholds (the stored flag can be stale
    after a threshold edit)."""
    rows = (
        await session.execute(
            select(VillageCreditStats.village_code, VillageCreditStats.rated, VillageCreditStats.credit).where(
                col(VillageCreditStats.village_code).startswith(prefix)
            )
        )
    ).all()
    return {code: (rated, credit) for code, rated, credit in rows}
