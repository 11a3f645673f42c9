"""The farmer's rates: the terms they depend on (stars, the certificate's cap, the county, who the household is),
the matching products and the draw-down's cap with the star discount (守信激励) for `/me/credit` and
`GET /products?for_me=true`."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.catalog import incentives
from app.core import hooks
from app.core.dates import china_today
from app.credit import repository
from app.credit.models import Certificate, Household
from app.credit.schemas import BankRef, DrawdownRate, MatchingProduct


def terms_of(h: Household, cert: Certificate | None, household_type: str | None) -> incentives.Terms:
    return incentives.Terms(
        stars=incentives.household_stars(h.stars, h.is_credit_household),
        certificate_cap_bp=cert.max_annual_rate_bp if cert is not None else None,
        county_code=h.county_code,
        applicant_mask=incentives.household_mask(registered_poor=h.is_registered_poor, household_type=household_type),
    )


@hooks.subscribe("catalog.household_terms")
async def household_terms(session: AsyncSession, user_id: uuid.UUID) -> incentives.Terms:
    """What the farmer's rates depend on (`GET /products?for_me=true`, asked as the signal
    `catalog.household_terms`: the catalog sits below credit); no linked household, no discount."""
    h, cert, _ = await repository.mine(session, user_id)
    if h is None:
        return incentives.NONE
    household_type = await session.scalar(select(User.household_type).where(User.id == user_id))
    return terms_of(h, cert, household_type)


async def of_household(
    session: AsyncSession, h: Household, cert: Certificate | None, terms: incentives.Terms
) -> tuple[DrawdownRate | None, list[MatchingProduct]]:
    today = china_today()
    assert terms.county_code is not None
    rows = await incentives.matching_products(
        session,
        county_code=terms.county_code,
        applicant_mask=terms.applicant_mask,
        has_certificate=cert is not None,
        today=today,
    )
    # Rate every matching product, keep the best MAX_MATCHING, and only then build their models (a county
    # can offer hundreds of products; building a model for each one cost more than the rest of /me/credit).
    rated = []
    for r in rows:
        rate = incentives.product_rate(
            r.kind, r.max_annual_rate_bp, r.star_discounts_bp, terms.stars, terms.certificate_cap_bp
        )
        rated.append((rate.max_bp, r.min_annual_rate_bp, str(r.id), r, rate.discount_bp))
    rated.sort(key=lambda t: t[:3])
    products = [
        MatchingProduct(
            product_id=r.id,
            name=r.name,
            kind=r.kind,
            bank=BankRef(id=r.bank_id, name=r[4]),
            min_annual_rate_bp=r.min_annual_rate_bp,
            max_annual_rate_bp=r.max_annual_rate_bp,
            star_discount_bp=discount_bp,
            best_rate_bp=best_bp,
        )
        for best_bp, _, _, r, discount_bp in rated[: incentives.MAX_MATCHING]
    ]
    drawdown = None
    if cert is not None:
        rate = await incentives.drawdown_cap(
            session,
            certificate_cap_bp=cert.max_annual_rate_bp,
            lead_bank_id=cert.lead_bank_id,
            county_code=h.county_code,
            applicant_mask=terms.applicant_mask,
            stars=cert.stars,
            today=today,
        )
        drawdown = DrawdownRate(
            certificate_cap_bp=rate.ceiling_bp, star_discount_bp=rate.discount_bp, best_rate_bp=rate.max_bp
        )
    return drawdown, products
