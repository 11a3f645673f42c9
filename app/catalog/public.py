"""The farmers' catalog: published products only, filtered and searched with indexed side tables, keyset
paginated; and a Redis cache of the answers that a publish, revision swap or withdrawal invalidates."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.banks.models import Bank
from app.catalog import incentives, search
from app.catalog.models import TARGET_BITS, Product, ProductCounty, ProductStatus, ProductTerm
from app.catalog.product import content_of
from app.catalog.schemas import BankBrief, CatalogItem, CatalogItemForMe, CatalogProduct
from app.catalog.views import images_of
from app.core.dates import china_today
from app.core.errors import NotFound, ValidationFailed, field_error
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid

VERSION_KEY = "catalog:version"
CACHE_TTL = 300


@dataclass(frozen=True)
class Filters:
    county_code: str | None = None
    kind: str | None = None
    amount_fen: int | None = None
    term_months: int | None = None
    collateral_free: bool | None = None
    target: str | None = None
    bank_id: uuid.UUID | None = None
    q: str | None = None
    sort: str = "newest"


def _live() -> Any:
    today = china_today()
    return and_(
        Product.status == ProductStatus.published,
        col(Bank.is_active).is_(True),
        or_(col(Product.valid_from).is_(None), col(Product.valid_from) <= today),
        or_(col(Product.valid_until).is_(None), col(Product.valid_until) >= today),
    )


def _search(q: str) -> Any:
    ws = search.words(q)
    if not ws or any(len(w) < 2 for w in ws):
        raise ValidationFailed(errors=[field_error("q", "too_short", "关键词每个词至少两个字")])
    grams = sorted(set().union(*(search.bigrams(w) for w in ws)))
    candidates = (
        select(ProductTerm.product_id)
        .where(col(ProductTerm.term).in_(grams))
        .group_by(ProductTerm.product_id)
        .having(func.count() == len(grams))
    )
    confirm = [
        or_(
            func.lower(Product.name).contains(w, autoescape=True),
            func.lower(Product.description).contains(w, autoescape=True),
        )
        for w in ws
    ]
    return and_(col(Product.id).in_(candidates), *confirm)


async def list_products(
    session: AsyncSession, f: Filters, limit: int, cursor: str | None
) -> tuple[list[CatalogItem], str | None]:
    stmt = (
        select(
            Product.id,
            Product.name,
            Product.kind,
            Product.bank_id,
            Bank.name,
            Product.min_amount_fen,
            Product.max_amount_fen,
            Product.min_term_months,
            Product.max_term_months,
            Product.min_annual_rate_bp,
            Product.max_annual_rate_bp,
            Product.collateral_free,
            Product.guarantee_required,
            Product.targets,
            Product.star_discounts_bp,
            Product.published_at,
        )
        .join(Bank, Bank.id == Product.bank_id)
        .where(_live())
    )
    if f.county_code:
        stmt = stmt.where(
            col(Product.id).in_(select(ProductCounty.product_id).where(ProductCounty.county_code == f.county_code))
        )
    if f.kind:
        stmt = stmt.where(Product.kind == f.kind)
    if f.amount_fen is not None:
        stmt = stmt.where(Product.min_amount_fen <= f.amount_fen, Product.max_amount_fen >= f.amount_fen)
    if f.term_months is not None:
        stmt = stmt.where(Product.min_term_months <= f.term_months, Product.max_term_months >= f.term_months)
    if f.collateral_free is not None:
        stmt = stmt.where(col(Product.collateral_free).is_(f.collateral_free))
    if f.target:
        stmt = stmt.where(col(Product.target_mask).op("&")(TARGET_BITS[f.target]) != 0)
    if f.bank_id:
        stmt = stmt.where(Product.bank_id == f.bank_id)
    if f.q:
        stmt = stmt.where(_search(f.q))
    if f.sort == "rate":
        cols = [(Product.min_annual_rate_bp, False), (Product.id, False)]
        types: list[Any] = [int, parse_uuid]
        key = lambda r: [r.min_annual_rate_bp, r.id]  # noqa: E731
    else:
        cols = [(Product.published_at, True), (Product.id, True)]
        types = [parse_dt, parse_uuid]
        key = lambda r: [r.published_at, r.id]  # noqa: E731
    if cursor:
        stmt = stmt.where(after(cols, decode_cursor(cursor, types)))
    rows = (await session.execute(stmt.order_by(*order_by(cols)).limit(limit + 1))).all()
    page, nxt = page_of(rows, limit, key)
    items = [
        CatalogItem(
            id=r.id,
            name=r.name,
            kind=r.kind,
            bank=BankBrief(id=r.bank_id, name=r[4]),
            min_amount_fen=r.min_amount_fen,
            max_amount_fen=r.max_amount_fen,
            min_term_months=r.min_term_months,
            max_term_months=r.max_term_months,
            min_annual_rate_bp=r.min_annual_rate_bp,
            max_annual_rate_bp=r.max_annual_rate_bp,
            collateral_free=r.collateral_free,
            guarantee_required=r.guarantee_required,
            targets=r.targets,
            star_discounts_bp=r.star_discounts_bp or {},
        )
        for r in page
    ]
    return items, nxt


async def get_product(session: AsyncSession, product_id: uuid.UUID) -> CatalogProduct:
    row = (
        await session.execute(
            select(Product, Bank.name).join(Bank, Bank.id == Product.bank_id).where(Product.id == product_id, _live())
        )
    ).first()
    if row is None:
        raise NotFound(("产品不存在或已下架", "No such product"))
    p, bank_name = row
    images = (await images_of(session, [p.id]))[p.id]
    return CatalogProduct(
        **content_of(p),
        collateral_free=p.collateral_free,
        id=p.id,
        bank=BankBrief(id=p.bank_id, name=bank_name),
        published_at=p.published_at,
        images=images,
    )


def personalize(items: list[CatalogItem], terms: incentives.Terms) -> list[CatalogItemForMe]:
    """Each catalog item with the rate this household would get on it (app.catalog.incentives)."""
    out = []
    for it in items:
        rate = incentives.product_rate(
            it.kind, it.max_annual_rate_bp, it.star_discounts_bp, terms.stars, terms.certificate_cap_bp
        )
        out.append(CatalogItemForMe(**it.model_dump(), my_rate_bp=rate.max_bp, my_discount_bp=rate.discount_bp))
    return out


# ---- the Redis cache ----------------------------------------------------------------------------------------


async def cache_key(redis: Any, path: str, query: list[tuple[str, str]], lang: str) -> str:
    version = await redis.get(VERSION_KEY) or "0"
    raw = f"{path}?{sorted(query)}|{lang}|{china_today().isoformat()}"
    return f"catalog:{version}:{hashlib.sha256(raw.encode()).hexdigest()[:40]}"


async def cache_get(redis: Any, key: str) -> bytes | None:
    value = await redis.get(key)
    return value.encode() if isinstance(value, str) else value


async def cache_put(redis: Any, key: str, body: bytes, ttl: int = CACHE_TTL) -> None:
    await redis.set(key, body.decode(), ex=ttl)


async def invalidate(redis: Any) -> None:
    """A new version makes every cached catalog answer unreachable (they expire on their own)."""
    await redis.incr(VERSION_KEY)
