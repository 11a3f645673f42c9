from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import BankDemands, Farmer, StepUp
from app.core.db import ReadSessionDep
from app.core.deps import RedisDep, SessionDep
from app.core.idempotency import idempotent
from app.core.pagination import Cursor, Limit, Page
from app.demands import bank, offers, posting
from app.demands.models import DemandStatus
from app.demands.schemas import MAX_AMOUNT_FEN, BankDemandPublic, DemandCreate, DemandPublic, OfferCreate, OfferPublic
from app.drawdowns.schemas import Purpose

router = APIRouter(tags=["demands"])


@router.post("/me/demands", status_code=201, response_model=DemandPublic, summary="发布融资需求")
@idempotent()
async def create_demand(p: Farmer, body: DemandCreate, session: SessionDep, redis: RedisDep) -> DemandPublic:
    return await posting.create_mine(session, redis, p, body)


@router.get("/me/demands", response_model=Page[DemandPublic], summary="我的融资需求（含报价与推荐产品）")
async def list_my_demands(
    p: Farmer,
    session: SessionDep,
    status: DemandStatus | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[DemandPublic]:
    items, nxt = await posting.list_mine(session, p, status, limit, cursor)
    return Page[DemandPublic](items=items, next_cursor=nxt)


@router.get("/me/demands/{demand_id}", response_model=DemandPublic, summary="融资需求详情")
async def get_my_demand(p: Farmer, demand_id: uuid.UUID, session: SessionDep) -> DemandPublic:
    return await posting.get_mine(session, p, demand_id)


@router.post("/me/demands/{demand_id}/withdraw", response_model=DemandPublic, summary="撤回融资需求")
async def withdraw_demand(p: Farmer, demand_id: uuid.UUID, session: SessionDep) -> DemandPublic:
    return await posting.withdraw_mine(session, p, demand_id)


@router.post("/me/demands/{demand_id}/renew", response_model=DemandPublic, summary="续期 30 天")
async def renew_demand(p: Farmer, demand_id: uuid.UUID, session: SessionDep) -> DemandPublic:
    return await posting.renew_mine(session, p, demand_id)


@router.post(
    "/me/demands/{demand_id}/offers/{offer_id}/accept",
    response_model=DemandPublic,
    summary="接受报价（需短信确认）：记录向该银行提供姓名和手机号的授权",
)
async def accept_offer(
    p: Farmer, _: StepUp, demand_id: uuid.UUID, offer_id: uuid.UUID, session: SessionDep
) -> DemandPublic:
    return await offers.accept_offer(session, demand_id, offer_id, user_id=p.id)


@router.post("/me/demands/{demand_id}/offers/{offer_id}/decline", response_model=DemandPublic, summary="婉拒报价")
async def decline_offer(p: Farmer, demand_id: uuid.UUID, offer_id: uuid.UUID, session: SessionDep) -> DemandPublic:
    return await offers.decline_offer(session, p, demand_id, offer_id)


@router.get(
    "/bank/demands",
    response_model=Page[BankDemandPublic],
    summary="本行服务县区内的融资需求（按匹配度排序，个人信息脱敏）",
)
async def list_demands_for_bank(
    p: BankDemands,
    session: ReadSessionDep,
    county_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    township_code: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    min_amount_fen: Annotated[int | None, Query(ge=0, le=MAX_AMOUNT_FEN)] = None,
    max_amount_fen: Annotated[int | None, Query(ge=0, le=MAX_AMOUNT_FEN)] = None,
    min_term_months: Annotated[int | None, Query(ge=1, le=120)] = None,
    max_term_months: Annotated[int | None, Query(ge=1, le=120)] = None,
    purpose: Purpose | None = None,
    min_stars: Annotated[int | None, Query(ge=0, le=5)] = None,
    key_enterprise: Annotated[
        bool | None, Query(description="true：只看重点支持企业（名录库）的需求；false：只看其他需求")
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[BankDemandPublic]:
    f = bank.Filters(
        county_code=county_code,
        township_code=township_code,
        min_amount_fen=min_amount_fen,
        max_amount_fen=max_amount_fen,
        min_term_months=min_term_months,
        max_term_months=max_term_months,
        purpose=purpose.value if purpose else None,
        min_stars=min_stars,
        key_enterprise=key_enterprise,
    )
    items, nxt = await bank.list_for_bank(session, p, f, limit, cursor)
    return Page[BankDemandPublic](items=items, next_cursor=nxt)


@router.get("/bank/demands/{demand_id}", response_model=BankDemandPublic, summary="融资需求详情（授权后可见联系方式）")
async def get_demand_for_bank(
    p: BankDemands, demand_id: uuid.UUID, session: SessionDep, response: Response
) -> BankDemandPublic:
    return await bank.get_for_bank(session, p, demand_id)


@router.post("/bank/demands/{demand_id}/offers", status_code=201, response_model=OfferPublic, summary="对融资需求报价")
@idempotent()
async def create_demand_offer(
    p: BankDemands, body: OfferCreate, demand_id: uuid.UUID, session: SessionDep
) -> OfferPublic:
    return await bank.create_offer(session, p, demand_id, body)


@router.delete("/bank/demands/{demand_id}/offers/{offer_id}", status_code=204, summary="撤回报价")
async def withdraw_demand_offer(
    p: BankDemands, demand_id: uuid.UUID, offer_id: uuid.UUID, session: SessionDep
) -> Response:
    await bank.withdraw_offer(session, p, demand_id, offer_id)
    return Response(status_code=204)
