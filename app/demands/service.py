"""The farmer's side of the demand library (also used by station agents): post, list, withdraw, renew, accept
or decline offers; the worker's expiry sweep and star refresh; the export section.

A demand comes from the account's linked household and its village. An account without a household may post
as a small business when it has an enterprise profile AND a village on its profile (`PATCH /me`
`village_code`): the enterprise's name stands for the applicant, its stars are 0. Anything else is 409.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth import rights
from app.auth.dependencies import Principal
from app.auth.models import EnterpriseProfile, User
from app.auth.profile import enterprise_of, linked_household, load_user
from app.banks.models import Bank, BankCounty
from app.consents import service as consents
from app.core import audit, ratelimit
from app.core.config import get_settings
from app.core.crypto import mask_name, mask_phone
from app.core.db import utcnow
from app.core.errors import InvalidState, NotFound, TooManyOpenDemands
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.credit.models import CertificatePolicy, Household
from app.demands import common
from app.demands.common import effective_status, expires_from, open_filter, yuan
from app.demands.models import Demand, DemandOffer, DemandStatus, OfferStatus
from app.demands.schemas import DemandCreate, DemandPublic, SharedView
from app.demands.scoring import PURPOSE_ZH, Basis, base_score, product_fits, target_mask
from app.drawdowns.dates import china_today
from app.events.service import emit
from app.notifications.service import notify
from app.regions.models import Region
from app.webhooks.schemas import person_view

SUGGESTED = 5
NOTHING_TO_POST_FROM = (
    "您的账号尚未关联农户信息，也没有填写企业信息和所在村，暂不能发布融资需求。"
    "请先在“我的”中完成实名关联，或填写企业信息和所在村。",
    "Your account has no linked household, nor an enterprise profile with a village",
)


# ---- presentation ------------------------------------------------------------------------------------------


async def present_many(session: AsyncSession, demands: Sequence[Demand]) -> list[DemandPublic]:
    if not demands:
        return []
    today = china_today()
    names = await common.region_names(session, {d.village_code for d in demands})
    offers = await common.offers_of(session, [d.id for d in demands])
    serving = await common.banks_serving(session, {d.county_code for d in demands})
    products = await common.products_in_counties(session, {d.county_code for d in demands}, today)
    bank_of = await common.bank_names(session, {p.bank_id for p in products})
    people = await common.applicants(session, demands)
    available = await common.available_on_certificates(
        session, {d.household_id for d in demands if d.household_id}, today
    )
    out = []
    for d in demands:
        fits = [
            p
            for p in products
            if product_fits(
                common.facts(p),
                county_code=d.county_code,
                amount_fen=d.amount_fen,
                term_months=d.term_months,
                collateral_types=d.collateral_types,
                demand_targets=d.target_mask,
                certificate_available_fen=available.get(d.household_id) if d.household_id else None,
                today=today,
            )
        ][:SUGGESTED]
        person = people[d.id]
        out.append(
            DemandPublic(
                id=d.id,
                status=effective_status(d, today),
                applicant_kind=d.applicant_kind,
                amount_fen=d.amount_fen,
                term_months=d.term_months,
                purpose=d.purpose,
                description=d.description,
                collateral_types=list(d.collateral_types),
                village=common.region_ref(d.village_code, names),
                county_code=d.county_code,
                stars=d.stars,
                expires_on=d.expires_on,
                accepted_offer_id=d.accepted_offer_id,
                filed_by_agent=d.filed_by_agent_id is not None,
                offers=offers[d.id],
                suggested_products=[common.product_ref(p, bank_of) for p in fits],
                shared_with_banks=SharedView(
                    applicant_name=mask_name(person.name),
                    phone=mask_phone(person.phone),
                    village=common.region_ref(d.village_code, names),
                    stars=d.stars,
                    amount_fen=d.amount_fen,
                    term_months=d.term_months,
                    purpose=d.purpose,
                    description=d.description,
                    collateral_types=list(d.collateral_types),
                    banks=serving.get(d.county_code, []),
                ),
                created_at=d.created_at,
                updated_at=d.updated_at,
            )
        )
    return out


async def present(session: AsyncSession, d: Demand) -> DemandPublic:
    return (await present_many(session, [d]))[0]


# ---- posting -----------------------------------------------------------------------------------------------


async def _star_limit(session: AsyncSession, stars: int) -> int:
    if stars < 1:
        return 0
    policy = await session.get(CertificatePolicy, stars)
    return policy.limit_fen if policy else 0


async def _count_open(session: AsyncSession, *, household_id: uuid.UUID | None, user_id: uuid.UUID | None) -> int:
    q = select(func.count()).select_from(Demand).where(open_filter(china_today()))
    q = q.where(Demand.household_id == household_id) if household_id else q.where(Demand.user_id == user_id)
    return int((await session.execute(q)).scalar_one())


def _too_many() -> TooManyOpenDemands:
    return TooManyOpenDemands(
        (
            f"您已有 {common.MAX_OPEN} 条进行中的融资需求，请先撤回或等待其结束后再发布",
            f"At most {common.MAX_OPEN} open demands",
        ),
        extra={"max_open": common.MAX_OPEN},
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
        await _count_open(session, household_id=household.id if household else None, user_id=user.id if user else None)
        >= common.MAX_OPEN
    ):
        raise _too_many()
    stars = household.stars if household is not None else 0
    targets: set[str] = set()
    if household is not None:
        targets.add("farmer")
        if household.is_registered_poor:
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
        applicant_kind="household" if household is not None else "enterprise",
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
        match_base=base_score(
            Basis(
                stars=stars,
                amount_fen=body.amount_fen,
                collateral_types=collateral,
                description=body.description,
                verified=household is not None,
                star_limit_fen=await _star_limit(session, stars),
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
    banks = (
        await session.execute(
            select(BankCounty.bank_id)
            .join(Bank, Bank.id == BankCounty.bank_id)
            .where(BankCounty.county_code == d.county_code, col(Bank.is_active).is_(True))
            .order_by(BankCounty.bank_id)
        )
    ).scalars()
    for bank_id in banks:
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
    user = await load_user(session, p.id)
    household = await linked_household(session, p.id)
    if household is not None:
        return await _create(
            session,
            body,
            household=household,
            user=user,
            enterprise=None,
            village_code=household.village_code,
            filed_by=None,
        )
    enterprise = await enterprise_of(session, p.id)
    village = await session.get(Region, user.village_code) if enterprise is not None and user.village_code else None
    if enterprise is None or village is None or village.level not in ("village", "community"):
        raise InvalidState(NOTHING_TO_POST_FROM)
    return await _create(
        session, body, household=None, user=user, enterprise=enterprise, village_code=village.code, filed_by=None
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


async def _mine(
    session: AsyncSession,
    demand_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None = None,
    household_id: uuid.UUID | None = None,
    lock: bool = False,
) -> Demand:
    if user_id is None and household_id is None:
        raise NotFound()
    q = select(Demand).where(Demand.id == demand_id)
    q = q.where(Demand.user_id == user_id) if user_id is not None else q.where(Demand.household_id == household_id)
    if lock:
        q = q.with_for_update()
    d = (await session.execute(q)).scalar_one_or_none()
    if d is None:
        raise NotFound()
    return d


async def get_mine(session: AsyncSession, p: Principal, demand_id: uuid.UUID) -> DemandPublic:
    return await present(session, await _mine(session, demand_id, user_id=p.id))


def _not_open(d: Demand, status: str) -> InvalidState:
    zh = {"accepted": "已接受报价", "withdrawn": "已撤回", "expired": "已过期"}.get(status, status)
    return InvalidState((f"该融资需求{zh}，不能执行此操作", f"The demand is {status}"), extra={"status": status})


async def _pending_offers(session: AsyncSession, demand_id: uuid.UUID) -> list[DemandOffer]:
    return list(
        (
            await session.execute(
                select(DemandOffer)
                .where(DemandOffer.demand_id == demand_id, DemandOffer.status == OfferStatus.pending)
                .order_by(DemandOffer.id)
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )


async def _close_offers(
    session: AsyncSession, d: Demand, status: OfferStatus, why: str, keep: uuid.UUID | None = None
) -> None:
    now = utcnow()
    for o in await _pending_offers(session, d.id):
        if o.id == keep:
            continue
        o.status, o.updated_at = status, now
        await notify(
            session,
            bank_id=o.bank_id,
            kind=f"offer.{status}",
            title="报价未被采纳" if status == OfferStatus.declined else "融资需求已关闭",
            body=f"您对 {yuan(d.amount_fen)} 元{PURPOSE_ZH.get(d.purpose, '')}需求的报价{why}。",
            data={"demand_id": str(d.id), "offer_id": str(o.id), "status": status},
        )


async def _set_status(session: AsyncSession, d: Demand, status: DemandStatus, action: str, **extra: Any) -> None:
    before = {"status": d.status, "expires_on": d.expires_on}
    d.status = status
    d.updated_at = utcnow()
    if status != DemandStatus.open:
        d.closed_at = d.updated_at
    await session.flush()
    await audit.record(
        session,
        action=action,
        object_type="demand",
        object_id=d.id,
        before=before,
        after={"status": d.status, "expires_on": d.expires_on},
        **extra,
    )


async def withdraw_mine(session: AsyncSession, p: Principal, demand_id: uuid.UUID) -> DemandPublic:
    d = await _mine(session, demand_id, user_id=p.id, lock=True)
    status = effective_status(d, china_today())
    if status != DemandStatus.open:
        raise _not_open(d, status)
    await _close_offers(session, d, OfferStatus.closed, "已因需求撤回而关闭")
    await _set_status(session, d, DemandStatus.withdrawn, "demand.withdraw")
    return await present(session, d)


async def renew_mine(session: AsyncSession, p: Principal, demand_id: uuid.UUID) -> DemandPublic:
    """An open demand runs 30 more days from today; an expired one reopens for 30 days (its closed offers stay
    closed) if the open limit allows. Accepted and withdrawn demands cannot be renewed."""
    d = await _mine(session, demand_id, user_id=p.id, lock=True)
    today = china_today()
    status = effective_status(d, today)
    if status not in (DemandStatus.open, DemandStatus.expired):
        raise _not_open(d, status)
    if status == DemandStatus.expired:
        if d.status == DemandStatus.open:  # expired on read, not yet swept
            await _close_offers(session, d, OfferStatus.closed, "已因需求过期而关闭")
        if await _count_open(session, household_id=d.household_id, user_id=d.user_id) >= common.MAX_OPEN:
            raise _too_many()
    d.expires_on = expires_from(today)
    d.closed_at = None
    await _set_status(session, d, DemandStatus.open, "demand.renew")
    return await present(session, d)


async def _offer_of(session: AsyncSession, d: Demand, offer_id: uuid.UUID) -> DemandOffer:
    o = (
        await session.execute(
            select(DemandOffer).where(DemandOffer.id == offer_id, DemandOffer.demand_id == d.id).with_for_update()
        )
    ).scalar_one_or_none()
    if o is None:
        raise NotFound()
    return o


def _offer_not_pending(o: DemandOffer) -> InvalidState:
    return InvalidState(("该报价已失效，不能执行此操作", f"The offer is {o.status}"), extra={"status": o.status})


async def decline_offer(session: AsyncSession, p: Principal, demand_id: uuid.UUID, offer_id: uuid.UUID) -> DemandPublic:
    d = await _mine(session, demand_id, user_id=p.id, lock=True)
    o = await _offer_of(session, d, offer_id)
    status = effective_status(d, china_today())
    if status != DemandStatus.open:
        raise _not_open(d, status)
    if o.status != OfferStatus.pending:
        raise _offer_not_pending(o)
    o.status, o.updated_at = OfferStatus.declined, utcnow()
    await session.flush()
    await audit.record(
        session,
        action="offer.decline",
        object_type="demand_offer",
        object_id=o.id,
        before={"status": OfferStatus.pending},
        after={"status": o.status},
        demand_id=str(d.id),
    )
    await notify(
        session,
        bank_id=o.bank_id,
        kind="offer.declined",
        title="报价被婉拒",
        body=f"农户婉拒了您对 {yuan(d.amount_fen)} 元{PURPOSE_ZH.get(d.purpose, '')}需求的报价。",
        data={"demand_id": str(d.id), "offer_id": str(o.id)},
    )
    return await present(session, d)


CONSENT_FIELDS = ["real_name", "phone"]


async def accept_offer(
    session: AsyncSession,
    demand_id: uuid.UUID,
    offer_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None = None,
    household_id: uuid.UUID | None = None,
    via_agent: Principal | None = None,
) -> DemandPublic:
    """Accept one offer: the demand becomes `accepted`, the other live offers are declined, and a consent lets
    that bank (only that bank) see the applicant's name and phone. The demand is found by its owner's account
    (`user_id`) or, for an agent acting with the household's SMS code, by `household_id`."""
    d = await _mine(session, demand_id, user_id=user_id, household_id=household_id, lock=True)
    o = await _offer_of(session, d, offer_id)
    status = effective_status(d, china_today())
    if status != DemandStatus.open:
        raise _not_open(d, status)
    if o.status != OfferStatus.pending:
        raise _offer_not_pending(o)
    owner = d.user_id
    if owner is None and d.household_id is not None:
        owner = await session.scalar(select(Household.user_id).where(Household.id == d.household_id))
    if owner is None and via_agent is None:
        raise InvalidState(
            ("该农户尚未注册账号，无法记录个人信息授权", "The household has no account to record the consent on")
        )
    now = utcnow()
    o.status, o.updated_at = OfferStatus.accepted, now
    await _close_offers(session, d, OfferStatus.declined, "未被采纳（农户已接受其他银行的报价）", keep=o.id)
    d.accepted_offer_id = o.id
    await _set_status(
        session,
        d,
        DemandStatus.accepted,
        "demand.accept",
        offer_id=str(o.id),
        bank_id=str(o.bank_id),
        via_agent=str(via_agent.id) if via_agent else None,
    )
    consent = await consents.grant(
        session,
        user_id=owner,
        household_id=d.household_id,
        bank_id=o.bank_id,
        source="offer",
        source_id=o.id,
        fields=CONSENT_FIELDS,
        purpose=f"银行联系本人办理融资需求（{yuan(d.amount_fen)} 元，{PURPOSE_ZH.get(d.purpose, d.purpose)}）的贷款",
        # A household without an account consents through the agent: recorded on the household, agent as witness.
        witness_agent_id=via_agent.id if via_agent is not None else None,
    )
    person = (await common.applicants(session, [d]))[d.id]
    await emit(
        session,
        type="offer.accepted",
        bank_id=o.bank_id,
        data={
            "demand_id": str(d.id),
            "offer_id": str(o.id),
            "consent_id": str(consent.id),
            "amount_fen": o.amount_fen,
            "applicant": {"name": person.name, "phone": person.phone},
        },
    )
    await notify(
        session,
        bank_id=o.bank_id,
        kind="offer.accepted",
        title="报价已被接受",
        body=f"农户接受了您对 {yuan(d.amount_fen)} 元{PURPOSE_ZH.get(d.purpose, '')}需求的报价，请尽快联系。",
        data={"demand_id": str(d.id), "offer_id": str(o.id)},
    )
    return await present(session, d)


# ---- the worker --------------------------------------------------------------------------------------------


async def expire_due(session: AsyncSession, batch: int = 200) -> int:
    """Record demands past `expires_on` as expired, close their live offers and tell the farmer."""
    today = china_today()
    rows = (
        (
            await session.execute(
                select(Demand)
                .where(Demand.status == DemandStatus.open, col(Demand.expires_on) < today)
                .order_by(Demand.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        .scalars()
        .all()
    )
    for d in rows:
        await _close_offers(session, d, OfferStatus.closed, "已因需求过期而关闭")
        await _set_status(session, d, DemandStatus.expired, "demand.expire")
        if d.user_id is not None:
            await notify(
                session,
                user_id=d.user_id,
                kind="demand.expired",
                title="融资需求已过期",
                body=(
                    f"您 {yuan(d.amount_fen)} 元的{PURPOSE_ZH.get(d.purpose, '')}融资需求已满 30 天，"
                    "已自动下架；如仍需要，可以续期。"
                ),
                data={"demand_id": str(d.id)},
            )
    return len(rows)


async def refresh_stars(session: AsyncSession, batch: int = 500) -> int:
    """Open demands whose household's stars changed since posting: new stars, new match score."""
    rows = (
        await session.execute(
            select(Demand, Household.stars)
            .join(Household, Household.id == Demand.household_id)
            .where(Demand.status == DemandStatus.open, Demand.stars != Household.stars)
            .order_by(Demand.id)
            .limit(batch)
        )
    ).all()
    limits = {s: await _star_limit(session, s) for s in {stars for _, stars in rows}}
    for d, stars in rows:
        d.stars = stars
        d.match_base = base_score(
            Basis(
                stars=stars,
                amount_fen=d.amount_fen,
                collateral_types=d.collateral_types,
                description=d.description,
                verified=d.household_id is not None,
                star_limit_fen=limits[stars],
            )
        )
        d.updated_at = utcnow()
    await session.flush()
    return len(rows)


# ---- the farmer's rights -----------------------------------------------------------------------------------


async def export_demands(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    rows = (
        (await session.execute(select(Demand).where(Demand.user_id == user.id).order_by(Demand.created_at).limit(1000)))
        .scalars()
        .all()
    )
    offers = await common.offers_of(session, [d.id for d in rows])
    today = china_today()
    return [
        {
            "id": str(d.id),
            "status": effective_status(d, today),
            "amount_fen": d.amount_fen,
            "term_months": d.term_months,
            "purpose": d.purpose,
            "description": d.description,
            "collateral_types": list(d.collateral_types),
            "village_code": d.village_code,
            "expires_on": d.expires_on.isoformat(),
            "created_at": d.created_at.isoformat(),
            "offers": [o.model_dump(mode="json") for o in offers[d.id]],
        }
        for d in rows
    ]


rights.register_exporter("demands", export_demands)
