"""The draw-down domain's tables, queried (statements built once; SQLAlchemy caches their compiled form).

`admission_facts` is the admission's read model: in one statement, everything about the loans that decides
whether a household may draw — an overdue or unrecovered written-off loan of the household, approvals past
their validity still held on the certificate, and the village's and township's loan figures for credit
isolation (`area_loan_stats` plus the loans past due_on with no event yet, as `isolation.village_and_township`
reads them in two statements).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

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
