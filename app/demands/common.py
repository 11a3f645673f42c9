"""What both sides of the demand library share: status rules, look-ups in batches, presentation pieces."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import EnterpriseProfile, User
from app.banks.models import Bank, BankCounty
from app.catalog import incentives
from app.catalog.models import Product, ProductCounty, ProductStatus
from app.consents.models import Consent
from app.core import crypto
from app.core.money import yuan_text
from app.credit.models import Certificate, Household
from app.demands.models import Demand, DemandOffer, DemandStatus
from app.demands.schemas import BankRef, OfferPublic, ProductRef, RegionRef
from app.demands.scoring import ProductFacts
from app.regions.models import Region
from app.regions.service import display_name

VALID_DAYS = 30
MAX_OPEN = 3


def effective_status(d: Demand, today: date) -> str:
    """Expiry is derived on read; the worker records it (and tells the farmer) soon after."""
    if d.status == DemandStatus.open and d.expires_on < today:
        return DemandStatus.expired
    return d.status


def open_filter(today: date) -> Any:
    return and_(Demand.status == DemandStatus.open, col(Demand.expires_on) >= today)


def expires_from(today: date) -> date:
    return today + timedelta(days=VALID_DAYS)


def yuan(fen: int) -> str:
    return yuan_text(fen)


async def region_names(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    wanted = set(codes)
    if not wanted:
        return {}
    rows = await session.execute(select(Region.code, Region.name).where(col(Region.code).in_(wanted)))
    return {c: display_name(n) for c, n in rows.all()}


def region_ref(code: str, names: dict[str, str]) -> RegionRef:
    return RegionRef(code=code, name=names.get(code, code))


async def bank_names(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Bank.id, Bank.name).where(col(Bank.id).in_(wanted)))
    return {i: n for i, n in rows.all()}


async def banks_serving(session: AsyncSession, counties: Iterable[str]) -> dict[str, list[BankRef]]:
    wanted = set(counties)
    out: dict[str, list[BankRef]] = {c: [] for c in wanted}
    if not wanted:
        return out
    rows = await session.execute(
        select(BankCounty.county_code, Bank.id, Bank.name)
        .join(Bank, Bank.id == BankCounty.bank_id)
        .where(col(BankCounty.county_code).in_(wanted), col(Bank.is_active).is_(True))
        .order_by(Bank.name, Bank.id)
    )
    for county, bid, name in rows.all():
        out[county].append(BankRef(id=bid, name=name))
    return out


def product_ref(p: Product, banks: dict[uuid.UUID, str] | None = None) -> ProductRef:
    return ProductRef(
        id=p.id,
        name=p.name,
        kind=p.kind,
        bank=BankRef(id=p.bank_id, name=banks.get(p.bank_id, "")) if banks is not None else None,
        min_amount_fen=p.min_amount_fen,
        max_amount_fen=p.max_amount_fen,
        min_term_months=p.min_term_months,
        max_term_months=p.max_term_months,
        min_annual_rate_bp=p.min_annual_rate_bp,
        max_annual_rate_bp=p.max_annual_rate_bp,
        collateral_types=list(p.collateral_types),
    )


def facts(p: Product) -> ProductFacts:
    return ProductFacts(
        kind=p.kind,
        min_amount_fen=p.min_amount_fen,
        max_amount_fen=p.max_amount_fen,
        min_term_months=p.min_term_months,
        max_term_months=p.max_term_months,
        collateral_types=list(p.collateral_types),
        # who the product is for as the offer check sees it (an untargeted SME loan is for businesses only)
        target_mask=incentives.effective_target_mask(p.kind, p.target_mask),
        county_codes=list(p.county_codes),
        valid_from=p.valid_from,
        valid_until=p.valid_until,
    )


def live_products(today: date) -> Any:
    return and_(
        Product.status == ProductStatus.published,
        or_(col(Product.valid_from).is_(None), col(Product.valid_from) <= today),
        or_(col(Product.valid_until).is_(None), col(Product.valid_until) >= today),
    )


async def products_in_counties(session: AsyncSession, counties: Iterable[str], today: date) -> list[Product]:
    """Published, valid products of active banks serving any of these counties."""
    wanted = set(counties)
    if not wanted:
        return []
    ids = select(ProductCounty.product_id).where(col(ProductCounty.county_code).in_(wanted))
    rows = await session.execute(
        select(Product)
        .join(Bank, Bank.id == Product.bank_id)
        .where(col(Product.id).in_(ids), live_products(today), col(Bank.is_active).is_(True))
        .order_by(Product.min_annual_rate_bp, Product.id)
        .limit(1000)
    )
    return list(rows.scalars().all())


async def offers_of(
    session: AsyncSession, demand_ids: Sequence[uuid.UUID], bank_id: uuid.UUID | None = None
) -> dict[uuid.UUID, list[OfferPublic]]:
    out: dict[uuid.UUID, list[OfferPublic]] = {i: [] for i in demand_ids}
    if not demand_ids:
        return out
    q = select(DemandOffer).where(col(DemandOffer.demand_id).in_(list(demand_ids)))
    if bank_id is not None:
        q = q.where(DemandOffer.bank_id == bank_id)
    offers = list((await session.execute(q.order_by(DemandOffer.created_at, DemandOffer.id))).scalars().all())
    if not offers:
        return out
    products = {
        p.id: p
        for p in (
            await session.execute(select(Product).where(col(Product.id).in_({o.product_id for o in offers})))
        ).scalars()
    }
    names = await bank_names(session, {o.bank_id for o in offers})
    for o in offers:
        out[o.demand_id].append(offer_public(o, products[o.product_id], names))
    return out


def offer_public(o: DemandOffer, product: Product, names: dict[uuid.UUID, str]) -> OfferPublic:
    return OfferPublic(
        id=o.id,
        demand_id=o.demand_id,
        bank=BankRef(id=o.bank_id, name=names.get(o.bank_id, "")),
        product=product_ref(product),
        amount_fen=o.amount_fen,
        annual_rate_bp=o.annual_rate_bp,
        term_months=o.term_months,
        note=o.note,
        status=o.status,
        created_at=o.created_at,
        updated_at=o.updated_at,
    )


@dataclass
class Person:
    name: str | None
    phone: str | None
    id_number: str | None


def _resident_id(enc: str | None) -> str | None:
    if not enc:
        return None
    try:
        return crypto.decrypt(enc, "resident_id")
    except Exception:  # a record written under another key context: show nothing rather than fail
        return None


async def applicants(session: AsyncSession, demands: Sequence[Demand]) -> dict[uuid.UUID, Person]:
    """The person behind each demand: the household (name, phone, resident ID) or the enterprise and its
    account's phone. Three queries for any number of demands."""
    hids = {d.household_id for d in demands if d.household_id}
    uids = {d.user_id for d in demands if d.user_id}
    eids = {d.enterprise_id for d in demands if d.enterprise_id}
    households = (
        {h.id: h for h in (await session.execute(select(Household).where(col(Household.id).in_(hids)))).scalars()}
        if hids
        else {}
    )
    phones = (
        {i: ph for i, ph in (await session.execute(select(User.id, User.phone).where(col(User.id).in_(uids)))).all()}
        if uids
        else {}
    )
    firms = (
        {
            i: n
            for i, n in (
                await session.execute(
                    select(EnterpriseProfile.id, EnterpriseProfile.name).where(col(EnterpriseProfile.id).in_(eids))
                )
            ).all()
        }
        if eids
        else {}
    )
    out: dict[uuid.UUID, Person] = {}
    for d in demands:
        user_phone = phones.get(d.user_id) if d.user_id else None
        h = households.get(d.household_id) if d.household_id else None
        if h is not None:
            out[d.id] = Person(h.real_name, h.phone or user_phone, _resident_id(h.id_number_enc))
        else:
            out[d.id] = Person(firms.get(d.enterprise_id) if d.enterprise_id else None, user_phone, None)
    return out


async def consented(session: AsyncSession, bank_id: uuid.UUID, demands: Sequence[Demand]) -> dict[uuid.UUID, set[str]]:
    """For each demand, the fields its applicant's standing consents let this bank see (empty: masked).
    The batch form of app.consents.service.has_consent: one query for the page."""
    hids = {d.household_id for d in demands if d.household_id}
    uids = {d.user_id for d in demands if d.user_id and not d.household_id}
    out: dict[uuid.UUID, set[str]] = {d.id: set() for d in demands}
    if not hids and not uids:
        return out
    conds = []
    if hids:
        conds.append(col(Consent.household_id).in_(hids))
    if uids:
        conds.append(and_(col(Consent.household_id).is_(None), col(Consent.user_id).in_(uids)))
    rows = await session.execute(
        select(Consent.household_id, Consent.user_id, Consent.fields).where(
            Consent.bank_id == bank_id, col(Consent.withdrawn_at).is_(None), or_(*conds)
        )
    )
    by_h: dict[uuid.UUID, set[str]] = {}
    by_u: dict[uuid.UUID, set[str]] = {}
    for hid, uid, fields in rows.all():
        if hid is not None:
            by_h.setdefault(hid, set()).update(fields or [])
        else:
            by_u.setdefault(uid, set()).update(fields or [])
    for d in demands:
        if d.household_id:
            out[d.id] = by_h.get(d.household_id, set())
        elif d.user_id:
            out[d.id] = by_u.get(d.user_id, set())
    return out


async def available_on_certificates(
    session: AsyncSession, household_ids: Iterable[uuid.UUID], today: date
) -> dict[uuid.UUID, int]:
    """Available amount of each household's current, active, unexpired certificate (absent: none)."""
    wanted = set(household_ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(
            Certificate.household_id, Certificate.limit_fen, Certificate.outstanding_fen, Certificate.pending_fen
        ).where(
            col(Certificate.household_id).in_(wanted),
            col(Certificate.is_current).is_(True),
            Certificate.status == "active",
            Certificate.expires_on >= today,
        )
    )
    return {hid: max(0, lim - out - pend) for hid, lim, out, pend in rows.all()}
