"""What both sides of the demand library share: status rules, look-ups in batches, presentation pieces."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import EnterpriseProfile, User
from app.banks import service as banks
from app.banks.models import Bank, BankCounty
from app.catalog import service as catalog
from app.catalog.service import ProductRow as Product
from app.consents import service as consents
from app.core import crypto
from app.core.crypto import mask_id_number, mask_name, mask_phone
from app.core.money import yuan_text
from app.credit.models import Certificate, Household
from app.demands.models import Demand, DemandOffer, DemandStatus
from app.demands.schemas import ApplicantView, BankRef, OfferPublic, ProductRef, RegionRef
from app.demands.scoring import ProductFacts
from app.regions import service as regions
from app.regions.service import display_name

VALID_DAYS = 30
MAX_OPEN = 3


def rated(d: Demand) -> bool:
    """Rated by the provincial system: the demand comes from a linked household. An unrated household's (and an
    enterprise's) demand is 未评级: `rated: false`, `stars: null`."""
    return d.household_id is not None


def stars_of(d: Demand) -> int | None:
    return d.stars if rated(d) else None


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
    return {c: display_name(n) for c, n in (await regions.names(session, codes)).items()}


def region_ref(code: str, names: dict[str, str]) -> RegionRef:
    return RegionRef(code=code, name=names.get(code, code))


async def bank_names(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    return await banks.bank_names(session, ids)


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
        target_mask=catalog.effective_target_mask(p.kind, p.target_mask),
        county_codes=list(p.county_codes),
        valid_from=p.valid_from,
        valid_until=p.valid_until,
    )


live_products = catalog.live_products  # the catalog's (its front): published and valid on a day
products_in_counties = catalog.products_in_counties


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
    products = await catalog.products_by_id(session, {o.product_id for o in offers})
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


def seen_by(person: Person, fields: set[str]) -> ApplicantView:
    """The applicant as a bank holding a standing consent to `fields` sees it (empty: masked). The one rule for
    the bank's own views and for what the farmer is told banks see (`shared_with_banks`)."""
    see_name, see_phone = "real_name" in fields, "phone" in fields
    return ApplicantView(
        name=person.name if see_name else mask_name(person.name),
        phone=person.phone if see_phone else mask_phone(person.phone),
        id_number=person.id_number if "id_number" in fields else mask_id_number(person.id_number),
        masked=not (see_name and see_phone),
    )


async def applicants(session: AsyncSession, demands: Sequence[Demand]) -> dict[uuid.UUID, Person]:
    """The person behind each demand: the household (name, phone, resident ID), the enterprise and its
    account's phone, or (an unrated household) the account's own name, phone and resident ID. Three queries for
    any number of demands."""
    hids = {d.household_id for d in demands if d.household_id}
    uids = {d.user_id for d in demands if d.user_id}
    eids = {d.enterprise_id for d in demands if d.enterprise_id}
    households = (
        {h.id: h for h in (await session.execute(select(Household).where(col(Household.id).in_(hids)))).scalars()}
        if hids
        else {}
    )
    accounts = (
        {
            i: (ph, name, enc)
            for i, ph, name, enc in (
                await session.execute(
                    select(User.id, User.phone, User.real_name, User.id_number_enc).where(col(User.id).in_(uids))
                )
            ).all()
        }
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
        user_phone, user_name, user_id_enc = accounts.get(d.user_id, (None, None, None)) if d.user_id else (None,) * 3
        h = households.get(d.household_id) if d.household_id else None
        if h is not None:
            out[d.id] = Person(h.real_name, h.phone or user_phone, _resident_id(h.id_number_enc))
        elif d.enterprise_id is not None:
            out[d.id] = Person(firms.get(d.enterprise_id), user_phone, None)
        else:  # an unrated household: the name and resident ID its account gave (`PATCH /me`)
            out[d.id] = Person(user_name, user_phone, _resident_id(user_id_enc))
    return out


async def consented(session: AsyncSession, bank_id: uuid.UUID, demands: Sequence[Demand]) -> dict[uuid.UUID, set[str]]:
    """For each demand, the applicant's fields this bank may see in full (empty: masked). Only the bank whose
    offer on that demand was accepted, and only while the consent given by accepting it stands (DOMAIN.md:
    full contact details reach a bank only when the household accepts its offer). The lead bank's consent from
    activation covers identity for lending (its draw-downs), not the demand library. One query for the page."""
    accepted = {d.id: d.accepted_offer_id for d in demands if d.accepted_offer_id is not None}
    standing = await consents.offer_consents(session, accepted.values(), bank_id=bank_id)
    out: dict[uuid.UUID, set[str]] = {d.id: set() for d in demands}
    for demand_id, offer_id in accepted.items():
        c = standing.get(offer_id)
        if c is not None:
            out[demand_id] = set(c.fields or [])
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
