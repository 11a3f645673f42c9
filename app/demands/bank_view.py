"""The bank's view of a page of demands: each demand with the applicant as this bank may see them, the bank's
products that fit it, the match reasons and the bank's own offer. A fixed number of queries per page."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog.models import Product
from app.core.dates import china_today
from app.core.principal import Principal
from app.demands import common
from app.demands.common import effective_status
from app.demands.models import Demand, OfferStatus
from app.demands.schemas import BankDemandPublic, ProductRef
from app.demands.scoring import Matcher, reasons


def bank_of(p: Principal) -> uuid.UUID:
    assert p.bank_id is not None  # BankDemands guarantees it
    return p.bank_id


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


async def present(session: AsyncSession, bank_id: uuid.UUID, demands: Sequence[Demand]) -> list[BankDemandPublic]:
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
    # Each product's facts and public reference built once per page, not once per (demand, product) pair, and
    # matched through a Matcher (the products grouped by county): ~100 products × 20 demands a page.
    matcher = Matcher(((i, common.facts(p)) for i, p in enumerate(products)), today)
    refs: list[ProductRef | None] = [None] * len(products)

    def ref(i: int) -> ProductRef:
        r = refs[i]
        if r is None:
            r = refs[i] = common.product_ref(products[i])
        return r

    out = []
    for d in demands:
        avail = available.get(d.household_id) if d.household_id else None
        fits = matcher.fits(
            county_code=d.county_code,
            amount_fen=d.amount_fen,
            term_months=d.term_months,
            collateral_types=d.collateral_types,
            demand_targets=d.target_mask,
            certificate_available_fen=avail,
        )
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
                matching_products=[ref(i) for i in fits],
                my_offer=(live or offers)[-1] if offers else None,
                expires_on=d.expires_on,
                created_at=d.created_at,
            )
        )
    return out
