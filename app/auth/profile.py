"""The farmer's own account: profile, household linking, enterprise profile, phone change.

Auth sits below the domains whose facts `/me` shows, so it asks them through `app.core.hooks` (answered by the
modules `app.wiring` imports): `auth.household_of` (credit: the linked household), `auth.identity_set` (credit:
link the household whose resident ID and name match), `auth.key_enterprise` (enterprises: is the account's
enterprise on its county's list), and it announces `auth.enterprise_changed` (enterprises re-marks the demands).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import otp, sessions
from app.auth.models import EnterpriseProfile, User
from app.core import audit, crypto, hooks, ratelimit
from app.core.config import get_settings
from app.core.errors import (
    Conflict,
    InvalidState,
    TokenInvalid,
    ValidationFailed,
    field_error,
)
from app.core.identity import normalize_mobile, normalize_resident_id, normalize_uscc
from app.core.principal import Role
from app.regions import service as regions

ID_KIND = "resident_id"
USCC_KIND = "uscc"  # also the key-enterprise list's (`app.enterprises`): one keyed hash finds both


async def load_user(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User:
    """The caller's own account. One that no longer exists, was deleted or is disabled makes the token that
    named it invalid: 401 `token_invalid`, never 404 (the revocation cache says so first; this is the check of
    record)."""
    q = select(User).where(User.id == user_id)
    if lock:
        q = q.with_for_update()
    user = (await session.execute(q)).scalar_one_or_none()
    if user is None or user.deleted_at is not None or not user.is_active:
        raise TokenInvalid()
    return user


async def linked_household(session: AsyncSession, user_id: uuid.UUID) -> Any:
    """The household linked to the account (credit's row: `id`, `real_name`, `village_code`, `stars`,
    `is_registered_poor`...), or None. Credit answers (`app.credit.linking`)."""
    return await hooks.ask("auth.household_of", session, user_id=user_id)


async def enterprise_of(session: AsyncSession, user_id: uuid.UUID) -> EnterpriseProfile | None:
    return (
        await session.execute(select(EnterpriseProfile).where(EnterpriseProfile.user_id == user_id))
    ).scalar_one_or_none()


def _id_number(user: User) -> str | None:
    return crypto.decrypt(user.id_number_enc, ID_KIND) if user.id_number_enc else None


# ---- who the account posts demands as ------------------------------------------------------------------


@dataclass
class DemandApplicant:
    """Who a demand of this account comes from: its linked household; else its enterprise (a profile and a
    village); else an unrated household (real name, a valid resident ID and a village: the provincial system
    has not rated it yet, or not under this name); else nobody (`missing` says what to fill in)."""

    kind: str | None  # household | enterprise | unrated_household | None
    household: Any = None  # credit's household row
    enterprise: EnterpriseProfile | None = None
    village_code: str | None = None
    missing: list[str] = dataclasses.field(default_factory=list)


async def _place(session: AsyncSession, code: str | None) -> str | None:
    if not code:
        return None
    region = await regions.find(session, code)
    return region.code if region is not None and region.level in ("village", "community") else None


async def demand_applicant(
    session: AsyncSession,
    user: User,
    *,
    household: Any = None,
    enterprise: EnterpriseProfile | None = None,
) -> DemandApplicant:
    household = household or await linked_household(session, user.id)
    if household is not None:
        return DemandApplicant("household", household=household, village_code=household.village_code)
    village = await _place(session, user.village_code)
    enterprise = enterprise or await enterprise_of(session, user.id)
    if enterprise is not None and village is not None:
        return DemandApplicant("enterprise", enterprise=enterprise, village_code=village)
    missing = [
        name
        for name, have in (
            ("real_name", bool(user.real_name)),
            ("id_number", bool(user.id_number_hash)),
            ("village_code", village is not None),
        )
        if not have
    ]
    if not missing:
        return DemandApplicant("unrated_household", village_code=village)
    return DemandApplicant(None, missing=missing)


async def key_enterprise(session: AsyncSession, user: User, enterprise: EnterpriseProfile | None) -> bool:
    """The account's enterprise is on the key-enterprise list of its county (the county of its village)."""
    if enterprise is None or not user.village_code:
        return False
    listed = await hooks.ask(
        "auth.key_enterprise", session, uscc_hash=enterprise.uscc_hash, county_code=user.village_code[:6]
    )
    return listed is True


async def view(session: AsyncSession, user: User) -> dict[str, Any]:
    household = await linked_household(session, user.id)
    enterprise = await enterprise_of(session, user.id)
    applicant = await demand_applicant(session, user, household=household, enterprise=enterprise)
    return {
        "id": user.id,
        "role": user.role,
        "phone": user.phone,
        "real_name": user.real_name,
        "id_number": crypto.mask_id_number(_id_number(user)),
        "village_code": household.village_code if household else user.village_code,
        "household_type": user.household_type,
        "is_registered_poor": household.is_registered_poor if household else False,
        "household_linked": household is not None,
        "enterprise": enterprise_view(enterprise) if enterprise else None,
        "key_enterprise": await key_enterprise(session, user, enterprise),
        "demand_posting": {
            "can_post": applicant.kind is not None,
            "post_as": applicant.kind,
            "rated": household is not None,
            "missing": applicant.missing,
        },
        "created_at": user.created_at,
    }


def enterprise_view(e: EnterpriseProfile) -> dict[str, Any]:
    return {
        "name": e.name,
        "unified_social_credit_code": crypto.mask_id_number(crypto.decrypt(e.uscc_enc, USCC_KIND)),
        "updated_at": e.updated_at or e.created_at,
    }


# ---- linking an account to its household (credit links: `app.credit.linking`) ---------------------------


def _link_tag(user_id: uuid.UUID) -> str:
    return f"link-fail:{user_id.hex}"


_LINK_LIMIT = ("今日实名绑定尝试次数过多，请明天再试", "Too many household link attempts today")


async def update_profile(session: AsyncSession, redis: Any, user_id: uuid.UUID, changes: dict[str, Any]) -> User:
    """PATCH /me. Setting real_name + id_number that both match a household links it; anything else links
    nothing and says nothing about whether the ID exists. Failed links are limited per day."""
    s = get_settings()
    user = await load_user(session, user_id, lock=True)
    household = await linked_household(session, user.id)
    id_number: str | None = None
    if "id_number" in changes and changes["id_number"] is not None:
        id_number = normalize_resident_id(changes["id_number"])
        if id_number is None:
            raise ValidationFailed(
                errors=[field_error("id_number", "id_number_invalid", "身份证号码无效（GB 11643 校验位不符）")]
            )
    if "village_code" in changes and changes["village_code"] is not None:
        region = await regions.find(session, changes["village_code"])
        if region is None or region.level not in ("village", "community"):
            raise ValidationFailed(errors=[field_error("village_code", "village_unknown", "村（社区）代码不存在")])
    identity_change = ("real_name" in changes and changes["real_name"] != user.real_name) or (
        id_number is not None and crypto.index_hash(id_number, ID_KIND) != user.id_number_hash
    )
    if household is not None and identity_change:
        raise InvalidState(("已绑定农户，不能修改姓名或身份证号", "Name and ID are fixed once a household is linked"))
    wants_link = household is None and ("real_name" in changes or "id_number" in changes)
    attempt: ratelimit.Reservation | None = None
    if wants_link:
        # Counted before the household is looked up (one atomic check-and-count); taken back below unless
        # this turns out to be a failed attempt.
        rule = ratelimit.Rule("n", s.link_attempts_per_day, 86400, _LINK_LIMIT)
        attempt = await ratelimit.reserve(redis, _link_tag(user.id), [rule])
    before = {"household_linked": household is not None}
    if "real_name" in changes:
        user.real_name = changes["real_name"]
    if id_number is not None:
        user.id_number_enc = crypto.encrypt(id_number, ID_KIND)
        user.id_number_hash = crypto.index_hash(id_number, ID_KIND)
    for field in ("village_code", "household_type"):
        if field in changes:
            setattr(user, field, changes[field])
    user.updated_at = datetime.now(UTC)
    session.add(user)
    linked = False
    if wants_link and user.real_name and user.id_number_hash:
        # Credit links the household whose resident ID and name match (409 when another account has it).
        linked = True in await hooks.publish("auth.identity_set", session, user=user)
        if not linked:
            attempt = None  # a failed attempt: it stays counted
    if attempt is not None:
        await ratelimit.refund(redis, attempt)
    await session.flush()
    await audit.record(
        session,
        action="user.profile_update",
        object_type="user",
        object_id=user.id,
        before=before,
        after={"household_linked": linked or household is not None, "fields": sorted(changes)},
    )
    return user


async def put_enterprise(session: AsyncSession, user_id: uuid.UUID, name: str, code: str) -> EnterpriseProfile:
    uscc = normalize_uscc(code)
    if uscc is None:
        raise ValidationFailed(
            errors=[
                field_error("unified_social_credit_code", "uscc_invalid", "统一社会信用代码无效（GB 32100 校验位不符）")
            ]
        )
    user = await load_user(session, user_id, lock=True)
    profile = await enterprise_of(session, user.id)
    now = datetime.now(UTC)
    if profile is None:
        profile = EnterpriseProfile(user_id=user.id, name=name, uscc_enc="", uscc_hash="")
    profile.name = name
    profile.uscc_enc = crypto.encrypt(uscc, USCC_KIND)
    profile.uscc_hash = crypto.index_hash(uscc, USCC_KIND)
    profile.updated_at = now
    session.add(profile)
    await session.flush()
    await audit.record(session, action="user.enterprise_update", object_type="user", object_id=user.id)
    await hooks.publish("auth.enterprise_changed", session, uscc_hash=profile.uscc_hash)  # its open demands
    return profile


async def change_phone(
    session: AsyncSession, redis: Any, *, user_id: uuid.UUID, sid: str | None, new_phone: str, code: str
) -> User:
    """POST /me/phone: a `login` code from the new phone; every other session of the account ends."""
    phone = normalize_mobile(new_phone)
    if phone is None:
        raise ValidationFailed(errors=[field_error("new_phone", "phone_invalid", "须为中国大陆手机号")])
    user = await load_user(session, user_id, lock=True)
    await otp.verify_code(redis, phone, otp.Purpose.login, code)
    if phone != user.phone:
        taken = await session.execute(
            select(User.id).where(User.phone == phone, User.role == Role.farmer, User.id != user.id)
        )
        if taken.first():
            raise Conflict(("该手机号已绑定其他账号", "This phone number belongs to another account"))
    user.phone = phone
    user.updated_at = datetime.now(UTC)
    session.add(user)
    await sessions.revoke_user_sessions(session, redis, user.id, keep_sid=sid)
    await session.flush()
    await audit.record(session, action="user.phone_change", object_type="user", object_id=user.id)
    return user
