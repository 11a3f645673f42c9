"""Certificates derived from stars by the certificate policy (data), their numbers, ledger and state changes.

`derive` is pure: given the policy, the household's new stars and its current certificate, it mutates or
creates the certificate and says which ledger entries to write. Callers (one rating, or a bulk import) then
allocate numbers for new certificates in one step and write the ledger in bulk.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import Actor
from app.core.dates import add_months, china_today
from app.core.db import utcnow
from app.credit import bulk, repository
from app.credit.models import Certificate, CertificateCounter, CertificateLedgerEntry, CertificatePolicy
from app.credit.repository import within_limit as within_limit  # the limit rule, for admission's read

LIVE = ("issued", "active", "frozen")
NUMBER_PREFIX = "ZMD"


@dataclass(frozen=True)
class Policy:
    stars: int
    color: str
    limit_fen: int
    max_annual_rate_bp: int
    validity_months: int


async def load_policies(session: AsyncSession) -> dict[int, Policy]:
    rows = (await session.execute(select(CertificatePolicy))).scalars().all()
    return {r.stars: Policy(r.stars, r.color, r.limit_fen, r.max_annual_rate_bp, r.validity_months) for r in rows}


def effective_status(cert: Certificate, today: date | None = None) -> str:
    """A live certificate past its expiry date is expired, whether or not anything has rewritten it yet."""
    if cert.status in LIVE and (today or china_today()) >= cert.expires_on:
        return "expired"
    return cert.status


# ---- the money drawn on a certificate (credit's operations, called by the draw-down domain) ---------------


async def hold(session: AsyncSession, certificate_id: uuid.UUID, amount_fen: int, today: date) -> bool:
    """Hold `amount_fen` for a submitted draw-down: one conditional UPDATE that admits it only if the
    certificate is active, activated, unexpired on `today` and `within_limit`. False when refused."""
    return await repository.hold(session, certificate_id, amount_fen, today)


async def release(session: AsyncSession, certificate_id: uuid.UUID, *, pending: int = 0, outstanding: int = 0) -> None:
    """Move held or lent money by signed amounts: a cancelled, rejected or lapsed draw-down releases its hold
    (`pending=-amount`), a disbursement turns the hold into principal (`pending=-a, outstanding=+a`), a repayment
    releases principal (`outstanding=-paid`)."""
    await repository.move(session, certificate_id, pending=pending, outstanding=outstanding)


async def as_it_is_now(session: AsyncSession, certificate_id: uuid.UUID) -> Certificate:
    """The certificate re-read from the database (after a refused hold, to say why)."""
    return await repository.fresh(session, certificate_id)


def status_after_unfreeze(cert: Certificate) -> str:
    return "active" if cert.lead_bank_id is not None and cert.activated_at is not None else "issued"


@dataclass(slots=True)
class NewCertificate:
    """A certificate to insert, as a plain row (an ORM object costs ~0.3 ms to build: too much 50,000 times)."""

    id: uuid.UUID
    household_id: uuid.UUID
    color: str
    stars: int
    limit_fen: int
    max_annual_rate_bp: int
    status: str
    issued_on: date
    expires_on: date
    created_at: datetime
    number: str = ""
    is_current: bool = True
    lead_bank_id: uuid.UUID | None = None
    activated_at: datetime | None = None
    outstanding_fen: int = 0
    pending_fen: int = 0
    status_reason: str | None = None
    updated_at: datetime | None = None


NEW_COLUMNS = tuple(NewCertificate.__dataclass_fields__)


@dataclass
class Derivation:
    new_cert: NewCertificate | None = None
    changed: list[Certificate] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)

    @property
    def certificate(self) -> Certificate | NewCertificate | None:
        return self.new_cert or (self.changed[-1] if self.changed else None)


def _entry(
    cert: Certificate | NewCertificate, kind: str, old_limit: int, old_status: str | None, reason: str, actor: Actor
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "certificate_id": cert.id,
        "household_id": cert.household_id,
        "kind": kind,
        "old_limit_fen": old_limit,
        "new_limit_fen": cert.limit_fen,
        "old_status": old_status,
        "new_status": cert.status,
        "reason": reason[:255],
        "actor_type": actor.type,
        "actor_id": actor.id[:64],
        "created_at": utcnow(),
    }


def _apply_policy(cert: Certificate, p: Policy) -> None:
    cert.color, cert.stars, cert.limit_fen, cert.max_annual_rate_bp = (
        p.color,
        p.stars,
        p.limit_fen,
        p.max_annual_rate_bp,
    )


def derive(
    policies: dict[int, Policy],
    household_id: uuid.UUID,
    stars: int,
    current: Certificate | None,
    *,
    actor: Actor,
    reason: str,
    today: date | None = None,
) -> Derivation:
    """Issue, upgrade/downgrade, revoke or renew. A lower limit never touches outstanding or pending."""
    today = today or china_today()
    now = utcnow()
    out = Derivation()
    policy = policies.get(stars) if stars > 0 else None
    status = effective_status(current, today) if current else None

    if policy is None:
        # Not a credit household (0 stars or a veto): revoke a live certificate.
        if current is not None and status in LIVE:
            old_limit, old_status = current.limit_fen, current.status
            current.status, current.limit_fen, current.status_reason = "revoked", 0, reason[:255]
            current.updated_at = now
            out.changed.append(current)
            out.ledger.append(_entry(current, "revoked", old_limit, old_status, reason, actor))
        return out

    if current is None or status == "expired":
        renewing = current is not None
        new = NewCertificate(
            id=uuid.uuid4(),
            household_id=household_id,
            color=policy.color,
            stars=policy.stars,
            limit_fen=policy.limit_fen,
            max_annual_rate_bp=policy.max_annual_rate_bp,
            status="issued",
            issued_on=today,
            expires_on=add_months(today, policy.validity_months),
            created_at=now,
        )
        if current is not None:
            old_status = current.status
            current.status, current.is_current, current.updated_at = "expired", False, now
            out.changed.append(current)
            out.ledger.append(_entry(current, "expired", current.limit_fen, old_status, reason, actor))
            # The household's choice of lead bank (and its consent) carries over to the renewed certificate.
            if current.lead_bank_id is not None and old_status in ("active", "frozen"):
                new.lead_bank_id, new.activated_at = current.lead_bank_id, now
                new.status = "frozen" if old_status == "frozen" else "active"
        out.new_cert = new
        out.ledger.append(_entry(new, "renewed" if renewing else "granted", 0, None, reason, actor))
        return out

    if status == "revoked":
        # Re-granted on the same certificate, so money lent on it stays counted against it.
        old_limit, old_status = current.limit_fen, current.status
        _apply_policy(current, policy)
        current.status = status_after_unfreeze(current)
        current.issued_on, current.expires_on = today, add_months(today, policy.validity_months)
        current.status_reason, current.updated_at = None, now
        out.changed.append(current)
        out.ledger.append(_entry(current, "granted", old_limit, old_status, reason, actor))
        return out

    # Live: upgrade or downgrade (a frozen certificate stays frozen with its new limit).
    if current.limit_fen == policy.limit_fen and current.stars == policy.stars and current.color == policy.color:
        return out
    old_limit = current.limit_fen
    _apply_policy(current, policy)
    current.updated_at = now
    out.changed.append(current)
    if current.limit_fen != old_limit:
        kind = "upgraded" if current.limit_fen > old_limit else "downgraded"
        out.ledger.append(_entry(current, kind, old_limit, current.status, reason, actor))
    return out


async def allocate_numbers(session: AsyncSession, count: int, today: date | None = None) -> list[str]:
    """`count` fresh human-readable numbers (ZMD-2026-000123) from a per-year counter, in one locked UPDATE."""
    if count <= 0:
        return []
    year = (today or china_today()).year
    row = await session.execute(select(CertificateCounter).where(CertificateCounter.year == year).with_for_update())
    counter = row.scalar_one_or_none()
    if counter is None:
        counter = CertificateCounter(year=year, last=0)
        session.add(counter)
        await session.flush()
    start = counter.last + 1
    counter.last += count
    await session.flush()
    return [f"{NUMBER_PREFIX}-{year}-{n:06d}" for n in range(start, start + count)]


async def write(session: AsyncSession, derivations: list[Derivation], today: date | None = None) -> None:
    """Persist derivations: changed rows first (an expiring certificate stops being current), then new ones."""
    new = [d.new_cert for d in derivations if d.new_cert is not None]
    changed = [c for d in derivations for c in d.changed]
    ledger = [e for d in derivations for e in d.ledger]
    numbers = await allocate_numbers(session, len(new), today)
    for cert, number in zip(new, numbers, strict=True):
        cert.number = number
    if changed:
        # Persistent rows: the unit of work flushes their changes; flush now so the unique "current" index
        # sees an expired certificate step aside before its successor is inserted.
        await session.flush()
    await bulk.insert_rows(session, Certificate, [{k: getattr(cert, k) for k in NEW_COLUMNS} for cert in new])
    await bulk.insert_rows(session, CertificateLedgerEntry, ledger)


def public_snapshot(cert: Certificate | None) -> dict[str, Any] | None:
    if cert is None:
        return None
    return {
        "id": str(cert.id),
        "number": cert.number,
        "color": cert.color,
        "stars": cert.stars,
        "limit_fen": cert.limit_fen,
        "status": cert.status,
    }
