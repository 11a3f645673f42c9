"""Demo accounts (idempotent): the platform operator, a city-wide and a county regulator, bank staff, a bank
system's API client with published demo credentials, and the demo farmers' accounts (made for the other domains'
seeders through `demo_farmer`, which links a household the way `PATCH /me` does).

The demo passwords are fixed by the product owner (the admin one contains its username, which the policy refuses
for real accounts), so the seeder skips the policy check; never do that for input from a request. Every value
here is a demo value, listed in the README: none may ever reach a real deployment."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import clients, profile, users
from app.auth.models import ApiClient, User
from app.banks.models import Bank
from app.core import crypto
from app.core.principal import Role
from app.credit.models import Household

DEMO_USERS = (
    (Role.admin, "admin", "Puhuitong-Ops-2026", None),
    (Role.regulator, "regulator", "Puhuitong-Reg-2026", "4117"),
    (Role.regulator, "regulator-qs", "Puhuitong-Reg-2026", "411725"),  # 确山县 only
)
BANK_PASSWORD = "Puhuitong-Bank-2026"
# (bank short name as in app.catalog.seed.BANKS, username, real name)
BANK_STAFF = (
    ("qsrcb", "qsrcb-staff", "杨客户经理"),
    ("zmdrcb", "zmdrcb-staff", "刘客户经理"),
    ("abc", "abc-staff", "陈客户经理"),
)
# A core-banking system of 确山农商银行 with every scope (POST /auth/token, client credentials).
DEMO_CLIENT = ("qsrcb", "pht_demo_qsrcb_core", "Puhuitong-Demo-Client-Secret-2026", "确山农商银行核心系统（演示）")


async def _bank_id(session: AsyncSession, short: str) -> uuid.UUID | None:
    from app.catalog.seed import demo_uscc

    return await session.scalar(select(Bank.id).where(Bank.unified_social_credit_code == demo_uscc(short)))


async def seed_accounts(session: AsyncSession) -> None:
    for role, username, password, region in DEMO_USERS:
        if (await session.execute(select(User.id).where(User.username == username))).first():
            continue
        await users.create_platform_user(session, role=role, username=username, password=password, region_code=region)
    for short, username, real_name in BANK_STAFF:
        bank_id = await _bank_id(session, short)
        if bank_id is None or (await session.execute(select(User.id).where(User.username == username))).first():
            continue
        await users.create_bank_user(
            session,
            bank_id=bank_id,
            role=Role.bank_staff,
            username=username,
            password=BANK_PASSWORD,
            real_name=real_name,
            phone=None,
        )
    short, client_id, secret, name = DEMO_CLIENT
    bank_id = await _bank_id(session, short)
    if bank_id is not None and not await session.scalar(select(ApiClient.id).where(ApiClient.client_id == client_id)):
        await clients.create(
            session,
            bank_id=bank_id,
            name=name,
            scopes=list(clients.SCOPES),
            created_by=None,
            demo_credentials=(client_id, secret),
        )


async def demo_farmer(
    session: AsyncSession,
    phone: str,
    *,
    real_name: str | None = None,
    id_number: str | None = None,
    village_code: str | None = None,
    household_type: str | None = None,
) -> User:
    """The farmer account of a demo phone (what the first SMS login makes), with the profile a farmer would
    give in `PATCH /me`; a household whose resident ID and name both match is linked (`profile.link`)."""
    user = await session.scalar(select(User).where(User.phone == phone, User.role == Role.farmer))
    if user is None:
        user = User(role=Role.farmer, phone=phone)
        session.add(user)
        await session.flush()
    if real_name and not user.real_name:
        user.real_name = real_name
    if id_number and not user.id_number_hash:
        user.id_number_enc = crypto.encrypt(id_number, profile.ID_KIND)
        user.id_number_hash = crypto.index_hash(id_number, profile.ID_KIND)
    if village_code and not user.village_code:
        user.village_code = village_code
    if household_type and not user.household_type:
        user.household_type = household_type
    user.updated_at = datetime.now(UTC)
    await session.flush()
    if user.id_number_hash and await profile.linked_household(session, user.id) is None:
        h = await session.scalar(
            select(Household).where(Household.id_number_hash == user.id_number_hash).with_for_update()
        )
        if h is not None and h.user_id is None and h.real_name == user.real_name:
            await profile.link(session, user.id, h)
    return user
