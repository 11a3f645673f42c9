"""`/agent`: station agents (代办) for the households of their own station's village."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from app.agents import service
from app.agents.schemas import AgentCodeBody, AgentDemandCreate, AgentHouseholdPublic, AgentVillageScore
from app.auth.dependencies import Agent
from app.auth.schemas import SmsCodeSent
from app.core.deps import RedisDep, SessionDep, client_ip
from app.core.idempotency import idempotent
from app.core.pagination import Cursor, Limit, Page
from app.demands.service import DemandPublic

router = APIRouter(prefix="/agent", tags=["agents"])


@router.get(
    "/households",
    response_model=Page[AgentHouseholdPublic],
    summary="本村农户（姓名、手机号完整显示，身份证号脱敏）",
)
async def agent_list_households(
    p: Agent, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[AgentHouseholdPublic]:
    items, nxt = await service.list_households(session, p, limit, cursor)
    return Page[AgentHouseholdPublic](items=items, next_cursor=nxt)


@router.post(
    "/households/{household_id}/sms-codes",
    status_code=202,
    response_model=SmsCodeSent,
    summary="向农户登记的手机号发送代办授权验证码",
)
async def agent_send_consent_code(
    p: Agent, household_id: uuid.UUID, request: Request, session: SessionDep, redis: RedisDep
) -> SmsCodeSent:
    return SmsCodeSent(**await service.send_consent_code(session, redis, p, household_id, client_ip(request)))


@router.post(
    "/demands", status_code=201, response_model=DemandPublic, summary="为本村农户代办发布融资需求（需农户短信授权）"
)
@idempotent()
async def agent_file_demand(p: Agent, body: AgentDemandCreate, session: SessionDep, redis: RedisDep) -> DemandPublic:
    return await service.file_demand(session, redis, p, body)


@router.post(
    "/demands/{demand_id}/offers/{offer_id}/accept",
    response_model=DemandPublic,
    summary="农户通过代办员接受报价（需农户短信授权）",
)
async def agent_accept_offer(
    p: Agent, demand_id: uuid.UUID, offer_id: uuid.UUID, body: AgentCodeBody, session: SessionDep, redis: RedisDep
) -> DemandPublic:
    return await service.accept_offer(session, redis, p, demand_id, offer_id, body.code)


@router.put(
    "/households/{household_id}/village-score",
    response_model=AgentHouseholdPublic,
    summary="录入村评定小组评分（重新评定星级与授信证）",
)
async def agent_set_village_score(
    p: Agent, household_id: uuid.UUID, body: AgentVillageScore, session: SessionDep
) -> AgentHouseholdPublic:
    return await service.set_score(session, p, household_id, body)
