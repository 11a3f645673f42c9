"""How the farmer sees a demand (its offers, suggested products and what the serving banks are shown), and the
demands section of the farmer's export (`GET /me/export`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import rights
from app.auth.models import User
from app.core.crypto import mask_name, mask_phone
from app.demands import common
from app.demands.common import effective_status
from app.demands.models import Demand
from app.demands.schemas import DemandPublic, SharedView
from app.demands.scoring import product_fits
from app.drawdowns.dates import china_today

SUGGESTED = 5


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
