"""How the farmer sees a demand (its offers, suggested products and what the serving banks are shown), and the
demands section of the farmer's export (`GET /me/export`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import rights
from app.auth.models import User
from app.consents import service as consents
from app.consents.models import Consent
from app.core.dates import china_today
from app.demands import common
from app.demands.common import effective_status
from app.demands.models import Demand
from app.demands.schemas import Audience, BankRef, DemandPublic, SharedView
from app.demands.scoring import product_fits

SUGGESTED = 5


FIELD_ZH = {
    "real_name": "真实姓名",
    "phone": "手机号",
    "id_number": "身份证号",
    "rating": "信用评级",
    "certificate": "授信信息",
}


def _fields_zh(fields: Sequence[str]) -> str:
    return "、".join(FIELD_ZH.get(f, f) for f in fields)


def _audiences(
    d: Demand,
    person: common.Person,
    county_banks: list[BankRef],
    county_name: str,
    lead: tuple[Consent, str] | None,
    accepted: tuple[Consent, str] | None,
) -> list[Audience]:
    masked = common.seen_by(person, set())
    rated = common.rated(d)
    stars = f"信用星级（{d.stars}星）" if rated and d.stars else "信用星级（非信用户）" if rated else "“未评级”"
    also = ["village", "stars", "demand"] + (["key_enterprise"] if d.key_enterprise else [])
    out = [
        Audience(
            audience="county_banks",
            banks=county_banks,
            where="demand",
            applicant=masked,
            also=also,
            consent_id=None,
            summary=(
                f"服务{county_name}的 {len(county_banks)} 家银行在需求库中只看到脱敏信息："
                f"“{masked.name or ''}”、{masked.phone or '无手机号'}"
                + (f"、身份证号 {masked.id_number}" if masked.id_number else "")
                + f"，以及所在村、{stars}和本需求的金额、期限、用途、说明与抵质押物。"
            ),
        )
    ]
    if lead is not None:
        consent, bank_name = lead
        fields = list(consent.fields or [])
        out.append(
            Audience(
                audience="lead_bank",
                banks=[BankRef(id=consent.bank_id, name=bank_name)],
                where="lending",
                applicant=common.seen_by(person, set(fields)),
                also=[f for f in fields if f not in ("real_name", "phone", "id_number")] + ["drawdowns"],
                consent_id=consent.id,
                summary=(
                    f"您的主办银行{bank_name}凭您启信时的授权，办理授信贷款（审批、放款和贷后管理）时可以看到您的"
                    f"{_fields_zh(fields)}；在本需求中它与其他银行一样只看到脱敏信息。撤回该授权后立即恢复脱敏。"
                ),
            )
        )
    if accepted is not None:
        consent, bank_name = accepted
        fields = list(consent.fields or [])
        view = common.seen_by(person, set(fields))
        out.append(
            Audience(
                audience="accepted_bank",
                banks=[BankRef(id=consent.bank_id, name=bank_name)],
                where="demand",
                applicant=view,
                also=also,
                consent_id=consent.id,
                summary=(
                    f"您接受了{bank_name}的报价并授权：该行在本需求中可以看到您的{_fields_zh(fields)}，"
                    "用于联系您办理这笔贷款"
                    + ("；身份证号仍为脱敏" if "id_number" not in fields and view.id_number else "")
                    + "。撤回该授权后立即恢复脱敏。"
                ),
            )
        )
    return out


async def present_many(session: AsyncSession, demands: Sequence[Demand]) -> list[DemandPublic]:
    if not demands:
        return []
    today = china_today()
    names = await common.region_names(session, {d.village_code for d in demands} | {d.county_code for d in demands})
    offers = await common.offers_of(session, [d.id for d in demands])
    serving = await common.banks_serving(session, {d.county_code for d in demands})
    products = await common.products_in_counties(session, {d.county_code for d in demands}, today)
    bank_of = await common.bank_names(session, {p.bank_id for p in products})
    people = await common.applicants(session, demands)
    available = await common.available_on_certificates(
        session, {d.household_id for d in demands if d.household_id}, today
    )
    leads = await consents.activation_consents(session, {d.household_id for d in demands if d.household_id})
    accepted = await consents.offer_consents(session, {d.accepted_offer_id for d in demands if d.accepted_offer_id})
    bank_of.update(
        await common.bank_names(session, {c.bank_id for c in leads.values()} | {c.bank_id for c in accepted.values()})
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
        masked = common.seen_by(person, set())
        seeing = list(serving.get(d.county_code, []))
        for o in offers[d.id]:  # a bank that offered sees the demand too, wherever it serves
            if all(b.id != o.bank.id for b in seeing):
                seeing.append(o.bank)
        lead = leads.get(d.household_id) if d.household_id else None
        took = accepted.get(d.accepted_offer_id) if d.accepted_offer_id else None
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
                stars=common.stars_of(d),
                rated=common.rated(d),
                key_enterprise=d.key_enterprise,
                expires_on=d.expires_on,
                accepted_offer_id=d.accepted_offer_id,
                filed_by_agent=d.filed_by_agent_id is not None,
                offers=offers[d.id],
                suggested_products=[common.product_ref(p, bank_of) for p in fits],
                shared_with_banks=SharedView(
                    applicant_name=masked.name,
                    phone=masked.phone,
                    id_number=masked.id_number,
                    village=common.region_ref(d.village_code, names),
                    stars=common.stars_of(d),
                    rated=common.rated(d),
                    key_enterprise=d.key_enterprise,
                    amount_fen=d.amount_fen,
                    term_months=d.term_months,
                    purpose=d.purpose,
                    description=d.description,
                    collateral_types=list(d.collateral_types),
                    banks=serving.get(d.county_code, []),
                    audiences=_audiences(
                        d,
                        person,
                        seeing,
                        names.get(d.county_code, d.county_code),
                        (lead, bank_of.get(lead.bank_id, "")) if lead is not None else None,
                        (took, bank_of.get(took.bank_id, "")) if took is not None else None,
                    ),
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
