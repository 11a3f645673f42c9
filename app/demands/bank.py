"""The bank's side of the demand library: the ranked feed of open demands in the counties it serves, one
demand, and its offers. Personal data stays masked unless the applicant's consent to this bank stands."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, exists, literal, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.banks.service import bank_counties
from app.catalog import incentives
from app.catalog.models import Product, ProductKind
from app.core import audit
from app.core.dates import china_today
from app.core.db import utcnow
from app.core.errors import (
    Conflict,
    InvalidState,
    NotFound,
    ProductNotForApplicant,
    RateAboveCap,
    ValidationFailed,
    field_error,
)
from app.core.messages import status_zh
from app.core.money import percent_text
from app.core.pagination import after, decode_cursor, order_by, page_of
from app.core.principal import Principal
from app.credit.models import Certificate, Household
from app.demands import common
from app.demands.common import effective_status, open_filter, yuan
from app.demands.models import Demand, DemandOffer, DemandStatus, OfferStatus
from app.demands.schemas import BankDemandPublic, OfferCreate, OfferPublic
from app.demands.scoring import PURPOSE_ZH, product_fits, reasons
from app.notifications.service import notify

DEFAULT_CERT_CAP_BP = 675


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


def _bank_id(p: Principal) -> uuid.UUID:
    assert p.bank_id is not None  # BankDemands guarantees it
    return p.bank_id


async def _own_products(session: AsyncSession, bank_id: uuid.UUID) -> list[Product]:
    today = china_today()
    rows = await session.execute(
        select(Product)
        .where(Product.bank_id == bank_id, common.live_products(today))
        .order_by(Product.min_annual_rate_bp, Product.id)
    )
    return list(rows.scalars().all())


# The columns `common.facts` and `common.product_ref` read: loading whole Product rows (descriptions, documents,
# every JSON column) for ~100 products a page was the largest cost of the feed.
_FIT_COLUMNS = (
    Product.id,
    Product.name,
    Product.kind,
    Product.bank_id,
    Product.min_amount_fen,
    Product.max_amount_fen,
    Product.min_term_months,
    Product.max_term_months,
    Product.min_annual_rate_bp,
    Product.max_annual_rate_bp,
    Product.collateral_types,
    Product.target_mask,
    Product.county_codes,
    Product.valid_from,
    Product.valid_until,
)


async def _fit_products(session: AsyncSession, bank_id: uuid.UUID) -> list[Any]:
    """This bank's live products as rows of `_FIT_COLUMNS` (attribute access like a Product), same order."""
    rows = await session.execute(
        select(*_FIT_COLUMNS)
        .where(Product.bank_id == bank_id, common.live_products(china_today()))
        .order_by(Product.min_annual_rate_bp, Product.id)
    )
    return list(rows.all())


async def _present(session: AsyncSession, bank_id: uuid.UUID, demands: Sequence[Demand]) -> list[BankDemandPublic]:
    """A page of demands as this bank sees them: a fixed number of queries, whatever the page size."""
    if not demands:
        return []
    today = china_today()
    products = await _fit_products(session, bank_id)
    names = await common.region_names(session, {d.village_code for d in demands})
    people = await common.applicants(session, demands)
    allowed = await common.consented(session, bank_id, demands)
    available = await common.available_on_certificates(
        session, {d.household_id for d in demands if d.household_id}, today
    )
    mine = await common.offers_of(session, [d.id for d in demands], bank_id=bank_id)
    # Each product's facts and public reference built once per page, not once per (demand, product) pair:
    # with ~100 products per bank that was 2,000 ORM-attribute reads and up to 2,000 pydantic models a page.
    product_facts = [(p, common.facts(p)) for p in products]
    refs: dict[uuid.UUID, Any] = {}

    def ref(p: Any) -> Any:
        if p.id not in refs:
            refs[p.id] = common.product_ref(p)
        return refs[p.id]

    out = []
    for d in demands:
        avail = available.get(d.household_id) if d.household_id else None
        # the demand's attributes read once, not once per product (ORM attribute reads are not free)
        fit_args = {
            "county_code": d.county_code,
            "amount_fen": d.amount_fen,
            "term_months": d.term_months,
            "collateral_types": d.collateral_types,
            "demand_targets": d.target_mask,
            "certificate_available_fen": avail,
            "today": today,
        }
        fits = [p for p, p_facts in product_facts if product_fits(p_facts, **fit_args)]
        applicant = common.seen_by(people[d.id], allowed[d.id])
        offers = mine[d.id]
        live = [o for o in offers if o.status in (OfferStatus.pending, OfferStatus.accepted)]
        out.append(
            BankDemandPublic(
                id=d.id,
                status=effective_status(d, today),
                applicant_kind=d.applicant_kind,
                applicant=applicant,
                amount_fen=d.amount_fen,
                term_months=d.term_months,
                purpose=d.purpose,
                description=d.description,
                collateral_types=list(d.collateral_types),
                county_code=d.county_code,
                township_code=d.township_code,
                village=common.region_ref(d.village_code, names),
                stars=common.stars_of(d),
                rated=common.rated(d),
                key_enterprise=d.key_enterprise,
                match_score=Decimal(d.match_base).quantize(Decimal("0.01")),
                match_reasons=reasons(
                    stars=d.stars,
                    rated=common.rated(d),
                    key_enterprise=d.key_enterprise,
                    collateral_types=d.collateral_types,
                    description=d.description,
                    verified=d.household_id is not None,
                    matching=len(fits),
                    certificate_covers=avail is not None and avail >= d.amount_fen,
                ),
                matching_products=[ref(p) for p in fits],
                my_offer=(live or offers)[-1] if offers else None,
                expires_on=d.expires_on,
                created_at=d.created_at,
            )
        )
    return out


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
    bank_id = _bank_id(p)
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
    return await _present(session, bank_id, items), nxt


async def _visible(session: AsyncSession, bank_id: uuid.UUID, demand_id: uuid.UUID, *, lock: bool = False) -> Demand:
    """A demand in a county the bank serves, or one it has offered on; anything else is 404."""
    counties = await bank_counties(session, bank_id)
    q = select(Demand).where(Demand.id == demand_id)
    if lock:
        q = q.with_for_update()
    d = (await session.execute(q)).scalar_one_or_none()
    if d is None:
        raise NotFound()
    if d.county_code not in counties:
        offered = await session.scalar(
            select(exists().where(DemandOffer.demand_id == d.id, DemandOffer.bank_id == bank_id))
        )
        if not offered:
            raise NotFound()
    return d


async def get_for_bank(session: AsyncSession, p: Principal, demand_id: uuid.UUID) -> BankDemandPublic:
    bank_id = _bank_id(p)
    d = await _visible(session, bank_id, demand_id)
    return (await _present(session, bank_id, [d]))[0]


async def create_offer(session: AsyncSession, p: Principal, demand_id: uuid.UUID, body: OfferCreate) -> OfferPublic:
    bank_id = _bank_id(p)
    d = await _visible(session, bank_id, demand_id, lock=True)
    product = await session.get(Product, body.product_id)
    today = china_today()
    if product is None or product.bank_id != bank_id:
        raise NotFound(("产品不存在", "No such product"))
    if product.id not in {x.id for x in await _own_products(session, bank_id)}:
        raise NotFound(("产品不存在或未上架", "No such published product"))
    status = effective_status(d, today)
    if status != DemandStatus.open:
        raise InvalidState(
            (f"该融资需求当前状态为“{status_zh('demand', status)}”，不能报价", f"The demand is {status}")
        )
    live = await session.scalar(
        select(DemandOffer.id).where(
            DemandOffer.demand_id == d.id, DemandOffer.bank_id == bank_id, DemandOffer.status == OfferStatus.pending
        )
    )
    if live is not None:
        raise InvalidState(
            ("本行对该需求已有一条有效报价，请先撤回再重新报价", "This bank already has a live offer on this demand"),
            extra={"offer_id": str(live)},
        )
    errs = []
    if d.county_code not in product.county_codes:
        errs.append(field_error("product_id", "county_not_served", "该产品不服务需求所在县区"))
    if not product.min_amount_fen <= body.amount_fen <= product.max_amount_fen:
        errs.append(
            field_error(
                "amount_fen",
                "out_of_range",
                f"金额须在产品范围 {yuan(product.min_amount_fen)}–{yuan(product.max_amount_fen)} 元之内",
            )
        )
    if not product.min_term_months <= body.term_months <= product.max_term_months:
        errs.append(
            field_error(
                "term_months",
                "out_of_range",
                f"期限须在产品范围 {product.min_term_months}–{product.max_term_months} 个月之内",
            )
        )
    if body.annual_rate_bp < product.min_annual_rate_bp:
        errs.append(
            field_error(
                "annual_rate_bp",
                "below_range",
                f"年利率不得低于产品下限 {percent_text(product.min_annual_rate_bp)}%",
            )
        )
    if errs:
        raise ValidationFailed(errors=errs)
    if not incentives.serves(product.kind, product.target_mask, d.target_mask):
        raise ProductNotForApplicant(
            (
                f"该产品面向{incentives.targets_text(product.kind, product.target_mask)}，"
                f"不适用于{'农户' if d.applicant_kind == 'household' else '企业'}的融资需求",
                "The product is not for this kind of applicant",
            ),
            errors=[field_error("product_id", "product_not_for_applicant", "该产品不适用于此申请人")],
        )
    stars, cert_cap = 0, None
    if d.household_id is not None:
        h = await session.get(Household, d.household_id)
        stars = incentives.household_stars(h.stars, h.is_credit_household) if h is not None else 0
    if product.kind == ProductKind.certificate_loan:
        cert_cap = DEFAULT_CERT_CAP_BP
        if d.household_id is not None:
            found = await session.scalar(
                select(Certificate.max_annual_rate_bp).where(
                    Certificate.household_id == d.household_id, col(Certificate.is_current).is_(True)
                )
            )
            cert_cap = found if found is not None else DEFAULT_CERT_CAP_BP
    rate = incentives.product_rate(product.kind, product.max_annual_rate_bp, product.star_discounts_bp, stars, cert_cap)
    if body.annual_rate_bp > rate.max_bp:
        why = "授信证利率上限" if rate.ceiling_bp < product.max_annual_rate_bp else "产品利率上限"
        msg = incentives.cap_text(rate, why, stars)
        raise RateAboveCap(
            (
                f"年利率 {percent_text(body.annual_rate_bp)}% 过高：{msg}",
                f"The rate is above the cap of {percent_text(rate.max_bp)}%",
            ),
            errors=[field_error("annual_rate_bp", "rate_above_cap", msg)],
            extra={"cap_bp": rate.max_bp},
        )
    o = DemandOffer(
        demand_id=d.id,
        bank_id=bank_id,
        product_id=product.id,
        amount_fen=body.amount_fen,
        annual_rate_bp=body.annual_rate_bp,
        term_months=body.term_months,
        note=body.note.strip(),
        created_by=p.caller_key,
    )
    session.add(o)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:  # a concurrent second offer from the same bank
        raise Conflict(("本行对该需求已有一条有效报价", "This bank already has a live offer")) from exc
    await audit.record(
        session,
        action="offer.create",
        object_type="demand_offer",
        object_id=o.id,
        after={
            "status": o.status,
            "amount_fen": o.amount_fen,
            "annual_rate_bp": o.annual_rate_bp,
            "term_months": o.term_months,
        },
        demand_id=str(d.id),
        product_id=str(product.id),
    )
    people = await common.applicants(session, [d])
    names = await common.bank_names(session, [bank_id])
    bank_name = names.get(bank_id, "银行")
    text = (
        f"{bank_name}对您 {yuan(d.amount_fen)} 元的{PURPOSE_ZH.get(d.purpose, '')}融资需求给出报价："
        f"{yuan(o.amount_fen)} 元，年利率 {percent_text(o.annual_rate_bp)}%，{o.term_months} 个月。请登录普惠通查看。"
    )
    await notify(
        session,
        user_id=d.user_id,
        kind="offer.created",
        title="收到新的贷款报价",
        body=text,
        data={"demand_id": str(d.id), "offer_id": str(o.id)},
        sms_to=people[d.id].phone,
    )
    return common.offer_public(o, product, names)


async def withdraw_offer(session: AsyncSession, p: Principal, demand_id: uuid.UUID, offer_id: uuid.UUID) -> None:
    bank_id = _bank_id(p)
    o = (
        await session.execute(
            select(DemandOffer)
            .where(DemandOffer.id == offer_id, DemandOffer.demand_id == demand_id, DemandOffer.bank_id == bank_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if o is None:
        raise NotFound()
    if o.status != OfferStatus.pending:
        raise InvalidState(
            ("该报价已不是有效状态，不能撤回", f"The offer is {o.status}"), extra={"current_status": o.status}
        )
    o.status, o.updated_at = OfferStatus.withdrawn, utcnow()
    await session.flush()
    await audit.record(
        session,
        action="offer.withdraw",
        object_type="demand_offer",
        object_id=o.id,
        before={"status": OfferStatus.pending},
        after={"status": o.status},
        demand_id=str(demand_id),
    )
    d = await session.get(Demand, demand_id)
    if d is not None and d.user_id is not None:
        await notify(
            session,
            user_id=d.user_id,
            kind="offer.withdrawn",
            title="银行撤回了报价",
            body=f"银行撤回了对您 {yuan(d.amount_fen)} 元融资需求的报价。",
            data={"demand_id": str(d.id), "offer_id": str(o.id)},
        )
