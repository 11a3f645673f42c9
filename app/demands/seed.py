"""Demo demands, through the demand services: needs of rated demo households in the demo villages (accounts made
as a first login makes them), an unrated farmer's need (real name + resident ID + village, no household), a key
enterprise's need, offers from the demo banks serving the county, and one offer accepted (which records the
consent to that bank). Runs after the catalog, credit and drawdowns seeders; idempotent (an applicant that has any
demand is left alone)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import profile
from app.auth.seed import demo_farmer
from app.banks.models import BankCounty
from app.catalog.models import Product
from app.core import crypto
from app.core.dates import china_today
from app.core.errors import AppError
from app.core.identity import resident_id_check_char
from app.core.principal import Principal
from app.credit.models import Household
from app.demands import bank, common, offers, posting
from app.demands.models import Demand, DemandOffer, OfferStatus
from app.demands.schemas import DemandCreate, DemandPublic, OfferCreate

# (village, household index in app.credit.seed, amount in fen, term in months, purpose, collateral, description)
PLAN = [
    ("411725101200", 0, 3_000_000, 12, "livestock", ["livestock"], "扩建养牛场，新增肉牛二十头，购买饲料和圈舍材料。"),
    ("411725101201", 0, 4_000_000, 12, "planting", [], "建设两个蔬菜大棚，购买棚膜和滴灌设备。"),  # accepted
    ("411725101200", 2, 20_000_000, 24, "farm_machinery", ["machinery"], "购置小麦联合收割机，为周边农户提供机收。"),
    ("411725101202", 0, 800_000, 6, "planting", [], "流转土地三十亩种植花生，购买种子化肥。"),
    ("411725101202", 1, 5_000_000, 36, "processing", ["workshop"], "扩建芝麻油加工作坊，购置压榨设备。"),
    ("411702009202", 0, 1_500_000, 12, "commerce", [], "开办村级农资超市，进货周转资金。"),
]  # fmt: skip
ACCEPTED = 1  # the PLAN entry whose first offer the household accepts
# An unrated farmer: the provincial system has no household for this ID yet (未评级).
UNRATED = ("+8613800000010", "孙示范", "411725101200")
UNRATED_NEED = (1_200_000, 12, "livestock", ["livestock"], "新建羊舍，购买二十只湖羊种羊，尚未参加信用评级。")
# The key enterprise's account (app.enterprises.seed.DEMO_ENTERPRISES[0]).
ENTERPRISE = ("+8613800000020", "411725101200")
ENTERPRISE_NEED = (
    30_000_000,
    24,
    "farm_machinery",
    ["machinery"],
    "合作社购置玉米籽粒收获机和烘干机，扩大社会化服务。",
)


def unrated_id() -> str:
    first17 = "411725" + "19850315" + "021"
    return first17 + resident_id_check_char(first17)


def _need(amount: int, term: int, purpose: str, collateral: list[str], text: str) -> DemandCreate:
    return DemandCreate.model_validate(
        {
            "amount_fen": amount,
            "term_months": term,
            "purpose": purpose,
            "description": text,
            "collateral_types": collateral,
        }
    )


def _fits(p: Product, amount: int, term: int) -> bool:
    return p.min_amount_fen <= amount <= p.max_amount_fen and p.min_term_months <= term <= p.max_term_months


async def _offers(session: AsyncSession, d: DemandPublic) -> None:
    """Offers from up to two demo banks serving the county, each with its first product that fits."""
    bank_ids = (
        await session.execute(
            select(BankCounty.bank_id).where(BankCounty.county_code == d.county_code).order_by(BankCounty.bank_id)
        )
    ).scalars()
    products = await common.products_in_counties(session, [d.county_code], china_today())
    made = 0
    for bank_id in bank_ids:
        if made == 2:
            break
        p = next((x for x in products if x.bank_id == bank_id and _fits(x, d.amount_fen, d.term_months)), None)
        if p is None:
            continue
        staff = Principal(kind="user", id=uuid.uuid4(), role="bank_staff", jti="seed", bank_id=bank_id)
        offer = OfferCreate(
            product_id=p.id,
            amount_fen=d.amount_fen,
            annual_rate_bp=p.min_annual_rate_bp + 25 * made,
            term_months=d.term_months,
            note="客户经理可上门办理，请保持电话畅通。",
        )
        try:  # a product the rules refuse for this applicant (targets, caps) is simply not offered
            async with session.begin_nested():
                await bank.create_offer(session, staff, d.id, offer)
            made += 1
        except AppError:
            continue


async def _household_account(session: AsyncSession, h: Household, n: int) -> uuid.UUID:
    if h.user_id is not None:
        return h.user_id
    user = await demo_farmer(
        session,
        h.phone or f"+86138000002{n:02d}",
        real_name=h.real_name,
        id_number=crypto.decrypt(h.id_number_enc, "resident_id"),
        village_code=h.village_code,
    )
    return user.id


async def _has_demand(session: AsyncSession, user_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(Demand.id).where(Demand.user_id == user_id).limit(1)))


async def seed_demands(session: AsyncSession) -> None:
    from app.credit.seed import demo_identity
    from app.enterprises.seed import DEMO_ENTERPRISES, demo_code

    for n, (village, i, amount, term, purpose, collateral, text) in enumerate(PLAN):
        id_number, _ = demo_identity(village, i)
        h = await session.scalar(
            select(Household).where(Household.id_number_hash == crypto.index_hash(id_number, "resident_id"))
        )
        if h is None or h.stars < 1:
            continue
        if await session.scalar(select(Demand.id).where(Demand.household_id == h.id).limit(1)):
            continue
        user_id = await _household_account(session, h, n)
        user = await profile.load_user(session, user_id)
        created = await posting.post_as_account(session, user, _need(amount, term, purpose, collateral, text))
        await _offers(session, created)
        if n == ACCEPTED:
            offer_id = await session.scalar(
                select(DemandOffer.id)
                .where(DemandOffer.demand_id == created.id, DemandOffer.status == OfferStatus.pending)
                .order_by(DemandOffer.created_at, DemandOffer.id)
                .limit(1)
            )
            if offer_id is not None:
                # accepting (step-up in the app) records the consent: that bank alone sees name and phone
                await offers.accept_offer(session, created.id, offer_id, user_id=user_id)

    phone, name, village = UNRATED
    unrated = await demo_farmer(session, phone, real_name=name, id_number=unrated_id(), village_code=village)
    if not await _has_demand(session, unrated.id):
        await _offers(session, await posting.post_as_account(session, unrated, _need(*UNRATED_NEED)))

    phone, village = ENTERPRISE
    firm = await demo_farmer(session, phone, village_code=village, household_type="small_business")
    key, firm_name, _, _ = DEMO_ENTERPRISES[0]
    if await profile.enterprise_of(session, firm.id) is None:
        await profile.put_enterprise(session, firm.id, firm_name, demo_code(key))
    if not await _has_demand(session, firm.id):
        await _offers(session, await posting.post_as_account(session, firm, _need(*ENTERPRISE_NEED)))
    await session.flush()
