"""The bank's side of a product: draft → pending_review → published → withdrawn (or rejected), revisions of
published products, and images."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.catalog import compliance
from app.catalog.models import Product, ProductImage, ProductStatus
from app.catalog.product import (
    PENDING,
    apply_content,
    check_counties,
    content_of,
    new_product,
    not_found,
    review,
    state,
    sync_counties,
    sync_terms,
    validate_content,
)
from app.catalog.schemas import BankProductPublic, ImagePublic, ProductCreate, ProductUpdate
from app.catalog.views import image_public, images_of, one_public, to_bank_public
from app.core import audit
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import InvalidState, ValidationFailed, field_error
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid


async def get_own(session: AsyncSession, bank_id: uuid.UUID, product_id: uuid.UUID, lock: bool = False) -> Product:
    stmt = select(Product).where(Product.id == product_id, Product.bank_id == bank_id)
    if lock:
        stmt = stmt.with_for_update()
    p = (await session.execute(stmt)).scalar_one_or_none()
    if p is None:
        raise not_found()
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
