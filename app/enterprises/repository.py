"""The only place that builds SQL for `key_enterprises`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core.pagination import after, order_by
from app.enterprises.models import KeyEnterprise

ORDER = [(KeyEnterprise.county_code, False), (KeyEnterprise.unified_social_credit_code, False)]


async def get(session: AsyncSession, code: str, *, lock: bool = False) -> KeyEnterprise | None:
    q = select(KeyEnterprise).where(KeyEnterprise.unified_social_credit_code == code)
    if lock:
        q = q.with_for_update()
    return (await session.execute(q)).scalar_one_or_none()


async def page(
    session: AsyncSession, *, county_code: str | None, scope: str | None, cursor: list[Any] | None, limit: int
) -> list[KeyEnterprise]:
    q = select(KeyEnterprise)
    if county_code is not None:
        q = q.where(KeyEnterprise.county_code == county_code)
    if scope is not None:
        q = q.where(col(KeyEnterprise.county_code).startswith(scope))
    if cursor is not None:
        q = q.where(after(ORDER, cursor))
    return list((await session.execute(q.order_by(*order_by(ORDER)).limit(limit))).scalars().all())


async def counties_of(session: AsyncSession, uscc_hashes: Iterable[str]) -> dict[str, set[str]]:
    wanted = {h for h in uscc_hashes if h}
    out: dict[str, set[str]] = {h: set() for h in wanted}
    if not wanted:
        return out
    rows = await session.execute(
        select(KeyEnterprise.uscc_hash, KeyEnterprise.county_code).where(col(KeyEnterprise.uscc_hash).in_(wanted))
    )
    for h, county in rows.all():
        out[h].add(county)
    return out
