"""`POST /admin/ratings/import`: up to 50,000 rows, idempotent by resident ID, a report row by row. A household
without an account links by itself to the farmer account that gave its resident ID and name (an unrated
household that posted demands before it was rated: `app.credit.linking.link_waiting_accounts`).

Each row is checked by its schema (`app.credit.import_rows.RatingRow`). Fast by construction: one query for the
villages, one per 1,000 rows to find existing households by keyed hash, new households by `COPY`
(`app.credit.bulk`), updates in chunks, and the shared `_after_rating` for history, counters and certificates
(`app.credit.rating_updates`), in bulk too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import audit, crypto
from app.core.audit import Actor
from app.core.db import utcnow
from app.core.errors import field_error
from app.credit import bulk, linking
from app.credit.import_rows import MAX_ROWS, RatingRow, RowContext, parse_body
from app.credit.models import Household
from app.credit.rating_updates import (
    CHUNK,
    Change,
    RatingState,
    _after_rating,
    compute,
    factor_catalogue,
    household_values,
    state_of,
)
from app.credit.schemas import ImportResult, ImportRow
from app.notifications import service as notifications
from app.regions.models import Region

__all__ = ["MAX_ROWS", "import_rows", "parse_body"]


@dataclass
class Plan:
    """What the valid rows do to the households: rows to insert and update, and the rating changes."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    created: int = 0
    updated: int = 0


async def import_rows(
    session: AsyncSession, rows: list[dict[str, Any]], *, actor: Actor, region_code: str | None
) -> ImportResult:
    ctx = await _context(session, region_code)
    report, good = _validate(rows, ctx)
    existing = await _existing(session, [r.id_hash for _, r in good])
    plan = _plan(good, existing, ctx.scope, report)
    await _write(session, plan)
    await _after_rating(session, plan.changes, actor=actor, source="import", reason="rating:import")
    linked = await _link_accounts(session, [r.id_hash for _, r in good])
    rejected = sum(1 for r in report if not r.ok)
    await audit.record(
        session,
        action="ratings.import",
        object_type="households",
        object_id="import",
        after={
            "created": plan.created,
            "updated": plan.updated,
            "rejected": rejected,
            "rating_changes": len(plan.changes),
            "accounts_linked": linked,
        },
    )
    return ImportResult(created=plan.created, updated=plan.updated, rejected=rejected, rows=report)


async def _context(session: AsyncSession, region_code: str | None) -> RowContext:
    places = select(Region.code).where(col(Region.level).in_(("village", "community")))
    return RowContext(
        catalogue=await factor_catalogue(session),
        places=set((await session.execute(places)).scalars()),
        scope=None if region_code in (None, "", "4117", "41") else region_code,
    )


def _validate(rows: list[dict[str, Any]], ctx: RowContext) -> tuple[list[ImportRow], list[tuple[int, RatingRow]]]:
    """The report (one entry per row, in order) and the valid rows with their index in it. The report's rows are
    built from checked values (`model_construct`: validating 50,000 of them again costs more than the check)."""
    report: list[ImportRow] = []
    good: list[tuple[int, RatingRow]] = []
    for line, raw in enumerate(rows, start=1):
        parsed = RatingRow.parse(raw, ctx)
        if isinstance(parsed, RatingRow):
            good.append((len(report), parsed))
            report.append(ImportRow.model_construct(line=line, ok=True, errors=[]))
        else:
            report.append(ImportRow.model_construct(line=line, ok=False, errors=parsed))
    return report, good


# What the plan reads of an existing household: its rating state (`state_of`) and personal fields. Plain rows,
# not ORM objects: building 50,000 of those cost more than the query.
EXISTING = tuple(
    getattr(Household, name)
    for name in (
        "id", "id_number_hash", "user_id", "real_name", "phone", "rated_at", "village_code", "provincial_score",
        "village_score", "composite_score", "stars", "is_credit_household", "vetoed", "positives", "negatives",
        "vetoes", "is_registered_poor",
    )
)  # fmt: skip


async def _existing(session: AsyncSession, hashes: list[str]) -> dict[str, Any]:
    existing: dict[str, Any] = {}
    for i in range(0, len(hashes), CHUNK):
        stmt = select(*EXISTING).where(col(Household.id_number_hash).in_(hashes[i : i + CHUNK]))
        existing.update({h.id_number_hash: h for h in await session.execute(stmt)})
    return existing


def _plan(
    good: list[tuple[int, RatingRow]], existing: dict[str, Any], scope: str | None, report: list[ImportRow]
) -> Plan:
    now = utcnow()
    plan = Plan()
    for idx, r in good:
        old_h = existing.get(r.id_hash)
        if old_h is not None and scope is not None and not old_h.village_code.startswith(scope):
            # A household elsewhere is not this regulator's to touch; say no more than for an unknown village.
            error = field_error("id_number", "out_of_region", "该农户不在您的管辖区域内")
            report[idx] = ImportRow(line=report[idx].line, ok=False, errors=[error])
        elif old_h is None:
            _plan_new(plan, r, now)
        else:
            _plan_update(plan, r, old_h, now)
    return plan


def _new_state(r: RatingRow, old: RatingState | None) -> RatingState:
    positives = r.positives if r.positives is not None else (old.positives if old else [])
    negatives = r.negatives if r.negatives is not None else (old.negatives if old else [])
    return compute(r.village_code, r.provincial, r.village, positives, negatives, r.vetoes, r.poor)


def _plan_new(plan: Plan, r: RatingRow, now: datetime) -> None:
    new = _new_state(r, None)
    hid = uuid.uuid4()
    plan.inserts.append(
        {
            "id": hid,
            "id_number_enc": crypto.encrypt(r.id_number, "resident_id"),
            "id_number_hash": r.id_hash,
            "real_name": r.real_name,
            "phone": r.phone,
            "user_id": None,
            "created_at": now,
            **household_values(new, now),
        }
    )
    plan.changes.append(Change(hid, None, None, new))
    plan.created += 1


def _plan_update(plan: Plan, r: RatingRow, old_h: Any, now: datetime) -> None:
    old = state_of(old_h)
    new = _new_state(r, old)
    plan.updated += 1
    personal_same = old_h.real_name == r.real_name and (r.phone is None or old_h.phone == r.phone)
    if new == old and personal_same:
        return
    row = {"id": old_h.id, "real_name": r.real_name, "phone": r.phone or old_h.phone, **household_values(new, now)}
    if new == old:
        row["rated_at"] = old_h.rated_at
    plan.updates.append(row)
    if new != old:
        plan.changes.append(Change(old_h.id, old_h.user_id, old, new))


async def _write(session: AsyncSession, plan: Plan) -> None:
    await bulk.insert_rows(session, Household, plan.inserts)
    for i in range(0, len(plan.updates), CHUNK):
        await session.execute(update(Household), plan.updates[i : i + CHUNK])


async def _link_accounts(session: AsyncSession, hashes: list[str]) -> int:
    """Link waiting farmer accounts to their new households and tell each farmer; how many were linked."""
    linked = await linking.link_waiting_accounts(session, hashes)
    for user_id, h in linked:
        await notifications.notify(
            session,
            user_id=user_id,
            kind="household.linked",
            title="已自动关联您的农户信用档案",
            body=(
                "您填写的真实姓名和身份证号与新导入的农户信用档案一致，账号已自动关联。"
                f"现在可以在“我的信用”中查看评级（{h.stars}星）和授信；您发布的融资需求也已显示评级。"
            ),
            data={"household_id": str(h.id)},
        )
    return len(linked)
