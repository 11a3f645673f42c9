"""Products for banks (`/bank/products…`), bank systems (`/partner/products…`), the regulator (`/admin/products…`)
and farmers (`GET /products…`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, File, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from app.auth.dependencies import BankProducts, PartnerProducts, Regulator, bearer, get_principal
from app.catalog import lifecycle, partner, public, regulator
from app.catalog.models import ProductKind, ProductStatus, Target
from app.catalog.schemas import (
    BankProductPublic,
    BatchResult,
    CatalogItem,
    CatalogItemForMe,
    CatalogProduct,
    ImagePublic,
    PartnerBatch,
    PartnerProductIn,
    ProductCreate,
    ProductUpdate,
    RejectBody,
)
from app.core import hooks
from app.core.db import ReadSessionDep
from app.core.deps import RedisDep, SessionDep
from app.core.errors import Forbidden, NotFound, PayloadTooLarge
from app.core.http import cached_bytes_response
from app.core.idempotency import idempotent
from app.core.images import MAX_BYTES
from app.core.jsonutil import dumps
from app.core.pagination import Cursor, Limit, Page
from app.core.principal import Principal, Role

PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
public_router = APIRouter(tags=["catalog"])
bank_router = APIRouter(tags=["bank products"])
partner_router = APIRouter(tags=["partner products"])
admin_router = APIRouter(tags=["product review"])

ExternalIdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]


def _bank_of(p: Principal) -> uuid.UUID:
    if p.bank_id is None:
        raise NotFound()
    return p.bank_id


def _invalidate_after_commit(redis: Any, background: BackgroundTasks) -> None:
    # Bumped now and again after the commit, so no reader can re-cache the old answer in between.
    background.add_task(public.invalidate, redis)


# ---- public catalog -----------------------------------------------------------------------------------------


async def _cached(request: Request, redis: Any, build: Any) -> Response:
    key = await public.cache_key(
        redis, request.url.path, list(request.query_params.multi_items()), request.headers.get("accept-language", "")
    )
    body = await public.cache_get(redis, key)
    if body is None:
        body = dumps((await build()).model_dump(mode="json"))
        # Built on a replica, the answer may predate an invalidation by up to the tolerated lag: keep it only
        # that long, so a lagging read cannot outlive the invalidation by the full TTL.
        db = request.app.state.db
        on_replica = getattr(request.state, "db_role", None) == "replica"
        ttl = int(db.read_max_lag_seconds + db.read_check_seconds) + 1 if on_replica else public.CACHE_TTL
        await public.cache_put(redis, key, body, ttl=ttl)
    return cached_bytes_response(request, body, max_age=60)


@public_router.get(
    "/products",
    response_model=Page[CatalogItem],
    summary="产品目录（已上架）",
    responses={
        401: {"description": "for_me=true 但未登录 (token_invalid)", **PROBLEM},
        403: {"description": "for_me=true 但不是农户 (forbidden)", **PROBLEM},
    },
)
async def list_products(
    request: Request,
    session: ReadSessionDep,
    redis: RedisDep,
    county_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    kind: ProductKind | None = None,
    amount_fen: Annotated[int | None, Query(ge=0, le=100_000_000_000)] = None,
    term_months: Annotated[int | None, Query(ge=1, le=360)] = None,
    collateral_free: bool | None = None,
    target: Target | None = None,
    bank_id: uuid.UUID | None = None,
    q: Annotated[str | None, Query(min_length=2, max_length=50, description="中文关键词，每词至少两个字")] = None,
    sort: Annotated[str, Query(pattern="^(rate|newest)$")] = "newest",
    limit: Limit = 20,
    cursor: Cursor = None,
    for_me: Annotated[
        bool,
        Query(
            description="true：农户登录后查看本户在每个产品上可获得的利率（my_rate_bp、my_discount_bp）；"
            "需农户令牌（未登录 401，其他角色 403），答复不缓存（Cache-Control: private, no-store）"
        ),
    ] = False,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
) -> Response:
    filters = public.Filters(
        county_code=county_code,
        kind=kind.value if kind else None,
        amount_fen=amount_fen,
        term_months=term_months,
        collateral_free=collateral_free,
        target=target.value if target else None,
        bank_id=bank_id,
        q=q,
        sort=sort,
    )

    async def build() -> Page[CatalogItem]:
        items, nxt = await public.list_products(session, filters, limit, cursor)
        return Page[CatalogItem](items=items, next_cursor=nxt)

    if not for_me:
        return await _cached(request, redis, build)
    # A personal answer: never from or into the shared cache, never stored by a browser or proxy.
    who = await get_principal(request, creds)
    if who.role != Role.farmer:
        raise Forbidden(("仅农户可以查看本户的利率", "Only a farmer has rates of their own"))
    # The household's terms are credit's (above the catalog): asked as a signal, answered by app.credit.farmer.
    (terms,) = await hooks.publish("catalog.household_terms", session, user_id=who.id)
    page = await build()
    mine = Page[CatalogItemForMe](items=public.personalize(page.items, terms), next_cursor=page.next_cursor)
    return Response(
        dumps(mine.model_dump(mode="json")),
        media_type="application/json",
        headers={"Cache-Control": "private, no-store", "Vary": "Authorization"},
    )


@public_router.get("/products/{product_id}", response_model=CatalogProduct, summary="产品详情")
async def get_product(request: Request, session: ReadSessionDep, redis: RedisDep, product_id: uuid.UUID) -> Response:
    return await _cached(request, redis, lambda: public.get_product(session, product_id))


# ---- the bank's products ------------------------------------------------------------------------------------


@bank_router.post("/bank/products", response_model=BankProductPublic, status_code=201, summary="新建产品（草稿）")
@idempotent()
async def create_product(p: BankProducts, session: SessionDep, body: ProductCreate) -> Any:
    return await lifecycle.create_product(session, _bank_of(p), body)


@bank_router.get("/bank/products", response_model=Page[BankProductPublic], summary="本行产品")
async def list_own(
    p: BankProducts,
    session: SessionDep,
    status: ProductStatus | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[BankProductPublic]:
    items, nxt = await lifecycle.list_own(session, _bank_of(p), status.value if status else None, limit, cursor)
    return Page[BankProductPublic](items=items, next_cursor=nxt)


@bank_router.get("/bank/products/{product_id}", response_model=BankProductPublic, summary="本行产品详情")
async def get_own(p: BankProducts, session: SessionDep, product_id: uuid.UUID) -> BankProductPublic:
    return await lifecycle.get_own_public(session, _bank_of(p), product_id)


@bank_router.patch(
    "/bank/products/{product_id}", response_model=BankProductPublic, summary="修改产品（已上架的改修订稿）"
)
async def update_product(
    p: BankProducts, session: SessionDep, product_id: uuid.UUID, body: ProductUpdate
) -> BankProductPublic:
    return await lifecycle.update_product(session, _bank_of(p), product_id, body)


@bank_router.post("/bank/products/{product_id}/submit", response_model=BankProductPublic, summary="提交审核")
async def submit_product(p: BankProducts, session: SessionDep, product_id: uuid.UUID) -> BankProductPublic:
    return await lifecycle.submit_product(session, _bank_of(p), product_id)


@bank_router.post("/bank/products/{product_id}/withdraw", response_model=BankProductPublic, summary="下架")
async def withdraw_product(
    p: BankProducts, session: SessionDep, redis: RedisDep, background: BackgroundTasks, product_id: uuid.UUID
) -> BankProductPublic:
    out = await lifecycle.withdraw_product(session, _bank_of(p), product_id)
    await public.invalidate(redis)
    _invalidate_after_commit(redis, background)
    return out


@bank_router.post(
    "/bank/products/{product_id}/images",
    response_model=ImagePublic,
    status_code=201,
    summary="上传产品图片（JPEG/PNG/WebP，≤ 5 MB，≤ 4000 万像素）",
    responses={413: {"description": "文件过大 (payload_too_large)"}, 415: {"description": "不支持的格式"}},
)
async def upload_image(
    p: BankProducts,
    session: SessionDep,
    redis: RedisDep,
    background: BackgroundTasks,
    product_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="图片文件")],
) -> ImagePublic:
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(("图片不能超过 5 MB", "The image is over 5 MB"))
    image, live = await lifecycle.add_image(session, _bank_of(p), product_id, data)
    if live:
        await public.invalidate(redis)
        _invalidate_after_commit(redis, background)
    return image


# ---- bank systems -------------------------------------------------------------------------------------------


@partner_router.put(
    "/partner/products/{external_id}",
    response_model=BankProductPublic,
    summary="上传或替换产品并送审（201 新建 / 200 替换或无变化）",
    responses={201: {"description": "新建", "model": BankProductPublic}},
)
async def put_partner_product(
    p: PartnerProducts, session: SessionDep, external_id: ExternalIdPath, body: PartnerProductIn
) -> JSONResponse:
    status, out = await partner.put_product(session, p.bank_id, external_id, body)
    return JSONResponse(out.model_dump(mode="json"), status_code=status)


@partner_router.get("/partner/products/{external_id}", response_model=BankProductPublic, summary="查询上传的产品")
async def get_partner_product(
    p: PartnerProducts, session: SessionDep, external_id: ExternalIdPath
) -> BankProductPublic:
    return await partner.get_product(session, p.bank_id, external_id)


@partner_router.delete("/partner/products/{external_id}", status_code=204, summary="下架上传的产品")
async def delete_partner_product(
    p: PartnerProducts,
    session: SessionDep,
    redis: RedisDep,
    background: BackgroundTasks,
    external_id: ExternalIdPath,
) -> Response:
    if await partner.delete_product(session, p.bank_id, external_id):
        await public.invalidate(redis)
        _invalidate_after_commit(redis, background)
    return Response(status_code=204)


@partner_router.post("/partner/products/batch", response_model=BatchResult, summary="批量上传产品（≤ 500 条）")
async def batch_partner_products(p: PartnerProducts, session: SessionDep, body: PartnerBatch) -> BatchResult:
    return await partner.batch(session, p.bank_id, body.items)


# ---- the regulator's review ---------------------------------------------------------------------------------


@admin_router.get("/admin/products", response_model=Page[BankProductPublic], summary="产品审核队列（最早提交在前）")
async def review_queue(
    p: Regulator,
    session: SessionDep,
    status: ProductStatus = ProductStatus.pending_review,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[BankProductPublic]:
    items, nxt = await regulator.review_queue(session, p, status.value, limit, cursor)
    return Page[BankProductPublic](items=items, next_cursor=nxt)


@admin_router.get("/admin/products/{product_id}", response_model=BankProductPublic, summary="审核：产品详情")
async def get_for_review(p: Regulator, session: SessionDep, product_id: uuid.UUID) -> BankProductPublic:
    return await regulator.get_reviewable(session, p, product_id)


@admin_router.post("/admin/products/{product_id}/approve", response_model=BankProductPublic, summary="审核通过")
async def approve_product(
    p: Regulator, session: SessionDep, redis: RedisDep, background: BackgroundTasks, product_id: uuid.UUID
) -> BankProductPublic:
    out = await regulator.approve_product(session, p, product_id)
    await public.invalidate(redis)
    _invalidate_after_commit(redis, background)
    return out


@admin_router.post("/admin/products/{product_id}/reject", response_model=BankProductPublic, summary="审核驳回")
async def reject_product(
    p: Regulator, session: SessionDep, product_id: uuid.UUID, body: RejectBody
) -> BankProductPublic:
    return await regulator.reject_product(session, p, product_id, body.reason)
