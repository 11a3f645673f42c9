"""The farmer's answer to banks' offers on a demand: decline one, or accept one (the others are declined and a
consent lets that bank see the applicant's name and phone)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.consents import service as consents
from app.core import audit
from app.core.dates import china_today
from app.core.db import utcnow
from app.core.errors import InvalidState, NotFound
from app.core.principal import Principal
from app.credit.models import Household
from app.demands import common
from app.demands.common import effective_status, yuan
from app.demands.lifecycle import close_offers, mine, not_open, set_status
from app.demands.models import Demand, DemandOffer, DemandStatus, OfferStatus
from app.demands.presentation import present
from app.demands.schemas import DemandPublic
from app.demands.scoring import PURPOSE_ZH
from app.events.service import emit
from app.notifications.service import notify


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
    return InvalidState(
        ("该报价已失效，不能执行此操作", f"The offer is {o.status}"), extra={"current_status": o.status}
    )


async def _pending_offer(
    session: AsyncSession,
    demand_id: uuid.UUID,
    offer_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None = None,
    household_id: uuid.UUID | None = None,
) -> tuple[Demand, DemandOffer]:
    """The demand (locked, still open) and its offer (locked, still pending) that the farmer answers."""
    d = await mine(session, demand_id, user_id=user_id, household_id=household_id, lock=True)
    o = await _offer_of(session, d, offer_id)
    status = effective_status(d, china_today())
    if status != DemandStatus.open:
        raise not_open(d, status)
    if o.status != OfferStatus.pending:
        raise _offer_not_pending(o)
    return d, o


async def decline_offer(session: AsyncSession, p: Principal, demand_id: uuid.UUID, offer_id: uuid.UUID) -> DemandPublic:
    d, o = await _pending_offer(session, demand_id, offer_id, user_id=p.id)
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
    d, o = await _pending_offer(session, demand_id, offer_id, user_id=user_id, household_id=household_id)
    owner = d.user_id
    if owner is None and d.household_id is not None:
        owner = await session.scalar(select(Household.user_id).where(Household.id == d.household_id))
    if owner is None and via_agent is None:
        raise InvalidState(
            ("该农户尚未注册账号，无法记录个人信息授权", "The household has no account to record the consent on")
        )
    now = utcnow()
    o.status, o.updated_at = OfferStatus.accepted, now
    await close_offers(session, d, OfferStatus.declined, "未被采纳（农户已接受其他银行的报价）", keep=o.id)
    d.accepted_offer_id = o.id
    await set_status(
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
