"""How the bank and the regulator see a product: its content, images, revision and review trail."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.catalog.models import Product, ProductImage, ProductReview
from app.catalog.product import content_of
from app.catalog.schemas import BankProductPublic, ImagePublic, ReviewPublic, RevisionPublic
from app.core.config import get_settings


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
