"""Products: the bank's lifecycle (draft → pending_review → published → withdrawn, or rejected), revisions of
published products, the regulator's review, and what the catalog side tables hold."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.dependencies import Principal
from app.banks import service as banks
from app.catalog import compliance, search
from app.catalog.models import (
    TARGET_BITS,
    Product,
    ProductCounty,
    ProductImage,
    ProductReview,
    ProductStatus,
    ProductTerm,
)
from app.catalog.schemas import (
    CONTENT_FIELDS,
    BankProductPublic,
    ImagePublic,
    ProductCreate,
    ProductUpdate,
    ReviewPublic,
    RevisionPublic,
)
from app.core import audit
from app.core.audit import SYSTEM, actor_var
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import InvalidState, NotFound, ValidationFailed, field_error
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.events.service import emit
from app.notifications.service import notify

PENDING = ProductStatus.pending_review.value


def _not_found() -> NotFound:
    return NotFound(("产品不存在", "No such product"))


# ---- content: the product's fields as one JSON-ready dict -------------------------------------------------


def content_of(p: Product) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in CONTENT_FIELDS:
        v = getattr(p, f)
        out[f] = v.isoformat() if isinstance(v, date) else (list(v) if isinstance(v, list) else v)
    return out


def apply_content(p: Product, content: dict[str, Any]) -> None:
    for f in CONTENT_FIELDS:
        v = content.get(f)
        if f in ("valid_from", "valid_until") and isinstance(v, str):
            v = date.fromisoformat(v)
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


# ---- answers ------------------------------------------------------------------------------------------------


def media_url(name: str) -> str:
    return f"{get_settings().media_url_prefix.rstrip('/')}/products/{name}"


def image_public(img: ProductImage) -> ImagePublic:
    return ImagePublic(id=img.id, thumbnail_url=media_url(img.thumbnail_name), url=media_url(img.detail_name))


async def images_of(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ImagePublic]]:
    out: dict[uuid.UUID, list[ImagePublic]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(
            select(ProductImage)
            .where(col(ProductImage.product_id).in_(list(ids)))
            .order_by(ProductImage.created_at, ProductImage.id)
        )
        for img in rows.scalars():
            out[img.product_id].append(image_public(img))
    return out


async def to_bank_public(session: AsyncSession, products: Sequence[Product]) -> list[BankProductPublic]:
    ids = [p.id for p in products]
    imgs = await images_of(session, ids)
    reviews: dict[uuid.UUID, list[ReviewPublic]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(
            select(ProductReview)
            .where(col(ProductReview.product_id).in_(ids))
            .order_by(ProductReview.created_at, ProductReview.id)
        )
        for r in rows.scalars():
            reviews[r.product_id].append(
                ReviewPublic(
                    actor_type=r.actor_type,
                    actor_id=r.actor_id,
                    actor_role=r.actor_role,
                    decision=r.decision,
                    revision=r.revision,
                    reasons=r.reasons,
                    at=r.created_at,
                )
            )
    out = []
    for p in products:
        revision = None
        if p.revision is not None:
            revision = RevisionPublic(
                **p.revision,
                collateral_free=not p.revision.get("collateral_types"),
                status=p.revision_status or "draft",
                reject_reason=p.revision_reject_reason,
            )
        out.append(
            BankProductPublic(
                **content_of(p),
                collateral_free=p.collateral_free,
                id=p.id,
                bank_id=p.bank_id,
                external_id=p.external_id,
                status=p.status,
                reject_reason=p.reject_reason,
                revision=revision,
                submitted_at=p.submitted_at,
                published_at=p.published_at,
                created_at=p.created_at,
                updated_at=p.updated_at,
                images=imgs[p.id],
                reviews=reviews[p.id],
            )
        )
    return out


async def one_public(session: AsyncSession, p: Product) -> BankProductPublic:
    return (await to_bank_public(session, [p]))[0]


# ---- the bank's side ----------------------------------------------------------------------------------------


async def get_own(session: AsyncSession, bank_id: uuid.UUID, product_id: uuid.UUID, lock: bool = False) -> Product:
    stmt = select(Product).where(Product.id == product_id, Product.bank_id == bank_id)
    if lock:
        stmt = stmt.with_for_update()
    p = (await session.execute(stmt)).scalar_one_or_none()
    if p is None:
        raise _not_found()
    return p


async def create_product(session: AsyncSession, bank_id: uuid.UUID, body: ProductCreate) -> BankProductPublic:
    content = body.content()
    await check_counties(session, bank_id, content)
    p = new_product(bank_id)
    apply_content(p, content)
    session.add(p)
    await session.flush()
    await sync_counties(session, [p])
    await audit.record(session, action="product.create", object_type="product", object_id=p.id, after=state(p))
    return await one_public(session, p)


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


async def list_own(
    session: AsyncSession, bank_id: uuid.UUID, status: str | None, limit: int, cursor: str | None
) -> tuple[list[BankProductPublic], str | None]:
    cols = [(Product.created_at, True), (Product.id, True)]
    stmt = select(Product).where(Product.bank_id == bank_id)
    if status:
        stmt = stmt.where(Product.status == status)
    if cursor:
        stmt = stmt.where(after(cols, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    page, nxt = page_of(rows, limit, lambda p: [p.created_at, p.id])
    return await to_bank_public(session, page), nxt


async def get_own_public(session: AsyncSession, bank_id: uuid.UUID, product_id: uuid.UUID) -> BankProductPublic:
    return await one_public(session, await get_own(session, bank_id, product_id))


async def update_product(
    session: AsyncSession, bank_id: uuid.UUID, product_id: uuid.UUID, body: ProductUpdate
) -> BankProductPublic:
    p = await get_own(session, bank_id, product_id, lock=True)
    if p.review_status == PENDING:
        raise InvalidState(("产品正在审核中，不能修改", "The product is under review"))
    before = state(p)
    is_live = p.status == ProductStatus.published
    base = (p.revision or content_of(p)) if is_live else content_of(p)
    content = validate_content({**base, **body.model_dump(mode="json", exclude_unset=True)})
    await check_counties(session, bank_id, content)
    if is_live:
        # The published version stays in the catalog; the edit waits in the revision until approved.
        p.revision = content
        p.revision_status = ProductStatus.draft
        p.revision_reject_reason = None
        p.updated_at = utcnow()
    else:
        apply_content(p, content)
        p.status = ProductStatus.draft
        p.reject_reason = None
        await sync_counties(session, [p])
    await session.flush()
    await audit.record(
        session,
        action="product.update",
        object_type="product",
        object_id=p.id,
        before=before,
        after=state(p),
        fields=sorted(body.model_fields_set),
    )
    return await one_public(session, p)


def submit_in_place(p: Product, content: dict[str, Any]) -> bool:
    """Move a product (or its revision) to review. Returns whether it is a revision."""
    now = utcnow()
    p.review_status = PENDING
    p.submitted_at = now
    p.updated_at = now
    if p.status == ProductStatus.published:
        p.revision = content
        p.revision_status = PENDING
        p.revision_reject_reason = None
        return True
    apply_content(p, content)
    p.status = ProductStatus.pending_review
    p.reject_reason = None
    return False


async def submit_product(session: AsyncSession, bank_id: uuid.UUID, product_id: uuid.UUID) -> BankProductPublic:
    p = await get_own(session, bank_id, product_id, lock=True)
    before = state(p)
    if p.status == ProductStatus.published:
        if p.revision is None or p.revision_status not in (ProductStatus.draft, ProductStatus.rejected):
            raise InvalidState(("没有待提交的修订", "There is no revision to submit"))
        content = dict(p.revision)
    elif p.status in (ProductStatus.draft, ProductStatus.rejected, ProductStatus.withdrawn):
        content = content_of(p)
    else:
        raise InvalidState(("产品已在审核中", "The product is already under review"))
    await check_counties(session, bank_id, content)
    compliance.enforce(content, await compliance.load_rules(session))
    is_revision = submit_in_place(p, content)
    session.add(review(p, "submitted", revision=is_revision))
    await session.flush()
    await audit.record(
        session, action="product.submit", object_type="product", object_id=p.id, before=before, after=state(p)
    )
    return await one_public(session, p)


async def withdraw_in_place(session: AsyncSession, p: Product) -> None:
    p.status = ProductStatus.withdrawn
    p.revision = None
    p.revision_status = None
    p.revision_reject_reason = None
    p.review_status = None
    p.updated_at = utcnow()
    session.add(review(p, "withdrawn"))
    await sync_terms(session, p)


async def withdraw_product(session: AsyncSession, bank_id: uuid.UUID, product_id: uuid.UUID) -> BankProductPublic:
    p = await get_own(session, bank_id, product_id, lock=True)
    if p.status == ProductStatus.withdrawn:
        raise InvalidState(("产品已下架", "The product is already withdrawn"))
    before = state(p)
    await withdraw_in_place(session, p)
    await session.flush()
    await audit.record(
        session, action="product.withdraw", object_type="product", object_id=p.id, before=before, after=state(p)
    )
    return await one_public(session, p)


# ---- the regulator's review ---------------------------------------------------------------------------------


def _in_region(stmt: Any, principal: Principal) -> Any:
    region = principal.region_code if principal.role == "regulator" else None
    if region:
        stmt = stmt.where(
            col(Product.id).in_(select(ProductCounty.product_id).where(ProductCounty.county_code.startswith(region)))
        )
    return stmt


async def get_for_review(session: AsyncSession, principal: Principal, product_id: uuid.UUID) -> Product:
    stmt = _in_region(select(Product).where(Product.id == product_id), principal).with_for_update()
    p = (await session.execute(stmt)).scalar_one_or_none()
    if p is None:
        raise _not_found()
    return p


async def review_queue(
    session: AsyncSession, principal: Principal, status: str, limit: int, cursor: str | None
) -> tuple[list[BankProductPublic], str | None]:
    if status == PENDING:
        cols = [(Product.submitted_at, False), (Product.id, False)]
        stmt = select(Product).where(Product.review_status == PENDING)
        key = lambda p: [p.submitted_at, p.id]  # noqa: E731
    else:
        cols = [(Product.created_at, False), (Product.id, False)]
        stmt = select(Product).where(Product.status == status)
        key = lambda p: [p.created_at, p.id]  # noqa: E731
    stmt = _in_region(stmt, principal)
    if cursor:
        stmt = stmt.where(after(cols, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    page, nxt = page_of(rows, limit, key)
    return await to_bank_public(session, page), nxt


async def get_reviewable(session: AsyncSession, principal: Principal, product_id: uuid.UUID) -> BankProductPublic:
    stmt = _in_region(select(Product).where(Product.id == product_id), principal)
    p = (await session.execute(stmt)).scalar_one_or_none()
    if p is None:
        raise _not_found()
    return await one_public(session, p)


async def approve_product(session: AsyncSession, principal: Principal, product_id: uuid.UUID) -> BankProductPublic:
    p = await get_for_review(session, principal, product_id)
    if p.review_status != PENDING:
        raise InvalidState(("产品不在待审核状态", "The product is not pending review"))
    before = state(p)
    is_revision = p.status == ProductStatus.published
    content = dict(p.revision or {}) if is_revision else content_of(p)
    compliance.enforce(content, await compliance.load_rules(session))
    now = utcnow()
    if is_revision:
        apply_content(p, content)  # the revision becomes the published version
        p.revision = None
        p.revision_status = None
        p.revision_reject_reason = None
    else:
        p.status = ProductStatus.published
        p.published_at = now
    p.review_status = None
    p.reject_reason = None
    p.updated_at = now
    session.add(review(p, "approved", revision=is_revision))
    await sync_counties(session, [p])
    await sync_terms(session, p)
    await session.flush()
    data = {"product_id": str(p.id), "external_id": p.external_id, "status": p.status, "revision": is_revision}
    await emit(session, type="product.approved", bank_id=p.bank_id, data=data)
    await notify(
        session,
        kind="product.approved",
        title="产品审核通过",
        body=f"您的产品「{p.name}」已审核通过并上架。",
        bank_id=p.bank_id,
        data=data,
    )
    await audit.record(
        session, action="product.approve", object_type="product", object_id=p.id, before=before, after=state(p)
    )
    return await one_public(session, p)


async def reject_product(
    session: AsyncSession, principal: Principal, product_id: uuid.UUID, reason: str
) -> BankProductPublic:
    p = await get_for_review(session, principal, product_id)
    if p.review_status != PENDING:
        raise InvalidState(("产品不在待审核状态", "The product is not pending review"))
    before = state(p)
    is_revision = p.status == ProductStatus.published
    if is_revision:
        p.revision_status = ProductStatus.rejected
        p.revision_reject_reason = reason
    else:
        p.status = ProductStatus.rejected
        p.reject_reason = reason
    p.review_status = None
    p.updated_at = utcnow()
    session.add(review(p, "rejected", revision=is_revision, reasons=[reason]))
    await session.flush()
    data = {
        "product_id": str(p.id),
        "external_id": p.external_id,
        "status": p.status,
        "revision": is_revision,
        "reason": reason,
    }
    await emit(session, type="product.rejected", bank_id=p.bank_id, data=data)
    await notify(
        session,
        kind="product.rejected",
        title="产品审核未通过",
        body=f"您的产品「{p.name}」未通过审核：{reason}",
        bank_id=p.bank_id,
        data=data,
    )
    await audit.record(
        session,
        action="product.reject",
        object_type="product",
        object_id=p.id,
        before=before,
        after=state(p),
    )
    return await one_public(session, p)


# ---- images -------------------------------------------------------------------------------------------------

MAX_IMAGES = 12


async def add_image(
    session: AsyncSession, bank_id: uuid.UUID, product_id: uuid.UUID, data: bytes
) -> tuple[ImagePublic, bool]:
    """Returns the image and whether the catalog shows the product (its cached answers must go)."""
    import asyncio

    from app.core import images

    p = await get_own(session, bank_id, product_id, lock=True)
    count = len((await images_of(session, [p.id]))[p.id])
    if count >= MAX_IMAGES:
        raise ValidationFailed(errors=[field_error("file", "too_many_images", f"每个产品最多 {MAX_IMAGES} 张图片")])
    processed = await asyncio.to_thread(images.process, data)
    detail, thumb = await asyncio.to_thread(images.store, get_settings().media_root, "products", processed)
    img = ProductImage(
        product_id=p.id,
        detail_name=detail,
        thumbnail_name=thumb,
        width=processed.width,
        height=processed.height,
    )
    session.add(img)
    await session.flush()
    await audit.record(session, action="product.image_add", object_type="product", object_id=p.id, image_id=str(img.id))
    return image_public(img), p.status == ProductStatus.published
