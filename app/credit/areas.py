"""Credit isolation and loan figures of an area, for /me/credit and supervision statistics.

The figures are kept by the draw-down domain (app.drawdowns.isolation); this module is the credit domain's
entry point to them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from app.drawdowns import isolation as _isolation
from app.drawdowns.isolation import AreaFigures

__all__ = ["AreaFigures", "area_loan_figures", "isolation"]


async def isolation(session: AsyncSession, village_code: str) -> tuple[bool, bool]:
    """(village isolated, township isolated): overdue ratio at or over the policy lines (5% / 3%)."""
    return await _isolation.isolation(session, village_code)


async def area_loan_figures(session: AsyncSession, codes: Iterable[str]) -> dict[str, AreaFigures]:
    """Per code: `loan_balance_fen`, `overdue_balance_fen` and `overdue_ratio` (None when no balance)."""
    return await _isolation.area_loan_figures(session, codes)
