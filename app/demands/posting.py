"""The farmer's side of the demand library (also used by station agents): post, list, withdraw and renew.

Who a demand comes from is `app.auth.profile.demand_applicant`: the account's linked household; else, with an
enterprise profile AND a village on the profile (`PATCH /me` `village_code`), the small business (the
enterprise's name stands for the applicant); else, with a real name, a valid resident ID and a village, an
unrated household (未评级: banks see `rated: false`, `stars: null`, masked; it gets its household, stars and
score by itself when the account links, see `app.demands.links`). Anything else is 409 with what is missing.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import EnterpriseProfile, User
from app.auth.profile import demand_applicant, load_user
from app.banks import service as banks
from app.core import audit, ratelimit
from app.core.config import get_settings
from app.core.dates import china_today
from app.core.errors import InvalidState
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.core.principal import Principal
from app.credit.models import Household
from app.demands import common, links  # noqa: F401 - links registers the demands' listeners
from app.demands.common import effective_status, expires_from, open_filter
from app.demands.lifecycle import close_offers, count_open, mine, not_open, set_status, star_limit, too_many
from app.demands.models import Demand, DemandStatus, OfferStatus
from app.demands.presentation import present, present_many
from app.demands.schemas import DemandCreate, DemandPublic
from app.demands.scoring import Basis, base_score, target_mask
from app.enterprises import service as key_enterprises
from app.events.service import emit
from app.webhooks.schemas import person_view

NOTHING_TO_POST_FROM = (
    "发布融资需求前，请先在“我的”中填写真实姓名、身份证号和所在村（尚未评级的农户也可以发布，"
    "与农户信用档案一致时会自动关联），或填写企业信息和所在村。",
    "Give your real name, resident ID number and village (unrated households may post too), "
    "or an enterprise profile with a village",
)


async def _create(
    session: AsyncSession,
    body: DemandCreate,
    *,
    household: Household | None,
    user: User | None,
    enterprise: EnterpriseProfile | None,
    village_code: str,
    filed_by: Principal | None,
) -> DemandPublic:
    # Serialise one applicant's postings (the open limit) on its household or account row.
    if household is not None:
        await session.execute(select(Household.id).where(Household.id == household.id).with_for_update())
    elif user is not None:
        await session.execute(select(User.id).where(User.id == user.id).with_for_update())
    if (
        await count_open(session, household_id=household.id if household else None, user_id=user.id if user else None)
        >= common.MAX_OPEN
    ):
        raise too_many()
    stars = household.stars if household is not None else 0
    targets: set[str] = set()
    if enterprise is None:  # a household, rated or not
        targets.add("farmer")
        if household is not None and household.is_registered_poor:
            targets.add("registered_poor")
    else:
        targets.add("small_business")
    if user is not None and user.household_type:
        targets.add(user.household_type)
    collateral = [c.value for c in body.collateral_types]
    collateral = list(dict.fromkeys(collateral))
    today = china_today()
    d = Demand(
        user_id=user.id if user else None,
        household_id=household.id if household else None,
        enterprise_id=enterprise.id if enterprise else None,
        applicant_kind="enterprise" if enterprise is not None else "household",
        filed_by_agent_id=filed_by.id if filed_by is not None else None,
        village_code=village_code,
        township_code=village_code[:9],
        county_code=village_code[:6],
        amount_fen=body.amount_fen,
        term_months=body.term_months,
        purpose=body.purpose.value,
        description=body.description.strip(),
        collateral_types=collateral,
        stars=stars,
        target_mask=target_mask(targets),
        key_enterprise=enterprise is not None
        and await key_enterprises.is_listed(session, enterprise.uscc_hash, village_code[:6]),
        match_base=base_score(
            Basis(
                stars=stars,
                amount_fen=body.amount_fen,
                collateral_types=collateral,
                description=body.description,
                verified=household is not None,
                star_limit_fen=await star_limit(session, stars),
            )
        ),
        status=DemandStatus.open,
        expires_on=expires_from(today),
    )
    session.add(d)
    await session.flush()
    await audit.record(
        session,
        action="demand.create",
        object_type="demand",
        object_id=d.id,
        after={"status": d.status, "amount_fen": d.amount_fen, "term_months": d.term_months, "county": d.county_code},
        filed_by_agent=str(filed_by.id) if filed_by else None,
    )
    people = await common.applicants(session, [d])
    person = people[d.id]
    for bank_id in await banks.active_banks_serving(session, d.county_code):
        await emit(
            session,
            type="demand.created",
            bank_id=bank_id,
            data={
                "demand_id": str(d.id),
                "county_code": d.county_code,
                "village_code": d.village_code,
                "amount_fen": d.amount_fen,
                "term_months": d.term_months,
                "purpose": d.purpose,
                "applicant": person_view(person.name, person.phone, consent=False),
            },
        )
    return await present(session, d)


async def create_mine(session: AsyncSession, redis: Any, p: Principal, body: DemandCreate) -> DemandPublic:
    await ratelimit.hit(
        redis,
        f"demands:{p.id.hex}",
        get_settings().demands_per_day,
        86400,
        ("今日发布融资需求次数已达上限，请明天再试", "Too many demands today"),
    )
    return await post_as_account(session, await load_user(session, p.id), body)


async def post_as_account(session: AsyncSession, user: User, body: DemandCreate) -> DemandPublic:
    """A demand of the account, from whoever `demand_applicant` says it posts as (409 with what is missing)."""
    who = await demand_applicant(session, user)
    if who.kind is None or who.village_code is None:
        raise InvalidState(NOTHING_TO_POST_FROM, extra={"missing": who.missing})
    return await _create(
        session,
        body,
        household=who.household,
        user=user,
        enterprise=who.enterprise,
        village_code=who.village_code,
        filed_by=None,
    )


async def create_for_household(
    session: AsyncSession, household: Household, body: DemandCreate, filed_by: Principal | None
) -> DemandPublic:
    """A demand filed for a household (by a station agent, 代办): recorded with `filed_by_agent_id`."""
    user = await session.get(User, household.user_id) if household.user_id else None
    return await _create(
        session,
        body,
        household=household,
        user=user,
        enterprise=None,
        village_code=household.village_code,
        filed_by=filed_by,
    )


# ---- the farmer's demands ----------------------------------------------------------------------------------


async def list_mine(
    session: AsyncSession, p: Principal, status: str | None, limit: int, cursor: str | None
) -> tuple[list[DemandPublic], str | None]:
    cols = [(Demand.created_at, True), (Demand.id, True)]
    q = select(Demand).where(Demand.user_id == p.id)
    today = china_today()
    if status == DemandStatus.open:
        q = q.where(open_filter(today))
    elif status == DemandStatus.expired:
        q = q.where(
            or_(
                Demand.status == DemandStatus.expired,
                and_(Demand.status == DemandStatus.open, col(Demand.expires_on) < today),
            )
        )
    elif status is not None:
        q = q.where(Demand.status == status)
    if cursor:
        q = q.where(after(cols, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(q.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    items, nxt = page_of(rows, limit, lambda d: [d.created_at, d.id])
    return await present_many(session, items), nxt


async def get_mine(session: AsyncSession, p: Principal, demand_id: uuid.UUID) -> DemandPublic:
    return await present(session, await mine(session, demand_id, user_id=p.id))


async def withdraw_mine(session: AsyncSession, p: Principal, demand_id: uuid.UUID) -> DemandPublic:
    d = await mine(session, demand_id, user_id=p.id, lock=True)
    status = effective_status(d, china_today())
    if status != DemandStatus.open:
        raise not_open(d, status)
    await close_offers(session, d, OfferStatus.closed, "已因需求撤回而关闭")
    await set_status(session, d, DemandStatus.withdrawn, "demand.withdraw")
    return await present(session, d)


async def renew_mine(session: AsyncSession, p: Principal, demand_id: uuid.UUID) -> DemandPublic:
    """An open demand runs 30 more days from today; an expired one reopens for 30 days (its closed offers stay
    closed) if the open limit allows. Accepted and withdrawn demands cannot be renewed."""
    d = await mine(session, demand_id, user_id=p.id, lock=True)
    today = china_today()
    status = effective_status(d, today)
    if status not in (DemandStatus.open, DemandStatus.expired):
        raise not_open(d, status)
    if status == DemandStatus.expired:
        if d.status == DemandStatus.open:  # expired on read, not yet swept
            await close_offers(session, d, OfferStatus.closed, "已因需求过期而关闭")
        if await count_open(session, household_id=d.household_id, user_id=d.user_id) >= common.MAX_OPEN:
            raise too_many()
    d.expires_on = expires_from(today)
    d.closed_at = None
    await set_status(session, d, DemandStatus.open, "demand.renew")
    return await present(session, d)
