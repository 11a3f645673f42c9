"""Demo credit data: rated households in real villages of 确山县 and 驿城区, and a demo farmer with a red
certificate. Idempotent: the resident IDs are fixed, so a second run updates nothing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.models import User
from app.banks.models import Bank, BankCounty
from app.consents import service as consents
from app.core import crypto
from app.core.audit import SYSTEM
from app.core.db import utcnow
from app.core.identity import resident_id_check_char
from app.credit import imports
from app.credit.models import Certificate, Household
from app.supervision import counters

DEMO_PHONE = "+8613800000001"
DEMO_VILLAGES = ["411725101200", "411725101201", "411725101202", "411702009202", "411702009203"]
# Every village the demo seeders put households, loans or demands in (tests keep out of them).
DEMO_AREA_VILLAGES = (*DEMO_VILLAGES,)
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


def _id(village: str, i: int) -> str:
    first17 = f"{village[:6]}19{70 + i:02d}0{1 + i % 9}1{i % 9}{int(village[-3:]) % 1000:03d}"[:17]
    return first17 + resident_id_check_char(first17)


async def seed_credit_demo(session: AsyncSession) -> None:
    rows = []
    for v_i, village in enumerate(DEMO_VILLAGES):
        for i, (p, v, vetoes) in enumerate(SCORES):
            rows.append(
                {
                    "id_number": _id(village, i + v_i * 10 % 20),
                    "real_name": NAMES[(i + v_i) % len(NAMES)] + "示范" + "甲乙丙丁戊己庚辛"[i],
                    "phone": "",
                    "village_code": village,
                    "provincial_score": p,
                    "village_score": v,
                    "vetoes": vetoes,
                    "is_registered_poor": i == 4,
                }
            )
    await imports.import_rows(session, rows, actor=SYSTEM, region_code=None)

    # The demo farmer: the first (5★ red) household of the first demo village.
    demo_hash = crypto.index_hash(rows[0]["id_number"], "resident_id")
    household = await session.scalar(select(Household).where(Household.id_number_hash == demo_hash))
    if household is None:
        return
    user = await session.scalar(select(User).where(User.phone == DEMO_PHONE, User.role == "farmer"))
    if user is None:
        user = User(role="farmer", phone=DEMO_PHONE, real_name=household.real_name, village_code=household.village_code)
        session.add(user)
        await session.flush()
    if household.user_id is None:
        household.user_id = user.id
        await counters.move_households(session, {household.village_code: (0, 1)})
        household.phone = household.phone or DEMO_PHONE
    await session.flush()

    cert = await session.scalar(
        select(Certificate).where(Certificate.household_id == household.id, col(Certificate.is_current).is_(True))
    )
    if cert is None or cert.lead_bank_id is not None:
        return
    bank_id = await session.scalar(
        select(Bank.id)
        .join(BankCounty, BankCounty.bank_id == Bank.id)
        .where(BankCounty.county_code == household.county_code, col(Bank.is_active).is_(True))
        .order_by(Bank.created_at)
        .limit(1)
    )
    if bank_id is None:
        return  # no demo bank seeded: the certificate stays `issued`
    cert.lead_bank_id, cert.status, cert.activated_at = bank_id, "active", utcnow()
    if not await consents.has_consent(session, bank_id, household.id):
        await consents.grant(session, user_id=user.id, household_id=household.id, bank_id=bank_id, source="activation")
