"""The region of each audit entry's object: the audit log's read model over the domains' tables (STYLE: a read
across domains is a named read model of the domain that needs it).

Filled by the sealer for each batch just before the entries are linked, so the keyed link covers it and a
regulator's view (`GET /admin/audit`) can be filtered on it: the village code where the object has one (draw-
downs, households, certificates, objections, demands and offers, consents, stations, farmers), else the longest
common prefix of the counties it serves (products, banks and what hangs off a bank: API clients, webhooks, bank
staff). An object of several counties is thus shown to the regulator of the region that holds them all (the city
for a product of two counties), never to one county's regulator. Platform-level entries (regions, snapshots,
admin accounts) keep no region: only a regulator of the whole city (and admins) see them.

The columns it reads are declared in `app.auditlog.read_model`, not imported from the owning domains.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auditlog.read_model import (
    api_clients,
    bank_counties,
    certificates,
    consents,
    demand_offers,
    demands,
    drawdowns,
    households,
    objections,
    products,
    stations,
    users,
    webhook_endpoints,
)
from app.core.audit import AuditEntry

Resolver = Callable[[AsyncSession, list[uuid.UUID]], Awaitable[dict[uuid.UUID, str | None]]]


LEVELS = (12, 9, 6, 4, 2)  # village, township, county, city, province: the lengths a region code has


def common_prefix(codes: Iterable[str]) -> str | None:
    """The most specific region code that holds all of `codes` (None for none)."""
    found = sorted({c for c in codes if c})
    if not found:
        return None
    first, last = found[0], found[-1]
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return next((first[:k] for k in LEVELS if k <= n), None)


async def _pairs(session: AsyncSession, stmt: Any) -> dict[uuid.UUID, str | None]:
    return {k: v for k, v in (await session.execute(stmt)).all()}


async def _bank_regions(session: AsyncSession, bank_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    counties: dict[uuid.UUID, list[str]] = defaultdict(list)
    ids = list(set(bank_ids))
    if ids:
        stmt = select(bank_counties.c.bank_id, bank_counties.c.county_code).where(bank_counties.c.bank_id.in_(ids))
        for bank_id, county in (await session.execute(stmt)).all():
            counties[bank_id].append(county)
    return {b: common_prefix(counties.get(b, [])) for b in ids}


async def _owners(session: AsyncSession, stmt: Any) -> dict[uuid.UUID, uuid.UUID | None]:
    return {k: v for k, v in (await session.execute(stmt)).all()}


async def _via_bank(session: AsyncSession, stmt: Any) -> dict[uuid.UUID, str | None]:
    owner = await _owners(session, stmt)
    banks = await _bank_regions(session, [b for b in owner.values() if b is not None])
    return {k: banks.get(b) if b is not None else None for k, b in owner.items()}


async def _household_village(session: AsyncSession, stmt: Any) -> dict[uuid.UUID, str | None]:
    owner = await _owners(session, stmt)
    hh = [h for h in owner.values() if h is not None]
    villages = await _pairs(session, select(households.c.id, households.c.village_code).where(households.c.id.in_(hh)))
    return {k: villages.get(h) if h is not None else None for k, h in owner.items()}


async def _drawdowns(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    return await _pairs(session, select(drawdowns.c.id, drawdowns.c.village_code).where(drawdowns.c.id.in_(ids)))


async def _households(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    return await _pairs(session, select(households.c.id, households.c.village_code).where(households.c.id.in_(ids)))


async def _certificates(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    return await _household_village(
        session, select(certificates.c.id, certificates.c.household_id).where(certificates.c.id.in_(ids))
    )


async def _objections(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    return await _pairs(session, select(objections.c.id, objections.c.village_code).where(objections.c.id.in_(ids)))


async def _demands(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    return await _pairs(session, select(demands.c.id, demands.c.village_code).where(demands.c.id.in_(ids)))


async def _offers(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    stmt = (
        select(demand_offers.c.id, demands.c.village_code)
        .join(demands, demands.c.id == demand_offers.c.demand_id)
        .where(demand_offers.c.id.in_(ids))
    )
    return await _pairs(session, stmt)


async def _consents(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    return await _household_village(
        session, select(consents.c.id, consents.c.household_id).where(consents.c.id.in_(ids))
    )


async def _stations(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    return await _pairs(session, select(stations.c.id, stations.c.village_code).where(stations.c.id.in_(ids)))


async def _products(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    rows = (await session.execute(select(products.c.id, products.c.county_codes).where(products.c.id.in_(ids)))).all()
    return {pid: common_prefix(codes or []) for pid, codes in rows}


async def _banks(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    return await _bank_regions(session, ids)


async def _api_clients(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    return await _via_bank(session, select(api_clients.c.id, api_clients.c.bank_id).where(api_clients.c.id.in_(ids)))


async def _webhooks(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    return await _via_bank(
        session, select(webhook_endpoints.c.id, webhook_endpoints.c.bank_id).where(webhook_endpoints.c.id.in_(ids))
    )


async def _users(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """A farmer by its village; bank staff by their bank's counties; platform accounts have none."""
    rows = (
        await session.execute(select(users.c.id, users.c.village_code, users.c.bank_id).where(users.c.id.in_(ids)))
    ).all()
    banks = await _bank_regions(session, [b for _, _, b in rows if b is not None])
    return {uid: village or (banks.get(bank) if bank is not None else None) for uid, village, bank in rows}


RESOLVERS: dict[str, Resolver] = {
    "drawdown": _drawdowns,
    "household": _households,
    "certificate": _certificates,
    "objection": _objections,
    "demand": _demands,
    "demand_offer": _offers,
    "consent": _consents,
    "station": _stations,
    "product": _products,
    "bank": _banks,
    "api_client": _api_clients,
    "webhook": _webhooks,
    "user": _users,
}
# Entries whose object id is itself a region code (an agent's village, a rating group's village).
CODE_OBJECTS = frozenset({"village", "households"})


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def fill_regions(session: AsyncSession, rows: list[AuditEntry]) -> None:
    """Set `region_code` on each unsealed entry of the batch that has none, one query per object type."""
    by_type: dict[str, list[AuditEntry]] = defaultdict(list)
    for e in rows:
        if e.region_code is None:
            by_type[e.object_type].append(e)
    for object_type, entries in by_type.items():
        if object_type in CODE_OBJECTS:
            for e in entries:
                e.region_code = e.object_id[:12] if e.object_id.isdigit() else None
            continue
        resolver = RESOLVERS.get(object_type)
        if resolver is None:
            continue
        ids = {u for u in (_uuid(e.object_id) for e in entries) if u is not None}
        found = await resolver(session, list(ids)) if ids else {}
        for e in entries:
            key = _uuid(e.object_id)
            e.region_code = found.get(key) if key is not None else None
