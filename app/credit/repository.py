"""Credit's tables, queried: the money drawn on a certificate, the farmer's household and certificate.

`pending_fen` holds submitted + approved draw-downs, `outstanding_fen` disbursed unpaid principal. Both move only
here, by conditional UPDATEs on the certificate row in the caller's transaction; the CHECK keeps them
non-negative. The draw-down domain calls these through `app.credit.certificates` (credit's front for them).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.banks.models import Bank
from app.core.db import utcnow
from app.credit.models import Certificate, Household


def within_limit(outstanding: Any, pending: Any, amount: Any, limit: Any) -> Any:
    """outstanding + pending + amount ≤ limit: a bool for integers, a SQL condition for columns."""
    return outstanding + pending + amount <= limit


# Built once; SQLAlchemy caches its compiled form.
_HOLD = (
    update(Certificate)
    .where(
        Certificate.id == bindparam("certificate_id"),
        Certificate.status == "active",
        col(Certificate.lead_bank_id).is_not(None),
        Certificate.expires_on > bindparam("today"),
        within_limit(Certificate.outstanding_fen, Certificate.pending_fen, bindparam("amount"), Certificate.limit_fen),
    )
    .values(pending_fen=Certificate.pending_fen + bindparam("amount"), updated_at=bindparam("now"))
    .returning(Certificate.pending_fen)
    .execution_options(synchronize_session=False)
)

_MOVE = (
    update(Certificate)
    .where(Certificate.id == bindparam("certificate_id"))
    .values(
        pending_fen=Certificate.pending_fen + bindparam("pending"),
        outstanding_fen=Certificate.outstanding_fen + bindparam("outstanding"),
        updated_at=bindparam("now"),
    )
    .execution_options(synchronize_session=False)
)


async def hold(session: AsyncSession, certificate_id: uuid.UUID, amount_fen: int, today: date) -> bool:
    """Add `amount_fen` to `pending_fen` if the certificate is active, activated, not expired on `today` and the
    amount fits the limit — atomically, so parallel draw-downs can never overdraw. False when refused."""
    row = (
        await session.execute(
            _HOLD, {"certificate_id": certificate_id, "today": today, "amount": amount_fen, "now": utcnow()}
        )
    ).first()
    return row is not None


async def move(session: AsyncSession, certificate_id: uuid.UUID, *, pending: int = 0, outstanding: int = 0) -> None:
    """Add the signed amounts to the certificate's pending and outstanding money."""
    await session.execute(
        _MOVE, {"certificate_id": certificate_id, "pending": pending, "outstanding": outstanding, "now": utcnow()}
    )


async def fresh(session: AsyncSession, certificate_id: uuid.UUID) -> Certificate:
    """The certificate as it is in the database now (after a refused hold: to say why)."""
    return (
        await session.execute(
            select(Certificate).where(Certificate.id == certificate_id).execution_options(populate_existing=True)
        )
    ).scalar_one()


async def mine(session: AsyncSession, user_id: uuid.UUID) -> tuple[Household | None, Certificate | None, str | None]:
    """The household, its current certificate and the lead bank's name in one read."""
    row = (
        await session.execute(
            select(Household, Certificate, Bank.name)
            .outerjoin(
                Certificate, and_(Certificate.household_id == Household.id, col(Certificate.is_current).is_(True))
            )
            .outerjoin(Bank, Bank.id == Certificate.lead_bank_id)
            .where(Household.user_id == user_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row is not None else (None, None, None)
