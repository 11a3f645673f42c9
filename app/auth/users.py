"""Creating staff and platform users (shared by the CLI and the onboarding routes)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.core import audit
from app.core.security import hash_password


async def create_platform_user(
    session: AsyncSession,
    *,
    role: str,
    username: str,
    password: str,
    region_code: str | None = None,
    bank_id: uuid.UUID | None = None,
    station_id: uuid.UUID | None = None,
    real_name: str | None = None,
    phone: str | None = None,
) -> User:
    from app.auth.passwords import check_password_policy

    problem = check_password_policy(password, username)
    if problem:
        raise ValueError(problem)
    if (await session.execute(select(User.id).where(User.username == username))).first():
        raise ValueError("username already exists")
    user = User(
        role=role,
        username=username,
        password_hash=await hash_password(password),
        region_code=region_code,
        bank_id=bank_id,
        station_id=station_id,
        real_name=real_name,
        phone=phone,
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        action="user.create",
        object_type="user",
        object_id=user.id,
        after={"role": role, "username": username},
    )
    return user
