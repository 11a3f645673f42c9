"""Demo credit data: rated households in real villages of 确山县 and 驿城区, a credit township (朗陵街道, every
village a credit village), and the demo farmers who use the app: accounts linked to their households (as
`PATCH /me` links them) and certificates activated with a lead bank (启信, which records the consent) through the
credit service. Idempotent: the resident IDs are fixed, so a second run changes nothing."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.seed import demo_farmer
from app.banks.models import Bank, BankCounty
from app.core import crypto
from app.core.audit import SYSTEM
from app.core.identity import resident_id_check_char
from app.core.principal import Principal
from app.credit import farmer, imports
from app.credit.models import Certificate, Household

DEMO_PHONE = "+8613800000001"
DEMO_VILLAGES = ["411725101200", "411725101201", "411725101202", "411702009202", "411702009203"]
# 朗陵街道 (确山县): its two villages (its communities do not count) rated so that both are credit villages.
CREDIT_TOWNSHIP = "411725003"
CREDIT_TOWNSHIP_VILLAGES = ["411725003208", "411725003209"]
# Every village the demo seeders put households, loans or demands in (tests keep out of them).
DEMO_AREA_VILLAGES = (*DEMO_VILLAGES, *CREDIT_TOWNSHIP_VILLAGES)
# (provincial, village, vetoes): a mix of 5★ … 0★ and one veto per village
SCORES = [
    ("98", "97", []),
    ("93", "92", []),
    ("88", "87.5", []),
    ("83", "82", []),
    ("78", "77", []),
    ("96", "95", []),
    ("70", "72", []),
    ("99", "98", ["malicious_default"]),
]
NAMES = "张王李赵刘陈杨黄周吴"
# The demo farmers who use the app: (phone, village, index in SCORES). Each has an account linked to its
# household and an active certificate with the county's lead bank; the draw-downs seeder lends to them.
FARMERS = [
    (DEMO_PHONE, "411725101200", 0),  # 5★ red, 竹沟村: the demo farmer of the README
    ("+8613800000002", "411725101200", 1),  # 4★ red
    ("+8613800000003", "411725101201", 0),  # 5★, 西李楼村
    ("+8613800000004", "411725101201", 1),  # 4★
    ("+8613800000005", "411702009203", 0),  # 5★, 马庄村 (驿城区): the overdue loan, the isolated village
    ("+8613800000006", "411702009203", 1),  # 4★: the written-off loan
]
# The county's lead bank for the demo farmers (app.catalog.seed.BANKS short names).
LEAD_BANKS = {"411725": "qsrcb", "411702": "zmdrcb"}


def _id(village: str, i: int) -> str:
    first17 = f"{village[:6]}19{70 + i:02d}0{1 + i % 9}1{i % 9}{int(village[-3:]) % 1000:03d}"[:17]
    return first17 + resident_id_check_char(first17)


def demo_rows() -> list[dict[str, object]]:
    """The ratings import of the demo: 8 households in each demo village, 3 in each village of the township."""
    phones = {(v, i): ph for ph, v, i in FARMERS}
    rows: list[dict[str, object]] = []
    for village in DEMO_VILLAGES:
        for i, (p, v, vetoes) in enumerate(SCORES):
            id_number, name = demo_identity(village, i)
            rows.append(
                {
                    "id_number": id_number,
                    "real_name": name,
                    "phone": phones.get((village, i), ""),
                    "village_code": village,
                    "provincial_score": p,
                    "village_score": v,
                    "vetoes": vetoes,
                    "is_registered_poor": i == 4,
                }
            )
    for v_i, village in enumerate(CREDIT_TOWNSHIP_VILLAGES):
        for i, (p, v, _) in enumerate(SCORES[:3]):
            rows.append(
                {
                    "id_number": _id(village, 10 + i + v_i * 3),
                    "real_name": NAMES[(i + v_i + 5) % len(NAMES)] + "朗陵" + "甲乙丙"[i],
                    "phone": "",
                    "village_code": village,
                    "provincial_score": p,
                    "village_score": v,
                    "vetoes": [],
                    "is_registered_poor": False,
                }
            )
    return rows


def demo_identity(village: str, i: int) -> tuple[str, str]:
    """(resident ID, real name) of the i-th demo household of a demo village (as in `demo_rows`)."""
    v_i = DEMO_VILLAGES.index(village)
    return _id(village, i + v_i * 10 % 20), NAMES[(i + v_i) % len(NAMES)] + "示范" + "甲乙丙丁戊己庚辛"[i]


async def _lead_bank(session: AsyncSession, county: str) -> uuid.UUID | None:
    from app.catalog.seed import demo_uscc

    short = LEAD_BANKS.get(county)
    if short is not None:
        found = await session.scalar(
            select(Bank.id)
            .join(BankCounty, BankCounty.bank_id == Bank.id)
            .where(Bank.unified_social_credit_code == demo_uscc(short), BankCounty.county_code == county)
        )
        if found is not None:
            return found
    return await session.scalar(
        select(Bank.id)
        .join(BankCounty, BankCounty.bank_id == Bank.id)
        .where(BankCounty.county_code == county, col(Bank.is_active).is_(True))
        .order_by(Bank.created_at)
        .limit(1)
    )


async def seed_credit_demo(session: AsyncSession) -> None:
    rows = demo_rows()
    hashes = [crypto.index_hash(str(r["id_number"]), "resident_id") for r in rows]
    have = await session.scalar(
        select(func.count()).select_from(Household).where(col(Household.id_number_hash).in_(hashes))
    )
    if have != len(rows):  # loaded already: a second run writes nothing, not even an audit entry
        await imports.import_rows(session, rows, actor=SYSTEM, region_code=None)
    for phone, village, i in FARMERS:
        id_number, name = demo_identity(village, i)
        user = await demo_farmer(session, phone, real_name=name, id_number=id_number, village_code=village)
        household = await session.scalar(
            select(Household).where(Household.id_number_hash == crypto.index_hash(id_number, "resident_id"))
        )
        if household is None or household.user_id != user.id:
            continue
        cert = await session.scalar(
            select(Certificate).where(Certificate.household_id == household.id, col(Certificate.is_current).is_(True))
        )
        if cert is None or cert.lead_bank_id is not None:
            continue
        bank_id = await _lead_bank(session, household.county_code)
        if bank_id is None:
            continue  # no demo bank seeded: the certificate stays `issued`
        # 启信 as the farmer does it (POST /me/certificate/activation): active, and the consent to that bank
        me = Principal(kind="user", id=user.id, role="farmer", jti="seed")
        await farmer.activate(session, me, bank_id)
