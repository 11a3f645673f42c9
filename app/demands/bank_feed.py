"""The bank's feed of open demands (`GET /bank/demands`): the filters, the ranked keyset query over the counties
the bank serves, and the page (presented by app.demands.bank_view)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.banks.service import bank_counties
from app.core.dates import china_today
from app.core.pagination import after, decode_cursor, order_by, page_of
from app.core.principal import Principal
from app.demands.bank_view import bank_of, present
from app.demands.common import open_filter
from app.demands.models import Demand
from app.demands.schemas import BankDemandPublic


@dataclass(frozen=True)
class Filters:
    county_code: str | None = None
    township_code: str | None = None
    min_amount_fen: int | None = None
    max_amount_fen: int | None = None
    min_term_months: int | None = None
    max_term_months: int | None = None
    purpose: str | None = None
    min_stars: int | None = None
    key_enterprise: bool | None = None


# Best match first; among equal scores key enterprises (名录库) first; then newest id (a stable keyset order).
FEED = [(Demand.match_base, True), (Demand.key_enterprise, True), (Demand.id, True)]


def _flag(v: Any) -> Any:
    # A bound literal: SQLAlchemy allows only = and != against a bare True/False.
    if not isinstance(v, bool):
        raise ValueError("not a flag")
    return literal(v, Boolean())


def _feed_query(county: str, f: Filters, cursor_values: list[Any] | None, limit: int) -> Any:
    q = select(Demand).where(Demand.county_code == county, open_filter(china_today()))
    if f.township_code:
        q = q.where(Demand.township_code == f.township_code)
    if f.min_amount_fen is not None:
        q = q.where(Demand.amount_fen >= f.min_amount_fen)
    if f.max_amount_fen is not None:
        q = q.where(Demand.amount_fen <= f.max_amount_fen)
    if f.min_term_months is not None:
        q = q.where(Demand.term_months >= f.min_term_months)
    if f.max_term_months is not None:
        q = q.where(Demand.term_months <= f.max_term_months)
    if f.purpose:
        q = q.where(Demand.purpose == f.purpose)
    if f.min_stars is not None:
        q = q.where(Demand.stars >= f.min_stars)
    if f.key_enterprise is not None:
        q = q.where(Demand.key_enterprise == f.key_enterprise)
    if cursor_values is not None:
        q = q.where(after(FEED, cursor_values))
    return q.order_by(*order_by(FEED)).limit(limit)


async def list_for_bank(
    session: AsyncSession, p: Principal, f: Filters, limit: int, cursor: str | None
) -> tuple[list[BankDemandPublic], str | None]:
    """Open demands in the bank's counties, best match first (see app.demands.scoring), keyset-paginated on
    (match score, id). Each county is one range scan of ix_demands_bank_feed that stops after `limit + 1`
    rows; the counties' heads are merged in the database."""
    bank_id = bank_of(p)
    counties = sorted(await bank_counties(session, bank_id))
    if f.county_code is not None:
        counties = [c for c in counties if c == f.county_code]
    if f.township_code is not None:
        counties = [c for c in counties if f.township_code.startswith(c)]
    if not counties:
        return [], None
    values = decode_cursor(cursor, [int, _flag, uuid.UUID]) if cursor else None
    if len(counties) == 1:
        stmt = _feed_query(counties[0], f, values, limit + 1)
        rows = list((await session.execute(stmt)).scalars().all())
    else:
        # Merge only the keys (score, id) of the counties' heads, then read the page's rows by id: a union of
        # whole-row subqueries costs SQLAlchemy ~20 ms of CPU per request to build (a column proxy per column
        # per county) and makes the database carry every column through the merge.
        parts = [
            select(
                _feed_query(c, f, values, limit + 1)
                .with_only_columns(Demand.match_base, Demand.key_enterprise, Demand.id)
                .subquery()
            )
            for c in counties
        ]
        merged = union_all(*parts).subquery()
        keys = (
            select(merged.c.id)
            .order_by(merged.c.match_base.desc(), merged.c.key_enterprise.desc(), merged.c.id.desc())
            .limit(limit + 1)
        )
        ids = list((await session.execute(keys)).scalars().all())
        by_id = (
            {x.id: x for x in (await session.execute(select(Demand).where(col(Demand.id).in_(ids)))).scalars().all()}
            if ids
            else {}
        )
        rows = [by_id[i] for i in ids if i in by_id]
    items, nxt = page_of(rows, limit, lambda x: [x.match_base, x.key_enterprise, x.id])
    return await present(session, bank_id, items), nxt
