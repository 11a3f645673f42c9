"""The lead bank's view of its draw-downs: the queue and one draw-down, with the borrower as the bank's standing
consent (启信) allows and the certificate's figures."""

from __future__ import annotations

import contextlib
import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.consents import service as consents
from app.consents.models import Consent
from app.core.crypto import decrypt, mask_id_number, mask_name, mask_phone
from app.core.dates import china_today
from app.core.errors import NotFound
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.core.principal import Principal
from app.credit.models import Certificate, Household
from app.drawdowns import isolation
from app.drawdowns.models import Drawdown, DrawdownPolicy, DrawdownStatus, Repayment
from app.drawdowns.presentation import public_fields, repayments_of, status_filter
from app.drawdowns.schemas import BankDrawdownPublic, BorrowerPublic, CertificateSummary
from app.drawdowns.service import ORDER

S = DrawdownStatus


def _resident_id(h: Household) -> str | None:
    # Ratings imports encrypt under "resident_id"; older records used other contexts. A ciphertext from another
    # context or key shows nothing rather than failing the queue.
    for context in ("resident_id", "household", ""):
        with contextlib.suppress(Exception):
            return decrypt(h.id_number_enc, context)
    return None


def _borrower(h: Household, phone: str | None, stars: int, consent: Consent | None) -> BorrowerPublic:
    """Identity for lending as the lead bank's standing consent (启信) allows: name, resident ID and phone in
    full for the fields it covers; masked without it (withdrawn, or a former lead bank)."""
    fields = set(consent.fields or []) if consent is not None else set()
    phone = phone or h.phone
    rid = _resident_id(h)
    return BorrowerPublic(
        household_id=h.id,
        real_name=h.real_name if "real_name" in fields else mask_name(h.real_name) or "",
        phone=phone if "phone" in fields else mask_phone(phone),
        id_number=rid if "id_number" in fields else mask_id_number(rid),
        village_code=h.village_code,
        is_registered_poor=h.is_registered_poor,
        stars=stars,
        masked=not {"real_name", "id_number"} <= fields,
        consent_id=consent.id if consent is not None else None,
    )


def _present(
    dd: Drawdown,
    h: Household,
    c: Certificate,
    phone: str | None,
    reps: list[Repayment],
    policy: DrawdownPolicy,
    today: date,
    consent: Consent | None,
) -> BankDrawdownPublic:
    return BankDrawdownPublic(
        **public_fields(dd, reps, policy, today),
        borrower=_borrower(h, phone, c.stars, consent),
        certificate=CertificateSummary(
            id=c.id,
            number=c.number,
            color=c.color,
            stars=c.stars,
            limit_fen=c.limit_fen,
            outstanding_fen=c.outstanding_fen,
            pending_fen=c.pending_fen,
            available_fen=max(0, c.limit_fen - c.outstanding_fen - c.pending_fen),
            status=c.status,
            max_annual_rate_bp=c.max_annual_rate_bp,
            expires_on=c.expires_on,
        ),
    )


def _joined() -> Any:
    return (
        select(Drawdown, Household, Certificate, User.phone)
        .join(Household, Household.id == Drawdown.household_id)
        .join(Certificate, Certificate.id == Drawdown.certificate_id)
        .outerjoin(User, User.id == Drawdown.user_id)
        .execution_options(populate_existing=True)
    )


async def list_for_bank(
    session: AsyncSession, p: Principal, status: S | None, limit: int, cursor: str | None
) -> tuple[list[BankDrawdownPublic], str | None]:
    policy = await isolation.get_policy(session)
    today = china_today()
    q = _joined().where(Drawdown.bank_id == p.bank_id)
    if status is not None:
        q = q.where(status_filter(status, policy, today))
    if cursor:
        q = q.where(after(ORDER, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(q.order_by(*order_by(ORDER)).limit(limit + 1))).all()
    page, nxt = page_of(rows, limit, lambda r: (r[0].created_at, r[0].id))
    reps = await repayments_of(session, [r[0].id for r in page])
    allowed = await consents.activation_consents(session, {h.id for _, h, _, _ in page}, bank_id=p.bank_id)
    return [_present(dd, h, c, ph, reps[dd.id], policy, today, allowed.get(h.id)) for dd, h, c, ph in page], nxt


async def present(session: AsyncSession, drawdown_id: uuid.UUID) -> BankDrawdownPublic:
    dd, h, c, ph = (await session.execute(_joined().where(Drawdown.id == drawdown_id))).one()
    reps = await repayments_of(session, [dd.id])
    # The lender of record sees what its consent covers; a draw-down is only ever shown to its lender.
    allowed = await consents.activation_consents(session, [h.id], bank_id=dd.bank_id)
    return _present(dd, h, c, ph, reps[dd.id], await isolation.get_policy(session), china_today(), allowed.get(h.id))


async def get_for_bank(session: AsyncSession, p: Principal, drawdown_id: uuid.UUID) -> BankDrawdownPublic:
    ok = (
        await session.execute(select(Drawdown.id).where(Drawdown.id == drawdown_id, Drawdown.bank_id == p.bank_id))
    ).first()
    if ok is None:
        raise NotFound()
    return await present(session, drawdown_id)
