"""Loan figures per area and credit isolation (DOMAIN.md 信贷隔离).

Overdue ratio = overdue principal ÷ outstanding principal of the area's inclusive loans; written-off balances
count as both until recovered. Figures come from two cheap reads, never a scan of the city's loans:
1. `area_loan_stats` — one row per village, changed in the transaction of every disbursement, repayment,
   renewal, overdue report and write-off (outstanding, and the part flagged overdue or written off);
2. loans that passed `due_on` with principal outstanding and no event yet (status still `disbursed`): one
   range read on the index (village_code|township_code|county_code, status, due_on). The worker later flips
   them to `overdue` (moving their balance into `overdue_fen`), which does not change the figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.dates import china_today
from app.drawdowns.models import AreaLoanStat, Drawdown, DrawdownPolicy, DrawdownStatus


async def get_policy(session: AsyncSession) -> DrawdownPolicy:
    """The policy row, read once per session (no API writes it; a request reads it up to three times, and when
    the row is absent `session.get` cannot remember that)."""
    memo: DrawdownPolicy | None = session.info.get("drawdown_policy")
    if memo is not None:
        return memo
    row = await session.get(DrawdownPolicy, 1)
    policy = row if row is not None else DrawdownPolicy()
    session.info["drawdown_policy"] = policy
    return policy


@dataclass(frozen=True)
class AreaFigures:
    code: str
    loan_balance_fen: int
    overdue_balance_fen: int

    @property
    def overdue_ratio(self) -> Decimal | None:
        if self.loan_balance_fen <= 0:
            return None
        return (Decimal(self.overdue_balance_fen) / Decimal(self.loan_balance_fen)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )

    def at_or_over(self, line_bp: int) -> bool:
        """Exact integer comparison: overdue / outstanding >= line_bp / 10000."""
        return self.loan_balance_fen > 0 and self.overdue_balance_fen * 10000 >= line_bp * self.loan_balance_fen


def _area_column(model: Any, code: str) -> Any:
    if len(code) == 12:
        return model.village_code == code
    if len(code) == 9:
        return model.township_code == code
    if len(code) == 6:
        return model.county_code == code
    return model.county_code.startswith(code)


async def figures_for(session: AsyncSession, code: str, today: date | None = None) -> AreaFigures:
    today = today or china_today()
    where = _area_column(AreaLoanStat, code)
    outstanding, flagged = (
        await session.execute(
            select(
                func.coalesce(func.sum(AreaLoanStat.outstanding_fen), 0),
                func.coalesce(func.sum(AreaLoanStat.overdue_fen), 0),
            ).where(where)
        )
    ).one()
    past_due = (
        await session.execute(
            select(func.coalesce(func.sum(Drawdown.outstanding_fen), 0)).where(
                _area_column(Drawdown, code),
                Drawdown.status == DrawdownStatus.disbursed,
                col(Drawdown.due_on) < today,
            )
        )
    ).scalar_one()
    return AreaFigures(code, int(outstanding), int(flagged) + int(past_due))


async def area_loan_figures(session: AsyncSession, codes: Iterable[str]) -> dict[str, AreaFigures]:
    """Loan balance and overdue balance for each village (12), township (9), county (6) or wider prefix."""
    today = china_today()
    return {code: await figures_for(session, code, today) for code in codes}


@dataclass(frozen=True)
class Isolation:
    village: AreaFigures
    township: AreaFigures
    village_isolated: bool
    township_isolated: bool
    village_line_bp: int
    township_line_bp: int


async def village_and_township(
    session: AsyncSession, village_code: str, today: date | None = None
) -> tuple[AreaFigures, AreaFigures]:
    """`figures_for` of a village and of its township in two reads instead of four: each read covers the
    township (its index) and sums the village's part alongside."""
    today = today or china_today()
    township = village_code[:9]
    in_village = AreaLoanStat.village_code == village_code
    t_out, t_flag, v_out, v_flag = (
        await session.execute(
            select(
                func.coalesce(func.sum(AreaLoanStat.outstanding_fen), 0),
                func.coalesce(func.sum(AreaLoanStat.overdue_fen), 0),
                func.coalesce(func.sum(case((in_village, AreaLoanStat.outstanding_fen), else_=0)), 0),
                func.coalesce(func.sum(case((in_village, AreaLoanStat.overdue_fen), else_=0)), 0),
            ).where(AreaLoanStat.township_code == township)
        )
    ).one()
    t_past, v_past = (
        await session.execute(
            select(
                func.coalesce(func.sum(Drawdown.outstanding_fen), 0),
                func.coalesce(
                    func.sum(case((Drawdown.village_code == village_code, Drawdown.outstanding_fen), else_=0)), 0
                ),
            ).where(
                Drawdown.township_code == township,
                Drawdown.status == DrawdownStatus.disbursed,
                col(Drawdown.due_on) < today,
            )
        )
    ).one()
    return (
        AreaFigures(village_code, int(v_out), int(v_flag) + int(v_past)),
        AreaFigures(township, int(t_out), int(t_flag) + int(t_past)),
    )


def judged(policy: DrawdownPolicy, v: AreaFigures, t: AreaFigures) -> Isolation:
    """The village's and township's figures against the policy's lines."""
    return Isolation(
        v,
        t,
        v.at_or_over(policy.village_isolation_bp),
        t.at_or_over(policy.township_isolation_bp),
        policy.village_isolation_bp,
        policy.township_isolation_bp,
    )


async def check(session: AsyncSession, village_code: str) -> Isolation:
    policy = await get_policy(session)
    v, t = await village_and_township(session, village_code)
    return judged(policy, v, t)


async def isolation(session: AsyncSession, village_code: str) -> tuple[bool, bool]:
    result = await check(session, village_code)
    return result.village_isolated, result.township_isolated


async def adjust(session: AsyncSession, village_code: str, *, outstanding: int = 0, overdue: int = 0) -> None:
    """Add to a village's figures (creating its row on first use), in the caller's transaction."""
    if not outstanding and not overdue:
        return
    dialect = session.get_bind().dialect.name
    values = {
        "village_code": village_code,
        "township_code": village_code[:9],
        "county_code": village_code[:6],
        "outstanding_fen": 0,
        "overdue_fen": 0,
    }
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(AreaLoanStat).values(**values)
    await session.execute(ins.on_conflict_do_nothing(index_elements=["village_code"]))
    await session.execute(
        update(AreaLoanStat)
        .where(AreaLoanStat.village_code == village_code)
        .values(
            outstanding_fen=AreaLoanStat.outstanding_fen + outstanding,
            overdue_fen=AreaLoanStat.overdue_fen + overdue,
        )
        .execution_options(synchronize_session=False)
    )


async def village_figures(session: AsyncSession, prefix: str, today: date | None = None) -> dict[str, AreaFigures]:
    """Figures of every village (and community) whose code starts with `prefix`, in two reads: the per-village
    rows, and one grouped read of the loans past due_on with no event yet (the (status, due_on) or area
    indexes). Summing villages gives a township's or county's figures, as `figures_for` computes them."""
    today = today or china_today()
    rows = (
        await session.execute(
            select(AreaLoanStat.village_code, AreaLoanStat.outstanding_fen, AreaLoanStat.overdue_fen).where(
                col(AreaLoanStat.village_code).startswith(prefix)
            )
        )
    ).all()
    where = (
        _area_column(Drawdown, prefix) if len(prefix) in (6, 9, 12) else col(Drawdown.village_code).startswith(prefix)
    )
    past_due = (
        await session.execute(
            select(Drawdown.village_code, func.sum(Drawdown.outstanding_fen))
            .where(where, Drawdown.status == DrawdownStatus.disbursed, col(Drawdown.due_on) < today)
            .group_by(Drawdown.village_code)
        )
    ).all()
    extra = {code: int(amount or 0) for code, amount in past_due}
    out = {code: AreaFigures(code, int(o), int(d) + extra.pop(code, 0)) for code, o, d in rows}
    for code, amount in extra.items():  # cannot happen while every disbursement writes its village row
        out[code] = AreaFigures(code, amount, amount)
    return out
