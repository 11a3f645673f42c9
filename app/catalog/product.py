"""A product's content (its fields as one JSON-ready dict), its validation, the side tables that mirror it
(served counties, search terms) and the review trail entries: the pieces the bank's lifecycle, the partner API,
the regulator's review and the seed all build on."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.banks import service as banks
from app.catalog import search
from app.catalog.models import TARGET_BITS, Product, ProductCounty, ProductReview, ProductStatus, ProductTerm
from app.catalog.schemas import CONTENT_FIELDS, ProductCreate
from app.core.audit import SYSTEM, actor_var
from app.core.db import utcnow
from app.core.errors import NotFound, ValidationFailed, field_error

PENDING = ProductStatus.pending_review.value


def not_found() -> NotFound:
    return NotFound(("产品不存在", "No such product"))


# ---- content: the product's fields as one JSON-ready dict -------------------------------------------------


def content_of(p: Product) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in CONTENT_FIELDS:
        v = getattr(p, f)
        if isinstance(v, date):
            v = v.isoformat()
        elif isinstance(v, (list, dict)):
            v = v.copy()
        out[f] = v
    return out


def apply_content(p: Product, content: dict[str, Any]) -> None:
    for f in CONTENT_FIELDS:
        v = content.get(f)
        if f in ("valid_from", "valid_until") and isinstance(v, str):
            v = date.fromisoformat(v)
        elif f == "star_discounts_bp":
            v = dict(v or {})  # a revision stored before discounts existed has none
        setattr(p, f, v)
    p.collateral_free = not p.collateral_types
    p.target_mask = sum(TARGET_BITS[t] for t in p.targets)
    p.updated_at = utcnow()


def pydantic_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    from fastapi.exceptions import RequestValidationError

    from app.core.problems import validation_errors

    errs = validation_errors(RequestValidationError(exc.errors()), english=False)
    for e in errs:
        e["field"] = prefix + e["field"] if e["field"] != "body" else (prefix.rstrip(".") or "body")
    return errs


def validate_content(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    try:
        return ProductCreate.model_validate(data).content()
    except ValidationError as exc:
        raise ValidationFailed(errors=pydantic_errors(exc, prefix)) from exc


def county_errors(content: dict[str, Any], served: set[str], prefix: str = "") -> list[dict[str, str]]:
    return [
        field_error(f"{prefix}county_codes.{i}", "county_not_served", f"本行不服务县区 {c}")
        for i, c in enumerate(content["county_codes"])
        if c not in served
    ]


async def check_counties(session: AsyncSession, bank_id: uuid.UUID, content: dict[str, Any]) -> None:
    errs = county_errors(content, await banks.bank_counties(session, bank_id))
    if errs:
        raise ValidationFailed(errors=errs)


async def sync_counties(session: AsyncSession, products: Sequence[Product]) -> None:
    ids = [p.id for p in products]
    if not ids:
        return
    await session.execute(delete(ProductCounty).where(col(ProductCounty.product_id).in_(ids)))
    rows = [{"product_id": p.id, "county_code": c} for p in products for c in p.county_codes]
    if rows:
        await session.execute(insert(ProductCounty), rows)


async def sync_terms(session: AsyncSession, p: Product) -> None:
    """The search index holds published versions only."""
    await session.execute(delete(ProductTerm).where(ProductTerm.product_id == p.id))
    if p.status != ProductStatus.published:
        return
    terms = search.bigrams(p.name) | search.bigrams(p.description)
    if terms:
        await session.execute(insert(ProductTerm), [{"term": t, "product_id": p.id} for t in sorted(terms)])


def review(p: Product, decision: str, *, revision: bool = False, reasons: list[str] | None = None) -> ProductReview:
    who = actor_var.get() or SYSTEM
    return ProductReview(
        product_id=p.id,
        actor_type=who.type,
        actor_id=who.id,
        actor_role=who.role,
        decision=decision,
        revision=revision,
        reasons=reasons or [],
    )


def state(p: Product) -> dict[str, Any]:
    return {"status": p.status, "revision_status": p.revision_status}


def new_product(bank_id: uuid.UUID, external_id: str | None = None) -> Product:
    """An empty shell that `apply_content` fills."""
    return Product(
        bank_id=bank_id,
        external_id=external_id,
        status=ProductStatus.draft,
        min_amount_fen=0,
        max_amount_fen=0,
        **_blank(),
    )


def _blank() -> dict[str, Any]:
    return {
        "name": "",
        "kind": "",
        "min_term_months": 0,
        "max_term_months": 0,
        "min_annual_rate_bp": 0,
        "max_annual_rate_bp": 0,
    }
