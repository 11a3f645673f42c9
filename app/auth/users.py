"""Creating staff and platform users (shared by the CLI and the onboarding routes)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.errors import PasswordRejected, UsernameTaken
from app.auth.models import User
from app.core import audit, hooks
from app.core.errors import NotFound, ValidationFailed, field_error
from app.core.identity import normalize_mobile
from app.core.principal import BANK_ROLES, Role
from app.core.security import hash_password
from app.regions import service as regions


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
    """Raises PasswordRejected (422) for a weak password, UsernameTaken (409) for a duplicate username,
    ValidationFailed for a bad phone. Usernames are unique regardless of case."""
    from app.auth.passwords import check_password_policy

    username = username.strip()
    problem = check_password_policy(password, username)
    if problem:
        raise PasswordRejected(errors=[field_error("password", "password_policy", problem)])
    if phone is not None:
        normalized = normalize_mobile(phone)
        if normalized is None:
            raise ValidationFailed(errors=[field_error("phone", "phone_invalid", "须为中国大陆手机号")])
        phone = normalized
    taken = await session.execute(select(User.id).where(func.lower(User.username) == username.lower()))
    if taken.first():
        raise UsernameTaken()
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
        after={"role": role, "bank_id": str(bank_id) if bank_id else None, "region_code": region_code},
    )
    return user


async def create_bank_user(
    session: AsyncSession,
    *,
    bank_id: uuid.UUID,
    role: str,
    username: str,
    password: str,
    real_name: str | None,
    phone: str | None,
) -> User:
    if role not in BANK_ROLES:
        raise ValidationFailed(errors=[field_error("role", "role_not_allowed", "只能创建 bank_staff 或 bank_admin")])
    if await hooks.ask("auth.bank_active", session, bank_id=bank_id) is None:  # no such bank (app.banks answers)
        raise NotFound()
    return await create_platform_user(
        session, role=role, username=username, password=password, bank_id=bank_id, real_name=real_name, phone=phone
    )


async def create_regulator(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    real_name: str | None,
    phone: str | None,
    region_code: str | None,
) -> User:
    region_code = region_code or "4117"
    if await regions.find(session, region_code) is None:
        raise ValidationFailed(errors=[field_error("region_code", "region_unknown", "行政区划代码不存在")])
    return await create_platform_user(
        session,
        role=Role.regulator,
        username=username,
        password=password,
        region_code=region_code,
        real_name=real_name,
        phone=phone,
    )
