"""Demo demands: open loan needs of rated demo households (given demo farmer accounts where they have none),
with offers from the demo banks serving their county. Runs after the catalog, credit and drawdowns seeders;
idempotent (a household that has any demand is left alone)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.dependencies import Principal
from app.auth.models import User
from app.banks.models import BankCounty
from app.catalog.models import Product
from app.core.errors import AppError
from app.credit.models import Household
from app.credit.seed import DEMO_VILLAGES
from app.demands import bank, common, posting
from app.demands.models import Demand
from app.demands.schemas import DemandCreate, OfferCreate
from app.drawdowns.dates import china_today
from app.supervision import counters

# (amount in fen, term in months, purpose, collateral, description)
PLAN = [
    (3_000_000, 12, "livestock", ["livestock"], "扩建养牛场，新增肉牛二十头，需要购买饲料和圈舍材料。"),
    (20_000_000, 24, "farm_machinery", ["machinery"], "购置一台小麦联合收割机，为本村及周边农户提供机收服务。"),
    (800_000, 6, "planting", [], "流转土地三十亩种植花生，购买种子化肥。"),
    (5_000_000, 36, "processing", ["workshop"], "扩建芝麻油加工作坊，购置压榨设备。"),
    (1_500_000, 12, "commerce", [], "开办村级农资超市，进货周转资金。"),
    (4_000_000, 12, "planting", [], "建设两个蔬菜大棚，购买棚膜和滴灌设备。"),
]


async def _account(session: AsyncSession, h: Household, i: int) -> uuid.UUID:
    if h.user_id is not None:
        return h.user_id
    phone = f"+86138000002{i:02d}"
    user = await session.scalar(select(User).where(User.phone == phone, User.role == "farmer"))
    if user is None:
        user = User(role="farmer", phone=phone, real_name=h.real_name, village_code=h.village_code)
        session.add(user)
        await session.flush()
    h.user_id = user.id
    await counters.move_households(session, {h.village_code: (0, 1)})
    h.phone = h.phone or phone
    await session.flush()
    return user.id


async def seed_demands(session: AsyncSession) -> None:
    households = (
        (
            await session.execute(
                select(Household)
                .where(col(Household.village_code).in_(DEMO_VILLAGES), Household.stars >= 1)
                .order_by(Household.village_code, Household.id_number_hash)
            )
        )
        .scalars()
        .all()
    )
    today = china_today()
    for i, h in enumerate(households[: len(PLAN)]):
        if await session.scalar(select(Demand.id).where(Demand.household_id == h.id).limit(1)):
            continue
        await _account(session, h, i)
        amount, term, purpose, collateral, text = PLAN[i]
        body = DemandCreate.model_validate(
            {
                "amount_fen": amount,
                "term_months": term,
                "purpose": purpose,
                "description": text,
                "collateral_types": collateral,
            }
        )
        created = await posting.create_for_household(session, h, body, filed_by=None)
        bank_ids = (
            await session.execute(
                select(BankCounty.bank_id).where(BankCounty.county_code == h.county_code).order_by(BankCounty.bank_id)
            )
        ).scalars()
        products = await common.products_in_counties(session, [h.county_code], today)
        for n, bank_id in enumerate(list(bank_ids)[:2]):
            p = next((x for x in products if x.bank_id == bank_id and _fits(x, amount, term)), None)
            if p is None:
                continue
            staff = Principal(kind="user", id=uuid.uuid4(), role="bank_staff", jti="seed", bank_id=bank_id)
            offer = OfferCreate(
                product_id=p.id,
                amount_fen=amount,
                annual_rate_bp=p.min_annual_rate_bp + 25 * n,
                term_months=term,
                note="客户经理可上门办理，请保持电话畅通。",
            )
            try:
                async with session.begin_nested():
                    await bank.create_offer(session, staff, created.id, offer)
            except AppError:
                continue
    await session.flush()


def _fits(p: Product, amount: int, term: int) -> bool:
    return p.min_amount_fen <= amount <= p.max_amount_fen and p.min_term_months <= term <= p.max_term_months
