"""Demo accounts: the platform operator and a city-wide regulator (idempotent).

The demo passwords are fixed by the product owner (the admin one contains its username, which the policy refuses
for real accounts), so the seeder skips the policy check; never do that for input from a request."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import users
from app.auth.models import Role, User

DEMO_USERS = (
    (Role.admin, "admin", "Puhuitong-Ops-2026", None),
    (Role.regulator, "regulator", "Puhuitong-Reg-2026", "4117"),
)


async def seed_accounts(session: AsyncSession) -> None:
    for role, username, password, region in DEMO_USERS:
        if (await session.execute(select(User.id).where(User.username == username))).first():
            continue
        await users.create_platform_user(session, role=role, username=username, password=password, region_code=region)
