"""The regulator's review of products: the queue (a regulator sees its region's products only), approve and
reject, each telling the bank by event and notification."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.catalog import compliance
from app.catalog.models import Product, ProductCounty, ProductStatus
from app.catalog.product import PENDING, apply_content, content_of, not_found, review, state, sync_counties, sync_terms
from app.catalog.schemas import BankProductPublic
from app.catalog.views import one_public, to_bank_public
from app.core import audit
from app.core.db import utcnow
from app.core.errors import InvalidState
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.core.principal import Principal
from app.events.service import emit
from app.notifications.service import notify


def _in_region(stmt: Any, principal: Principal) -> Any:
    """A regulator's products: those serving a county inside its region, or the county its township or
    village lies in (a product of several counties: visible if one of them qualifies)."""
    region = principal.region_code if principal.role == "regulator" else None
    if region:
        county = col(ProductCounty.county_code)
        serves = or_(county.startswith(region, autoescape=True), literal(region).startswith(county))
        stmt = stmt.where(col(Product.id).in_(select(ProductCounty.product_id).where(serves)))
    return stmt


async def _find(session: AsyncSession, principal: Principal, product_id: uuid.UUID, *, lock: bool = False) -> Product:
    stmt = _in_region(select(Product).where(Product.id == product_id), principal)
    if lock:
        stmt = stmt.with_for_update()
    p = (await session.execute(stmt)).scalar_one_or_none()
    if p is None:
        raise not_found()
    return p


async def get_for_review(session: AsyncSession, principal: Principal, product_id: uuid.UUID) -> Product:
    """The product, locked, that must be pending review (approve and reject both start here)."""
    p = await _find(session, principal, product_id, lock=True)
    if p.review_status != PENDING:
        raise InvalidState(("产品不在待审核状态", "The product is not pending review"))
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
    return await one_public(session, await _find(session, principal, product_id))


async def approve_product(session: AsyncSession, principal: Principal, product_id: uuid.UUID) -> BankProductPublic:
    p = await get_for_review(session, principal, product_id)
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
