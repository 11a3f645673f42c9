"""The catalog's front: what the other domains use of products, their incentive rules and vocabularies.

Other domains import this module, never the catalog's inner modules (`incentives`, `product`, `views`, `media`,
`models`...), so this list is what the catalog promises them:

- incentive rules (守信激励, `app.catalog.incentives`): the stars a household counts with, its target mask, a
  product's rate for a household and the draw-down cap, the products a household matches;
- the published products a demand or an offer reads (`live_products`, `products_in_counties`,
  `products_by_id`), and the product row and vocabularies they are read as (read only: the catalog writes them);
- the product images' static app (`media_app`), which `app.main` mounts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.banks.models import Bank
from app.catalog.incentives import MAX_MATCHING as MAX_MATCHING
from app.catalog.incentives import NONE as NONE
from app.catalog.incentives import Rate as Rate
from app.catalog.incentives import Terms as Terms
from app.catalog.incentives import cap_text as cap_text
from app.catalog.incentives import drawdown_cap as drawdown_cap
from app.catalog.incentives import effective_target_mask as effective_target_mask
from app.catalog.incentives import household_mask as household_mask
from app.catalog.incentives import household_stars as household_stars
from app.catalog.incentives import matching_products as matching_products
from app.catalog.incentives import product_rate as product_rate
from app.catalog.incentives import serves as serves
from app.catalog.incentives import targets_text as targets_text
from app.catalog.media import media_app as media_app
from app.catalog.models import TARGET_BITS as TARGET_BITS
from app.catalog.models import CollateralType as CollateralType
from app.catalog.models import Product, ProductCounty, ProductStatus
from app.catalog.models import Product as ProductRow  # a product as read by other domains (never written)
from app.catalog.models import ProductKind as ProductKind

__all__ = [
    "MAX_MATCHING",
    "NONE",
    "TARGET_BITS",
    "CollateralType",
    "ProductKind",
    "ProductRow",
    "Rate",
    "Terms",
    "cap_text",
    "drawdown_cap",
    "effective_target_mask",
    "household_mask",
    "household_stars",
    "live_products",
    "matching_products",
    "media_app",
    "product_rate",
    "products_by_id",
    "products_in_counties",
    "serves",
    "targets_text",
]


def live_products(today: date) -> Any:
    """The condition of a product that is published and valid on `today` (for a query over products)."""
    return and_(
        Product.status == ProductStatus.published,
        or_(col(Product.valid_from).is_(None), col(Product.valid_from) <= today),
        or_(col(Product.valid_until).is_(None), col(Product.valid_until) >= today),
    )


async def products_in_counties(session: AsyncSession, counties: Iterable[str], today: date) -> list[Product]:
    """Published, valid products of active banks serving any of these counties (cheapest first, at most 1,000)."""
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


async def products_by_id(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Product]:
    """The products of `ids`, whatever their state (an offer keeps its product)."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {p.id: p for p in (await session.execute(select(Product).where(col(Product.id).in_(wanted)))).scalars()}
