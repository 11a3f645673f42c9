"""The key-enterprise list 重点支持企业名录库: the front other domains call.

Admins keep every county's list; a regulator keeps the lists of the counties inside its `region_code` (a county
outside it is 403; an entry listed in a county outside it is 404, as it is not theirs). Every change is
audited. Other domains read the list through `counties_of` / `is_listed`, and learn of a change through
`on_change` listeners (the demand library re-marks its open demands); `changed` also runs when an enterprise
profile's code changes (auth announces `auth.enterprise_changed`), and `is_listed` answers auth's
`auth.key_enterprise` for `/me` (`app.core.hooks`, subscribed when this module is imported: `app.wiring`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.profile import USCC_KIND as USCC_KIND  # the keyed-hash kind of enterprise codes
from app.core import audit, crypto, hooks
from app.core.db import utcnow
from app.core.errors import Forbidden, NotFound, ValidationFailed, field_error
from app.core.identity import normalize_uscc
from app.core.pagination import decode_cursor, page_of
from app.core.principal import Principal, Role
from app.enterprises import repository
from app.enterprises.models import KeyEnterprise
from app.enterprises.schemas import KeyEnterprisePublic, KeyEnterprisePut
from app.regions import service as regions
from app.regions.service import Level

Listener = Callable[[AsyncSession, str], Awaitable[None]]
_LISTENERS: list[Listener] = []


def on_change(fn: Listener) -> None:
    """Call `fn(session, uscc_hash)` in the transaction of every change of that code's listing."""
    if fn not in _LISTENERS:
        _LISTENERS.append(fn)


@hooks.subscribe("auth.enterprise_changed")
async def changed(session: AsyncSession, uscc_hash: str) -> None:
    for fn in _LISTENERS:
        await fn(session, uscc_hash)


def uscc_hash(code: str) -> str:
    return crypto.index_hash(code, USCC_KIND)


async def counties_of(session: AsyncSession, uscc_hashes: Iterable[str]) -> dict[str, set[str]]:
    """For each code's keyed hash, the counties whose list it is on (empty: none)."""
    return await repository.counties_of(session, uscc_hashes)


@hooks.subscribe("auth.key_enterprise")
async def is_listed(session: AsyncSession, uscc_hash: str | None, county_code: str | None) -> bool:
    if not uscc_hash or not county_code:
        return False
    return county_code in (await repository.counties_of(session, [uscc_hash])).get(uscc_hash, set())


# ---- the regulator's and admin's list ----------------------------------------------------------------------


def _scope(p: Principal) -> str | None:
    """An admin keeps every list; a regulator those inside its region (none set: the whole city)."""
    if p.role == Role.regulator:
        return p.region_code or "4117"
    return None


def _code(raw: str) -> str:
    code = normalize_uscc(raw)
    if code is None:
        raise ValidationFailed(
            errors=[
                field_error(
                    "unified_social_credit_code", "uscc_invalid", "统一社会信用代码无效：须为 18 位，且校验位正确"
                )
            ]
        )
    return code


def _public(k: KeyEnterprise, names: dict[str, str]) -> KeyEnterprisePublic:
    return KeyEnterprisePublic(
        unified_social_credit_code=k.unified_social_credit_code,
        name=k.name,
        county_code=k.county_code,
        county_name=names.get(k.county_code, k.county_code),
        note=k.note,
        created_at=k.created_at,
        updated_at=k.updated_at,
    )


async def _county_names(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    return await regions.names(session, codes)


def _summary(k: KeyEnterprise) -> dict[str, Any]:
    return {"name": k.name, "county_code": k.county_code, "note": k.note}


async def put(
    session: AsyncSession, p: Principal, raw_code: str, body: KeyEnterprisePut
) -> tuple[int, KeyEnterprisePublic]:
    """Put an enterprise on its county's list (201), or change its entry (200; the same body again changes
    nothing). A code is on one county's list at a time: another county in the body moves it there."""
    code = _code(raw_code)
    scope = _scope(p)
    county = await regions.find(session, body.county_code)
    if county is None or county.level != Level.county:
        raise ValidationFailed(errors=[field_error("county_code", "county_unknown", "县区代码不存在")])
    existing = await repository.get(session, code, lock=True)
    if existing is not None and scope is not None and not existing.county_code.startswith(scope):
        raise NotFound()
    if scope is not None and not body.county_code.startswith(scope):
        raise Forbidden(("只能管理本辖区县区的重点企业名录", "That county is outside your region"))
    name, note = body.name.strip(), body.note.strip()
    if not name:
        raise ValidationFailed(errors=[field_error("name", "required", "企业名称不能为空")])
    names = await _county_names(session, [body.county_code])
    if existing is None:
        k = KeyEnterprise(
            unified_social_credit_code=code,
            uscc_hash=uscc_hash(code),
            name=name,
            county_code=body.county_code,
            note=note,
            updated_by=p.caller_key,
        )
        try:
            async with session.begin_nested():
                session.add(k)
                await session.flush()
        except IntegrityError:
            # a concurrent PUT of the same code created it first: this one is a change of that entry
            return await put(session, p, raw_code, body)
        await audit.record(
            session, action="key_enterprise.add", object_type="key_enterprise", object_id=code, after=_summary(k)
        )
        await changed(session, k.uscc_hash)
        return 201, _public(k, names)
    before = _summary(existing)
    if (existing.name, existing.county_code, existing.note) != (name, body.county_code, note):
        existing.name, existing.county_code, existing.note = name, body.county_code, note
        existing.updated_at, existing.updated_by = utcnow(), p.caller_key
        await session.flush()
        await audit.record(
            session,
            action="key_enterprise.update",
            object_type="key_enterprise",
            object_id=code,
            before=before,
            after=_summary(existing),
        )
        await changed(session, existing.uscc_hash)
    return 200, _public(existing, names)


async def remove(session: AsyncSession, p: Principal, raw_code: str) -> None:
    code = _code(raw_code)
    scope = _scope(p)
    k = await repository.get(session, code, lock=True)
    if k is None or (scope is not None and not k.county_code.startswith(scope)):
        raise NotFound()
    before, hashed = _summary(k), k.uscc_hash
    await session.delete(k)
    await session.flush()
    await audit.record(
        session, action="key_enterprise.remove", object_type="key_enterprise", object_id=code, before=before
    )
    await changed(session, hashed)


async def list_(
    session: AsyncSession, p: Principal, county_code: str | None, limit: int, cursor: str | None
) -> tuple[list[KeyEnterprisePublic], str | None]:
    values = decode_cursor(cursor, [str, str]) if cursor else None
    rows = await repository.page(session, county_code=county_code, scope=_scope(p), cursor=values, limit=limit + 1)
    items, nxt = page_of(rows, limit, lambda k: [k.county_code, k.unified_social_credit_code])
    names = await _county_names(session, {k.county_code for k in items})
    return [_public(k, names) for k in items], nxt
