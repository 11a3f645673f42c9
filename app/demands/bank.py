"""The bank's side of the demand library: one demand and its offers; the ranked feed is app.demands.bank_feed
and the bank's view of a demand app.demands.bank_view. Personal data stays masked unless the applicant's consent
to this bank stands."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
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
from app.core.principal import Principal
from app.credit.models import Certificate, Household
from app.demands import common
from app.demands.bank_feed import Filters, list_for_bank
from app.demands.bank_view import bank_of, present
from app.demands.common import effective_status, yuan
from app.demands.models import Demand, DemandOffer, DemandStatus, OfferStatus
from app.demands.schemas import BankDemandPublic, OfferCreate, OfferPublic
from app.demands.scoring import PURPOSE_ZH
from app.notifications.service import notify

__all__ = ["Filters", "create_offer", "get_for_bank", "list_for_bank", "withdraw_offer"]

DEFAULT_CERT_CAP_BP = 675


async def _own_products(session: AsyncSession, bank_id: uuid.UUID) -> list[Product]:
    today = china_today()
    rows = await session.execute(
        select(Product)
        .where(Product.bank_id == bank_id, common.live_products(today))
        .order_by(Product.min_annual_rate_bp, Product.id)
    )
    return list(rows.scalars().all())


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
    bank_id = bank_of(p)
    d = await _visible(session, bank_id, demand_id)
    return (await present(session, bank_id, [d]))[0]


async def create_offer(session: AsyncSession, p: Principal, demand_id: uuid.UUID, body: OfferCreate) -> OfferPublic:
    bank_id = bank_of(p)
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
    bank_id = bank_of(p)
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
