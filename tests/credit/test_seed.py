from __future__ import annotations

from sqlalchemy import func, select

from app.auth.models import User
from app.credit.models import Certificate, Household
from app.credit.seed import DEMO_PHONE, DEMO_VILLAGES, seed_credit_demo


async def test_demo_seed_is_idempotent(session) -> None:  # type: ignore[no-untyped-def]
    await seed_credit_demo(session)
    await session.commit()
    count = await session.scalar(select(func.count()).where(Household.village_code.in_(DEMO_VILLAGES)))
    await seed_credit_demo(session)
    await session.commit()
    assert await session.scalar(select(func.count()).where(Household.village_code.in_(DEMO_VILLAGES))) == count == 40
    user = await session.scalar(select(User).where(User.phone == DEMO_PHONE, User.role == "farmer"))
    h = await session.scalar(select(Household).where(Household.user_id == user.id))
    assert h.stars == 5
    cert = await session.scalar(select(Certificate).where(Certificate.household_id == h.id, Certificate.is_current))
    assert cert.color == "red" and cert.limit_fen == 5_000_000 and cert.status in ("issued", "active")
    vetoed = await session.scalar(
        select(func.count()).where(Household.village_code.in_(DEMO_VILLAGES), Household.vetoed.is_(True))
    )
    assert vetoed == 5
