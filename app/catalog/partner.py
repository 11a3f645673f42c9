"""Bank systems' uploads (`/partner/products…`): idempotent PUT by external id, and batches where each item
stands alone (one bad item stores nothing and says why; the good ones land in a few bulk statements)."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.banks import service as banks
from app.catalog import compliance, lifecycle, product, views
from app.catalog.models import Product, ProductStatus
from app.catalog.schemas import BankProductPublic, BatchItemResult, BatchResult, PartnerBatchItem, ProductCreate
from app.core import audit
from app.core.errors import NotFound


def _bank(bank_id: uuid.UUID | None) -> uuid.UUID:
    if bank_id is None:  # a bank-system token always carries its bank; defensive
        raise NotFound()
    return bank_id


def unchanged(p: Product, content: dict[str, Any]) -> bool:
    """The same body again changes nothing: it equals what is already live, waiting or refused."""
    if p.status == ProductStatus.published:
        if p.revision is None:
            return product.content_of(p) == content
        return p.revision == content and p.revision_status in (ProductStatus.pending_review, ProductStatus.rejected)
    return product.content_of(p) == content and p.status in (ProductStatus.pending_review, ProductStatus.rejected)


def stage(p: Product, content: dict[str, Any]) -> bool:
    """Replace the product's content (or its revision) and send it to review. Returns whether it is a revision."""
    return lifecycle.submit_in_place(p, content)


async def _find(session: AsyncSession, bank_id: uuid.UUID, external_id: str, lock: bool = False) -> Product | None:
    stmt = select(Product).where(Product.bank_id == bank_id, Product.external_id == external_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def put_product(
    session: AsyncSession, bank_id: uuid.UUID | None, external_id: str, body: ProductCreate
) -> tuple[int, BankProductPublic]:
    bank = _bank(bank_id)
    content = body.content()
    await product.check_counties(session, bank, content)
    compliance.enforce(content, await compliance.load_rules(session))
    p = await _find(session, bank, external_id, lock=True)
    status_code = 200
    if p is None:
        p = product.new_product(bank, external_id)
        session.add(p)
        status_code = 201
    elif unchanged(p, content):
        return 200, await views.one_public(session, p)
    before = product.state(p) if status_code == 200 else None
    is_revision = stage(p, content)
    await session.flush()
    if not is_revision:
        await product.sync_counties(session, [p])
    session.add(product.review(p, "submitted", revision=is_revision))
    await audit.record(
        session,
        action="partner.product.put",
        object_type="product",
        object_id=p.id,
        before=before,
        after=product.state(p),
        external_id=external_id,
    )
    await session.flush()
    return status_code, await views.one_public(session, p)


async def get_product(session: AsyncSession, bank_id: uuid.UUID | None, external_id: str) -> BankProductPublic:
    p = await _find(session, _bank(bank_id), external_id)
    if p is None:
        raise NotFound(("产品不存在", "No such product"))
    return await views.one_public(session, p)


async def delete_product(session: AsyncSession, bank_id: uuid.UUID | None, external_id: str) -> bool:
    """Withdraw; returns whether the catalog may have changed."""
    p = await _find(session, _bank(bank_id), external_id, lock=True)
    if p is None:
        raise NotFound(("产品不存在", "No such product"))
    if p.status == ProductStatus.withdrawn:
        return False
    was_live = p.status == ProductStatus.published
    before = product.state(p)
    await lifecycle.withdraw_in_place(session, p)
    await session.flush()
    await audit.record(
        session,
        action="partner.product.delete",
        object_type="product",
        object_id=p.id,
        before=before,
        after=product.state(p),
        external_id=external_id,
    )
    return was_live


def _item_errors(i: int, raw: Any) -> tuple[PartnerBatchItem | None, list[dict[str, str]]]:
    try:
        return PartnerBatchItem.model_validate(raw), []
    except ValidationError as exc:
        return None, product.pydantic_errors(exc, f"items.{i}.")


async def batch(session: AsyncSession, bank_id: uuid.UUID | None, items: list[Any]) -> BatchResult:
    bank = _bank(bank_id)
    served = await banks.bank_counties(session, bank)
    rules = await compliance.load_rules(session)
    parsed: list[tuple[int, PartnerBatchItem, dict[str, Any]]] = []
    results: list[BatchItemResult] = []
    seen: set[str] = set()
    for i, raw in enumerate(items):
        ext = raw.get("external_id") if isinstance(raw, dict) else None
        ext_s = ext if isinstance(ext, str) else None
        item, errs = _item_errors(i, raw)
        content: dict[str, Any] = {}
        if item is not None:
            content = ProductCreate.model_validate(item.model_dump(exclude={"external_id"})).content()
            errs = product.county_errors(content, served, f"items.{i}.")
            if not errs:
                errs = compliance.evaluate(content, rules)
            if not errs and item.external_id in seen:
                errs = [{"field": f"items.{i}.external_id", "code": "duplicate", "message": "同一批次中外部编号重复"}]
        results.append(BatchItemResult(external_id=ext_s, ok=not errs, errors=errs or None))
        if item is not None and not errs:
            seen.add(item.external_id)
            parsed.append((i, item, content))
    if not parsed:
        return BatchResult(items=results)
    existing = {
        p.external_id: p
        for p in (
            await session.execute(
                select(Product)
                .where(Product.bank_id == bank, Product.external_id.in_([it.external_id for _, it, _ in parsed]))
                .with_for_update()
            )
        ).scalars()
    }
    changed: list[Product] = []
    main_changed: list[Product] = []
    for i, item, content in parsed:
        p = existing.get(item.external_id)
        created = p is None
        if p is None:
            p = product.new_product(bank, item.external_id)
            session.add(p)
        elif unchanged(p, content):
            results[i].id, results[i].status = p.id, p.status
            continue
        before = None if created else product.state(p)
        if not stage(p, content):
            main_changed.append(p)
        changed.append(p)
        session.add(product.review(p, "submitted", revision=p.status == ProductStatus.published))
        await audit.record(
            session,
            action="partner.product.put",
            object_type="product",
            object_id=p.id,
            before=before,
            after=product.state(p),
            external_id=item.external_id,
            batch=True,
        )
        results[i].id, results[i].status = p.id, p.status
    await session.flush()
    await product.sync_counties(session, main_changed)
    await session.flush()
    return BatchResult(items=results)
