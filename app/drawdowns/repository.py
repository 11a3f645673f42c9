"""The draw-down domain's tables, queried (statements built once; SQLAlchemy caches their compiled form).

`admission_facts` is the admission's read model: in one statement, everything about the loans that decides
whether a household may draw — an overdue or unrecovered written-off loan of the household, approvals past
their validity still held on the certificate, and the village's and township's loan figures for credit
isolation (`area_loan_stats` plus the loans past due_on with no event yet, as `isolation.village_and_township`
reads them in two statements).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, exists, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from app.credit.models import Certificate, Household
from app.drawdowns.models import AreaLoanStat, Drawdown, DrawdownStatus

S = DrawdownStatus


def _sum(expr: Any, *where: Any) -> Any:
    return select(func.coalesce(func.sum(expr), 0)).where(*where).scalar_subquery()


def _in_village(model: Any, amount: Any) -> Any:
    return case((model.village_code == bindparam("village_code"), amount), else_=0)


_TOWNSHIP_STATS = AreaLoanStat.township_code == bindparam("township_code")
_PAST_DUE = and_(
    Drawdown.township_code == bindparam("township_code"),
    Drawdown.status == S.disbursed,
    col(Drawdown.due_on) < bindparam("today"),
)

_FACTS = select(
    exists()
    .where(
        Drawdown.household_id == bindparam("household_id"),
        or_(
            col(Drawdown.status).in_([S.overdue, S.written_off]),
            and_(Drawdown.status == S.disbursed, col(Drawdown.due_on) < bindparam("today")),
        ),
    )
    .label("has_overdue"),
    _sum(
        Drawdown.amount_fen,
        Drawdown.certificate_id == bindparam("certificate_id"),
        Drawdown.status == S.approved,
        col(Drawdown.approved_on) < bindparam("lapse"),
    ).label("lapsed_fen"),
    _sum(AreaLoanStat.outstanding_fen, _TOWNSHIP_STATS).label("t_out"),
    _sum(AreaLoanStat.overdue_fen, _TOWNSHIP_STATS).label("t_flag"),
    _sum(_in_village(AreaLoanStat, AreaLoanStat.outstanding_fen), _TOWNSHIP_STATS).label("v_out"),
    _sum(_in_village(AreaLoanStat, AreaLoanStat.overdue_fen), _TOWNSHIP_STATS).label("v_flag"),
    _sum(Drawdown.outstanding_fen, _PAST_DUE).label("t_past"),
    _sum(_in_village(Drawdown, Drawdown.outstanding_fen), _PAST_DUE).label("v_past"),
)


@dataclass(frozen=True)
class AdmissionFacts:
    has_overdue: bool
    lapsed_fen: int
    # (outstanding, overdue) principal of the village and of its township, past-due loans included
    village: tuple[int, int]
    township: tuple[int, int]


async def admission_facts(
    session: AsyncSession,
    *,
    household_id: uuid.UUID,
    village_code: str,
    certificate_id: uuid.UUID | None,
    today: date,
    lapse: date,
) -> AdmissionFacts:
    """`lapse`: approvals before this day are past their validity."""
    r = (
        await session.execute(
            _FACTS,
            {
                "household_id": household_id,
                "certificate_id": certificate_id,
                "village_code": village_code,
                "township_code": village_code[:9],
                "today": today,
                "lapse": lapse,
            },
        )
    ).one()
    return AdmissionFacts(
        bool(r.has_overdue),
        int(r.lapsed_fen),
        (int(r.v_out), int(r.v_flag) + int(r.v_past)),
        (int(r.t_out), int(r.t_flag) + int(r.t_past)),
    )


# The borrower's side of a draw-down, read from credit's tables (a read model: the draw-down domain never
# writes them; money on the certificate moves through `app.credit.certificates`).
_BORROWER = (
    select(Household, Certificate)
    .outerjoin(Certificate, and_(Certificate.household_id == Household.id, col(Certificate.is_current).is_(True)))
    .where(Household.user_id == bindparam("user_id"))
)


async def borrower(session: AsyncSession, user_id: uuid.UUID) -> tuple[Household | None, Certificate | None]:
    """The account's household and its current certificate in one read."""
    row = (await session.execute(_BORROWER, {"user_id": user_id})).first()
    return (row[0], row[1]) if row is not None else (None, None)


async def insert_together(session: AsyncSession, rows: Sequence[SQLModel]) -> None:
    """Write new rows of several tables (the draw-down and the audit entry, event and notifications its domains'
    services built) in one statement on PostgreSQL — one data-modifying CTE per table — and one INSERT per table
    elsewhere, now, in the caller's transaction. The rows leave the session: they are written exactly as built,
    all defaults already set in Python (ids, `created_at`), with no ORM flush."""
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for row in rows:
        if row in session:
            session.expunge(row)
        table: Table = row.__table__  # type: ignore[attr-defined]
        by_table.setdefault(table, []).append({c.key: getattr(row, c.key) for c in table.columns})
    statements = [insert(table).values(values) for table, values in by_table.items()]
    if session.get_bind().dialect.name == "postgresql" and len(statements) > 1:
        ctes = [stmt.cte(f"w{i}") for i, stmt in enumerate(statements)]
        await session.execute(select(literal(1)).add_cte(*ctes))
        return
    for stmt in statements:
        await session.execute(stmt)
