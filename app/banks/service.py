"""Banks: onboarding, the counties each serves, and look-ups other domains use."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.banks.models import Bank, BankCounty
from app.banks.schemas import BankCreate, BankPublic, BankUpdate
from app.core import audit, hooks
from app.core.errors import Conflict, NotFound, ValidationFailed, field_error
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_uuid
from app.regions import service as regions


async def get_bank(session: AsyncSession, bank_id: uuid.UUID) -> Bank:
    bank = await session.get(Bank, bank_id)
    if bank is None:
        raise NotFound(("银行不存在", "No such bank"))
    return bank


@hooks.subscribe("auth.bank_active")
async def bank_active(session: AsyncSession, *, bank_id: uuid.UUID) -> bool | None:
    """What auth asks before it makes a bank's staff account or gives a bank's API client a token: None for no
    such bank, else whether it is active."""
    bank = await session.get(Bank, bank_id)
    return None if bank is None else bank.is_active


async def bank_counties(session: AsyncSession, bank_id: uuid.UUID) -> set[str]:
    rows = await session.execute(select(BankCounty.county_code).where(BankCounty.bank_id == bank_id))
    return {r[0] for r in rows}


async def bank_names(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The name of each bank of `ids` that exists (one query; none for no ids)."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Bank.id, Bank.name).where(col(Bank.id).in_(wanted)))
    return {i: n for i, n in rows.all()}


async def active_banks_serving(session: AsyncSession, county_code: str) -> list[uuid.UUID]:
    """The active banks that serve a county, by id (the banks a demand there is announced to)."""
    rows = await session.execute(
        select(BankCounty.bank_id)
        .join(Bank, Bank.id == BankCounty.bank_id)
        .where(BankCounty.county_code == county_code, col(Bank.is_active).is_(True))
        .order_by(BankCounty.bank_id)
    )
    return list(rows.scalars())


async def bank_serves_county(session: AsyncSession, bank_id: uuid.UUID, county_code: str) -> bool:
    row = await session.execute(
        select(BankCounty.bank_id).where(BankCounty.bank_id == bank_id, BankCounty.county_code == county_code[:6])
    )
    return row.first() is not None


async def _check_regions(session: AsyncSession, region_code: str | None, counties: Iterable[str] | None) -> None:
    errs = []
    if region_code is not None and await regions.find(session, region_code) is None:
        errs.append(field_error("region_code", "region_unknown", "行政区划不存在"))
    if counties is not None:
        wanted = set(counties)
        found = await regions.of_level(session, wanted, "county")
        for i, c in enumerate(sorted(wanted)):
            if c not in found:
                errs.append(field_error(f"county_codes.{i}", "county_unknown", f"{c} 不是已知的县级区划"))
    if errs:
        raise ValidationFailed(errors=errs)


async def public_of(session: AsyncSession, bank: Bank) -> BankPublic:
    return BankPublic(**_fields(bank), county_codes=sorted(await bank_counties(session, bank.id)))


def _fields(bank: Bank) -> dict[str, object]:
    return {
        "id": bank.id,
        "name": bank.name,
        "unified_social_credit_code": bank.unified_social_credit_code,
        "region_code": bank.region_code,
        "contact_phone": bank.contact_phone,
        "logo_url": bank.logo_url,
        "is_active": bank.is_active,
    }


async def create_bank(session: AsyncSession, body: BankCreate) -> BankPublic:
    await _check_regions(session, body.region_code, body.county_codes)
    dup = await session.execute(
        select(Bank.id).where(Bank.unified_social_credit_code == body.unified_social_credit_code)
    )
    if dup.first() is not None:
        raise Conflict(("该统一社会信用代码的银行已存在", "A bank with this unified social credit code exists"))
    bank = Bank(
        name=body.name,
        unified_social_credit_code=body.unified_social_credit_code,
        region_code=body.region_code,
        contact_phone=body.contact_phone,
        logo_url=body.logo_url,
    )
    session.add(bank)
    await session.flush()
    session.add_all([BankCounty(bank_id=bank.id, county_code=c) for c in body.county_codes])
    await session.flush()
    await audit.record(
        session,
        action="bank.create",
        object_type="bank",
        object_id=bank.id,
        after={"region_code": body.region_code, "county_codes": body.county_codes},
    )
    return BankPublic(**_fields(bank), county_codes=body.county_codes)


async def update_bank(session: AsyncSession, bank_id: uuid.UUID, body: BankUpdate) -> BankPublic:
    bank = await get_bank(session, bank_id)
    changes = body.model_dump(exclude_unset=True)
    await _check_regions(session, changes.get("region_code"), changes.get("county_codes"))
    before = {k: getattr(bank, k) for k in changes if k != "county_codes"}
    for k, v in changes.items():
        if k == "county_codes" or (v is None and k in ("name", "region_code", "is_active")):
            continue
        setattr(bank, k, v)
    if body.county_codes is not None:
        before["county_codes"] = sorted(await bank_counties(session, bank.id))
        await session.execute(delete(BankCounty).where(BankCounty.bank_id == bank.id))
        session.add_all([BankCounty(bank_id=bank.id, county_code=c) for c in body.county_codes])
    await session.flush()
    await audit.record(
        session,
        action="bank.update",
        object_type="bank",
        object_id=bank.id,
        before=before,
        after={k: v for k, v in changes.items() if k != "contact_phone"},
    )
    return await public_of(session, bank)


async def list_banks(
    session: AsyncSession, *, county_code: str | None, limit: int, cursor: str | None
) -> tuple[list[BankPublic], str | None]:
    cols = [(Bank.name, False), (Bank.id, False)]
    stmt = select(Bank).where(col(Bank.is_active).is_(True))
    if county_code is not None:
        stmt = stmt.where(col(Bank.id).in_(select(BankCounty.bank_id).where(BankCounty.county_code == county_code)))
    if cursor is not None:
        stmt = stmt.where(after(cols, decode_cursor(cursor, [str, parse_uuid])))
    rows = (await session.execute(stmt.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    page, nxt = page_of(rows, limit, lambda b: [b.name, b.id])
    counties: dict[uuid.UUID, list[str]] = {b.id: [] for b in page}
    if page:
        for bid, code in await session.execute(
            select(BankCounty.bank_id, BankCounty.county_code)
            .where(col(BankCounty.bank_id).in_(list(counties)))
            .order_by(BankCounty.county_code)
        ):
            counties[bid].append(code)
    return [BankPublic(**_fields(b), county_codes=counties[b.id]) for b in page], nxt


async def get_public(session: AsyncSession, bank_id: uuid.UUID) -> BankPublic:
    bank = await get_bank(session, bank_id)
    if not bank.is_active:
        raise NotFound(("银行不存在", "No such bank"))
    return await public_of(session, bank)
