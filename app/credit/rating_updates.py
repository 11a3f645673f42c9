"""Applying ratings: one household (admin, agent) or a bulk import, with history, counters and certificates.

Both paths end in `_after_rating`, which writes the history rows, moves the per-village credit counters,
re-derives certificates in bulk, announces what supervision counts (`credit.households_changed`,
`credit.certificate_holders_changed`) and tells lead banks and linked farmers what changed — a fixed number of
queries per chunk, never one per row. The pure rules (scores, composite, stars) are `app.credit.rating_engine`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import audit, hooks
from app.core.audit import Actor
from app.core.dates import china_today
from app.core.db import utcnow
from app.core.errors import NotFound, ValidationFailed, field_error
from app.core.money import yuan_text
from app.credit import areas, bulk, certificates, rating_engine
from app.credit.models import Certificate, Household, RatingChange, RatingFactor
from app.events import service as events
from app.notifications import service as notifications

CHUNK = 1000


@dataclass
class RatingState:
    village_code: str
    provincial_score: Decimal | None
    village_score: Decimal | None
    composite_score: Decimal | None
    stars: int
    is_credit_household: bool
    vetoed: bool
    positives: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    vetoes: list[str] = field(default_factory=list)
    is_registered_poor: bool = False

    @property
    def rated(self) -> bool:
        return self.composite_score is not None

    def summary(self) -> dict[str, Any]:
        return {
            "village_code": self.village_code,
            "provincial_score": _s(self.provincial_score),
            "village_score": _s(self.village_score),
            "composite_score": _s(self.composite_score),
            "stars": self.stars,
            "is_credit_household": self.is_credit_household,
            "vetoed": self.vetoed,
            "positives": self.positives,
            "negatives": self.negatives,
            "vetoes": self.vetoes,
            "is_registered_poor": self.is_registered_poor,
        }


def _s(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def compute(
    village_code: str,
    provincial: Decimal | None,
    village: Decimal | None,
    positives: list[str],
    negatives: list[str],
    vetoes: list[str],
    is_registered_poor: bool,
) -> RatingState:
    if provincial is None or village is None:
        composite, stars, credit, vetoed = None, 0, False, bool(vetoes)
    else:
        r = rating_engine.rate(provincial, village, vetoes)
        composite, stars, credit, vetoed = r.composite, r.stars, r.is_credit_household, r.vetoed
    return RatingState(
        village_code, provincial, village, composite, stars, credit, vetoed,
        list(positives), list(negatives), list(vetoes), is_registered_poor,
    )  # fmt: skip


def state_of(h: Household | Any) -> RatingState:
    """The rating state of a household (its ORM object, or a row with the same columns)."""
    return RatingState(
        h.village_code, h.provincial_score, h.village_score, h.composite_score, h.stars,
        h.is_credit_household, h.vetoed, list(h.positives or []), list(h.negatives or []),
        list(h.vetoes or []), h.is_registered_poor,
    )  # fmt: skip


def household_values(s: RatingState, now: datetime) -> dict[str, Any]:
    return {
        "village_code": s.village_code,
        "township_code": s.village_code[:9],
        "county_code": s.village_code[:6],
        "provincial_score": s.provincial_score,
        "village_score": s.village_score,
        "composite_score": s.composite_score,
        "stars": s.stars,
        "is_credit_household": s.is_credit_household,
        "vetoed": s.vetoed,
        "positives": s.positives,
        "negatives": s.negatives,
        "vetoes": s.vetoes,
        "is_registered_poor": s.is_registered_poor,
        "rated_at": now if s.rated else None,
        "updated_at": now,
    }


@dataclass
class Change:
    household_id: uuid.UUID
    user_id: uuid.UUID | None
    old: RatingState | None
    new: RatingState


async def factor_catalogue(session: AsyncSession) -> dict[str, tuple[str, str]]:
    """code → (kind, Chinese label), active factors only."""
    rows = (
        await session.execute(
            select(RatingFactor.code, RatingFactor.kind, RatingFactor.label_zh).where(
                col(RatingFactor.is_active).is_(True)
            )
        )
    ).all()
    return {code: (kind, label) for code, kind, label in rows}


def check_codes(
    catalogue: dict[str, tuple[str, str]], kind: str, codes: Sequence[str], path: str
) -> list[dict[str, str]]:
    return [
        field_error(f"{path}.{i}", "unknown_factor", f"未知的{_KIND_ZH[kind]}代码：{code[:48]}")
        for i, code in enumerate(codes)
        if catalogue.get(code, ("", ""))[0] != kind
    ]


_KIND_ZH = {"positive": "加分项", "negative": "减分项", "veto": "一票否决项"}


async def _after_rating(
    session: AsyncSession, changes: list[Change], *, actor: Actor, source: str, reason: str
) -> None:
    if not changes:
        return
    await _write_history(session, changes, actor=actor, source=source)
    await areas.apply_deltas(session, _area_deltas(changes))
    policies = await certificates.load_policies(session)
    today = china_today()  # one date for the whole batch (and the year of its certificate numbers)
    by_household = {c.household_id: c for c in changes}
    current = await _current_certificates(session, [h for h, c in by_household.items() if c.old is not None])
    before = {hid: holder_key(cert) for hid, cert in current.items()}  # before the derivations change them
    derivations = []
    for hid, c in by_household.items():
        d = certificates.derive(policies, hid, c.new.stars, current.get(hid), actor=actor, reason=reason, today=today)
        if d.ledger or d.changed or d.new_cert:
            derivations.append((c, d))
    households, holders = _counted(by_household, current, before, {c.household_id: d for c, d in derivations})
    await certificates.write(session, [d for _, d in derivations], today)
    # Supervision keeps its per-village counters from these (app.supervision.counters subscribes).
    await hooks.publish("credit.households_changed", session, deltas=households)
    await hooks.publish("credit.certificate_holders_changed", session, deltas=holders)
    for c, d in derivations:
        await _announce(session, c, d)


async def _write_history(session: AsyncSession, changes: list[Change], *, actor: Actor, source: str) -> None:
    now = utcnow()
    history = [
        {
            "id": uuid.uuid4(),
            "household_id": c.household_id,
            "source": source,
            "actor_type": actor.type,
            "actor_id": actor.id[:64],
            "actor_role": actor.role[:32],
            "before": c.old.summary() if c.old else None,
            "after": c.new.summary(),
            "created_at": now,
        }
        for c in changes
    ]
    await bulk.insert_rows(session, RatingChange, history)


def _area_deltas(changes: list[Change]) -> dict[str, tuple[int, int]]:
    """(rated, credit households) added per village."""
    deltas: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in changes:
        if c.old is not None and c.old.rated:
            deltas[c.old.village_code][0] -= 1
            deltas[c.old.village_code][1] -= int(c.old.is_credit_household)
        if c.new.rated:
            deltas[c.new.village_code][0] += 1
            deltas[c.new.village_code][1] += int(c.new.is_credit_household)
    return {k: (v[0], v[1]) for k, v in deltas.items()}


async def _current_certificates(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Certificate]:
    """The households' current certificates, locked for the derivation."""
    current: dict[uuid.UUID, Certificate] = {}
    for i in range(0, len(ids), CHUNK):
        stmt = (
            select(Certificate)
            .where(col(Certificate.household_id).in_(ids[i : i + CHUNK]), col(Certificate.is_current).is_(True))
            .with_for_update()
        )
        current.update({c.household_id: c for c in (await session.execute(stmt)).scalars()})
    return current


def holder_key(cert: Certificate | certificates.NewCertificate | None) -> date | None:
    """The expiry date a household holding `cert` counts under, or None: not current, or not live."""
    if cert is None or not cert.is_current or cert.status not in certificates.LIVE:
        return None
    return cert.expires_on


def _counted(
    by_household: dict[uuid.UUID, Change],
    current: dict[uuid.UUID, Certificate],
    before_keys: dict[uuid.UUID, date | None],
    derived: dict[uuid.UUID, certificates.Derivation],
) -> tuple[dict[str, tuple[int, int]], dict[tuple[str, date], int]]:
    """What the changes move: (households, linked) per village, and holders per (village, expiry date)."""
    households: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    holders: dict[tuple[str, date], int] = defaultdict(int)
    for hid, c in by_household.items():
        old_village = c.old.village_code if c.old is not None else None
        linked = int(c.user_id is not None)
        if old_village != c.new.village_code:
            if old_village is not None:
                households[old_village][0] -= 1
                households[old_village][1] -= linked
            households[c.new.village_code][0] += 1
            households[c.new.village_code][1] += linked
        before = before_keys.get(hid)
        if before is not None:
            holders[(old_village or c.new.village_code, before)] -= 1
        d = derived.get(hid)
        after = holder_key((d.new_cert if d is not None else None) or current.get(hid))
        if after is not None:
            holders[(c.new.village_code, after)] += 1
    return {k: (v[0], v[1]) for k, v in households.items()}, dict(holders)


async def _announce(session: AsyncSession, c: Change, d: certificates.Derivation) -> None:
    """Tell the lead bank (an event) and the linked farmer (a notification) what changed on the certificate."""
    cert = d.certificate
    if cert is None:
        return
    kinds = [e["kind"] for e in d.ledger]
    if cert.lead_bank_id is not None:
        await events.emit(
            session,
            type="certificate.changed",
            bank_id=cert.lead_bank_id,
            data={
                "certificate_id": str(cert.id),
                "household_id": str(c.household_id),
                "number": cert.number,
                "status": cert.status,
                "color": cert.color,
                "stars": cert.stars,
                "limit_fen": cert.limit_fen,
                "changes": kinds,
            },
        )
    if c.user_id is not None:
        await notifications.notify(
            session,
            kind="certificate.changed",
            user_id=c.user_id,
            title="您的授信证有变化",
            body=_farmer_text(cert, kinds),
            data={"certificate_id": str(cert.id), "changes": kinds},
        )


def _farmer_text(cert: Certificate | certificates.NewCertificate, kinds: list[str]) -> str:
    color = "红本" if cert.color == "red" else "蓝本"
    yuan = yuan_text(cert.limit_fen)
    if "revoked" in kinds:
        return f"根据最新信用评定结果，您的授信证（{cert.number}）已撤销。如有异议可在 App 中提出。"
    if "granted" in kinds or "renewed" in kinds:
        return f"您已获得普惠授信证（{color}，{cert.stars}星，额度 {yuan} 元），编号 {cert.number}。"
    return f"您的授信证（{cert.number}）已调整为{color}、{cert.stars}星，额度 {yuan} 元。"


async def rate_household(
    session: AsyncSession,
    household: Household,
    *,
    provincial: Decimal | None,
    village: Decimal | None,
    positives: list[str],
    negatives: list[str],
    vetoes: list[str],
    is_registered_poor: bool,
    actor: Actor,
    source: str,
) -> Household:
    old = state_of(household)
    new = compute(household.village_code, provincial, village, positives, negatives, vetoes, is_registered_poor)
    if new == old:
        return household
    now = utcnow()
    for key, value in household_values(new, now).items():
        setattr(household, key, value)
    await session.flush()
    await _after_rating(
        session,
        [Change(household.id, household.user_id, old, new)],
        actor=actor,
        source=source,
        reason=f"rating:{source}",
    )
    await audit.record(
        session,
        action="household.rating",
        object_type="household",
        object_id=household.id,
        before={k: v for k, v in old.summary().items() if k != "village_code"},
        after={k: v for k, v in new.summary().items() if k != "village_code"},
        source=source,
    )
    return household


async def set_village_score(session: AsyncSession, household_id: uuid.UUID, score: Decimal, actor: Actor) -> Household:
    """The village rating group's score (station agents). The caller checks the agent's village."""
    parsed = rating_engine.parse_score(score)
    if parsed is None:
        raise ValidationFailed(errors=[field_error("village_score", "score_invalid", "评分须为 0–100，最多两位小数")])
    household = await session.scalar(select(Household).where(Household.id == household_id).with_for_update())
    if household is None:
        raise NotFound()
    return await rate_household(
        session,
        household,
        provincial=household.provincial_score,
        village=parsed,
        positives=list(household.positives or []),
        negatives=list(household.negatives or []),
        vetoes=list(household.vetoes or []),
        is_registered_poor=household.is_registered_poor,
        actor=actor,
        source="agent",
    )
