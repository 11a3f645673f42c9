"""Demo accounts (idempotent): the platform operator, a city-wide and a county regulator, bank staff, a bank
system's API client with published demo credentials, and the demo farmers' accounts (made for the other domains'
seeders through `demo_farmer`, which links a household the way `PATCH /me` does). The banks' ids come from the
top-level `app/seed.py`, which seeds the banks (auth sits below them and reads none of their tables).

The demo passwords are fixed by the product owner (the admin one contains its username, which the policy refuses
for real accounts), so the seeder skips the policy check; never do that for input from a request. Every value
here is a demo value, listed in the README: none may ever reach a real deployment."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import clients, profile, users
from app.auth.models import ApiClient, User
from app.core import crypto, hooks
from app.core.errors import HouseholdAlreadyLinked
from app.core.principal import Role

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


def bank_shorts() -> set[str]:
    """The demo banks (short names) whose ids `seed_accounts` needs."""
    return {short for short, _, _ in BANK_STAFF} | {DEMO_CLIENT[0]}


async def seed_accounts(session: AsyncSession, banks: Mapping[str, uuid.UUID] | None = None) -> None:
    """The demo accounts; `banks` maps a demo bank's short name to its id (a bank not given gets no staff)."""
    banks = banks or {}
    for role, username, password, region in DEMO_USERS:
        if (await session.execute(select(User.id).where(User.username == username))).first():
            continue
        await users.create_platform_user(session, role=role, username=username, password=password, region_code=region)
    for short, username, real_name in BANK_STAFF:
        bank_id = banks.get(short)
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
    bank_id = banks.get(short)
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
        give in `PATCH /me`; a household whose resident ID and name both match and that has no account is linked
    (the signal `auth.identity_set`, as `PATCH /me` does)."""
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
        with contextlib.suppress(HouseholdAlreadyLinked):  # another account has it: this one stays unlinked
            await hooks.publish("auth.identity_set", session, user=user)
    return user
