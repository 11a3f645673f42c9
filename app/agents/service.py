"""Station agents (代办) act for the households of their own station's village, and only those.

Every action that speaks for a household (filing a demand, accepting an offer) needs a fresh `consent` code
sent to the household's phone on record: the household reads it out to the agent, which is its confirmation.
A household of another village is 404, like any object that is not the caller's. The agent is the actor of
every audit entry, and demands it files carry `filed_by_agent_id`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.agents.schemas import AgentDemandCreate, AgentHouseholdPublic, AgentVillageScore
from app.auth import otp
from app.core import audit, crypto, ratelimit
from app.core.config import get_settings
from app.core.errors import InvalidState, NotFound
from app.core.money import yuan_text
from app.core.pagination import decode_cursor, page_of, parse_uuid
from app.core.principal import Principal
from app.credit.models import Household
from app.credit.rating_updates import set_village_score
from app.demands import service as demands
from app.demands.service import DemandPublic
from app.notifications.service import notify
from app.stations.service import agent_village

NO_PHONE = (
    "该农户没有登记手机号，无法发送授权验证码。请农户本人到村委会或乡镇登记手机号后再办理。",
    "The household has no phone number on record to send a consent code to",
)


def _public(h: Household) -> AgentHouseholdPublic:
    try:
        id_number = crypto.mask_id_number(crypto.decrypt(h.id_number_enc, "resident_id"))
    except Exception:  # a row encrypted under a rotated key still lists, without the number
        id_number = None
    return AgentHouseholdPublic(
        id=h.id,
        real_name=h.real_name,
        phone=h.phone,
        id_number=id_number,
        village_code=h.village_code,
        is_registered_poor=h.is_registered_poor,
        provincial_score=h.provincial_score,
        village_score=h.village_score,
        composite_score=h.composite_score,
        stars=h.stars if h.is_credit_household else 0,
        is_credit_household=h.is_credit_household,
        linked=h.user_id is not None,
        rated_at=h.rated_at,
    )


async def list_households(
    session: AsyncSession, p: Principal, limit: int, cursor: str | None
) -> tuple[list[AgentHouseholdPublic], str | None]:
    village = await agent_village(session, p)
    stmt = select(Household).where(Household.village_code == village)
    if cursor:
        stmt = stmt.where(Household.id > decode_cursor(cursor, [parse_uuid])[0])
    rows = (await session.execute(stmt.order_by(Household.id).limit(limit + 1))).scalars().all()
    items, nxt = page_of(rows, limit, lambda h: [h.id])
    # The page shows names and phones in full: who looked, and at which households, is on record.
    await audit.record(
        session,
        action="agent.households.list",
        object_type="village",
        object_id=village,
        household_ids=[str(h.id) for h in items],
    )
    return [_public(h) for h in items], nxt


async def _household(session: AsyncSession, p: Principal, household_id: uuid.UUID, lock: bool = False) -> Household:
    village = await agent_village(session, p)
    stmt = select(Household).where(Household.id == household_id, Household.village_code == village)
    if lock:
        stmt = stmt.with_for_update()
    h = await session.scalar(stmt)
    if h is None:
        raise NotFound(("该农户不存在或不属于本服务站所在村", "No such household in the agent's village"))
    return h


def _phone_of(h: Household) -> str:
    if not h.phone:
        raise InvalidState(NO_PHONE)
    return h.phone


async def send_consent_code(
    session: AsyncSession, redis: Any, p: Principal, household_id: uuid.UUID, ip: str | None
) -> dict[str, int]:
    h = await _household(session, p, household_id)
    sent = await otp.send_code(redis, _phone_of(h), otp.Purpose.consent, ip)
    await audit.record(session, action="agent.consent_code", object_type="household", object_id=h.id)
    return sent


async def _confirm(redis: Any, h: Household, code: str) -> None:
    await otp.verify_code(redis, _phone_of(h), otp.Purpose.consent, code)


async def _tell(h: Household, session: AsyncSession, kind: str, title: str, demand_id: uuid.UUID, body: str) -> None:
    """A household with an account learns in the app what was done in its name."""
    if h.user_id is not None:
        await notify(session, user_id=h.user_id, kind=kind, title=title, body=body, data={"demand_id": str(demand_id)})


async def file_demand(session: AsyncSession, redis: Any, p: Principal, body: AgentDemandCreate) -> DemandPublic:
    h = await _household(session, p, body.household_id)
    await _confirm(redis, h, body.code)
    # The same daily cap as a farmer posting for themselves, counted per household.
    await ratelimit.hit(
        redis,
        f"demands:household:{h.id.hex}",
        get_settings().demands_per_day,
        86400,
        ("该农户今日发布融资需求次数已达上限，请明天再试", "Too many demands today for this household"),
    )
    out = await demands.create_for_household(session, h, body.demand(), filed_by=p)
    text = f"村服务站已按您的授权，为您发布 {yuan_text(out.amount_fen)} 元的融资需求。如非本人意愿，请在 App 中撤回。"
    await _tell(h, session, "demand.filed_by_agent", "服务站已为您代办融资需求", out.id, text)
    return out


async def accept_offer(
    session: AsyncSession, redis: Any, p: Principal, demand_id: uuid.UUID, offer_id: uuid.UUID, code: str
) -> DemandPublic:
    household_id = await demands.household_of_demand(session, demand_id)
    if household_id is None:
        raise NotFound()
    h = await _household(session, p, household_id)
    await _confirm(redis, h, code)
    out = await demands.accept_offer(session, demand_id, offer_id, household_id=h.id, via_agent=p)
    text = "村服务站已按您的授权为您接受了银行报价，该银行可以看到您的姓名和手机号并联系您；可在 App 中撤回授权。"
    await _tell(h, session, "offer.accepted_by_agent", "服务站已为您接受银行报价", out.id, text)
    return out


async def set_score(
    session: AsyncSession, p: Principal, household_id: uuid.UUID, body: AgentVillageScore
) -> AgentHouseholdPublic:
    h = await _household(session, p, household_id, lock=True)
    h = await set_village_score(session, h.id, body.village_score, p.actor())
    return _public(h)
