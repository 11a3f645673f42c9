"""Linking a farmer account to its household: credit's side of `PATCH /me`, of a ratings import and of the demo.

Auth owns the account, credit the household, and auth sits below credit: it asks (`app.core.hooks`) for the
household of an account (`auth.household_of`) and, when a farmer gives a real name and resident ID, for a link
(`auth.identity_set`). Credit writes the household's `user_id` and announces `credit.household_linked`, on which
supervision's counters and the demand library follow in the same transaction. Subscribed when imported
(`app.wiring`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import User
from app.core import audit, hooks
from app.core.errors import HouseholdAlreadyLinked
from app.core.principal import Role
from app.credit.models import Household

LINKED = "credit.household_linked"  # payload: user_id, household (in the linking transaction)


@hooks.subscribe("auth.household_of")
async def linked_household(session: AsyncSession, user_id: uuid.UUID) -> Household | None:
    """The household linked to the account, if any."""
    return (await session.execute(select(Household).where(Household.user_id == user_id))).scalar_one_or_none()


async def link(session: AsyncSession, user_id: uuid.UUID, household: Household) -> None:
    """Link: the household row is locked by the caller and has no other account."""
    household.user_id = user_id
    household.updated_at = datetime.now(UTC)
    session.add(household)
    await session.flush()
    await hooks.publish(LINKED, session, user_id=user_id, household=household)


@hooks.subscribe("auth.identity_set")
async def link_matching(session: AsyncSession, user: User) -> bool:
    """`PATCH /me` has set the account's real name and resident ID: link the household whose resident ID and name
    both match (locked), 409 `household_already_linked` when another account has it. True when linked."""
    if not (user.real_name and user.id_number_hash):
        return False
    candidate = (
        await session.execute(
            select(Household).where(Household.id_number_hash == user.id_number_hash).with_for_update()
        )
    ).scalar_one_or_none()
    if candidate is None or candidate.real_name != user.real_name:
        return False
    if candidate.user_id is not None and candidate.user_id != user.id:
        raise HouseholdAlreadyLinked()
    await link(session, user.id, candidate)
    return True


async def link_waiting_accounts(session: AsyncSession, id_hashes: Sequence[str]) -> list[tuple[uuid.UUID, Household]]:
    """After a ratings import (the keyed hashes of its resident IDs): each household without an account links
    the one farmer account whose real name and resident ID both match it and which has no household yet — what
    `PATCH /me` would have done had the household existed then. An ID match under another name links nothing;
    two accounts claiming the same ID and name link neither (a dispute for the platform). Returns the links."""
    claims: dict[str, list[tuple[uuid.UUID, str | None]]] = {}
    for i in range(0, len(id_hashes), 1000):
        rows = await session.execute(
            select(User.id, User.real_name, User.id_number_hash)
            .outerjoin(Household, Household.user_id == User.id)
            .where(
                col(User.id_number_hash).in_(id_hashes[i : i + 1000]),
                User.role == Role.farmer,
                col(User.deleted_at).is_(None),
                col(Household.id).is_(None),
            )
        )
        for uid, name, id_hash in rows.all():
            claims.setdefault(id_hash, []).append((uid, name))
    if not claims:
        return []
    households = (
        (
            await session.execute(
                select(Household)
                .where(col(Household.id_number_hash).in_(sorted(claims)), col(Household.user_id).is_(None))
                .order_by(Household.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        .scalars()
        .all()
    )
    made: list[tuple[uuid.UUID, Household]] = []
    for h in households:
        matching = [uid for uid, name in claims[h.id_number_hash] if name and name == h.real_name]
        if len(matching) != 1:
            continue
        await link(session, matching[0], h)
        await audit.record(
            session,
            action="user.household_autolink",
            object_type="user",
            object_id=matching[0],
            after={"household_linked": True, "household_id": str(h.id)},
        )
        made.append((matching[0], h))
    return made
