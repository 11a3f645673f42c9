"""Demo risk control for 确山县 (411725, the seed's 确山做法): a funded compensation fund with a 三位一体 sharing
scheme, a bridge fund, one paid claim on a written-off loan with one recovery (冲回), and one bridge loan lent
to an enterprise. Runs after the draw-down seeder; each step only when its result is not there yet, so running
seed-demo again changes nothing."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.dates import china_today
from app.core.identity import uscc_check_char
from app.core.principal import Principal
from app.credit.seed import DEMO_VILLAGES
from app.drawdowns import lending
from app.drawdowns.schemas import RepaymentCreate
from app.risk import bridges, claims, funds
from app.risk import repository as repo
from app.risk.models import EntryKind, FundKind, RiskPolicy
from app.risk.schemas import BridgeCreate, ClaimCreate, FundCreate, SharingIn

COUNTY = "411725"
COMPENSATION_DEPOSIT_FEN = 3_200_000_000  # 32,000,000 yuan: above the seed's 30,000,000 after the demo payout
BRIDGE_DEPOSIT_FEN = 2_100_000_000  # 21,000,000 yuan
SHARING = SharingIn(government_bp=5000, bank_bp=3000, insurer_bp=2000, guarantor_bp=0)  # 三位一体 5:3:2
RECOVERED_FEN = 200_000  # repaid after the payout: 2,000 yuan, of which the fund's 50 % flows back
_ENTERPRISE_BODY = "91411725MA4DEM001"  # 17 characters; the check character is computed


def _principal(role: str, bank_id: uuid.UUID | None = None) -> Principal:
    return Principal(kind="user", id=uuid.UUID(int=0), role=role, jti="seed", bank_id=bank_id)


async def _fund(session: AsyncSession, kind: FundKind, deposit: int, county: str = COUNTY) -> uuid.UUID:
    f = await repo.fund_of(session, county, kind)
    if f is None:
        created = await funds.create(session, FundCreate(county_code=county, kind=kind))
        f = await repo.fund(session, created.id)
        assert f is not None
        await funds.book(session, f, EntryKind.deposit, deposit, note="县财政注资（演示）")
    if f.kind == FundKind.compensation and f.id not in await repo.current_schemes(session, [f.id]):
        await funds.set_sharing(session, _principal("admin"), f.id, SHARING)
    return f.id


async def seed_risk(session: AsyncSession) -> None:
    if await session.get(RiskPolicy, 1) is None:
        session.add(RiskPolicy())
        await session.flush()
    await _fund(session, FundKind.compensation, COMPENSATION_DEPOSIT_FEN)
    await _fund(session, FundKind.bridge, BRIDGE_DEPOSIT_FEN)

    # The claim is on the draw-down seed's written-off loan (马庄村, 驿城区): filed, paid and partly recovered once.
    loan = await repo.written_off_loan(session, COUNTY, DEMO_VILLAGES)
    if loan is not None and not loan[3]:
        drawdown_id, bank_id, county, _ = loan
        await _fund(session, FundKind.compensation, COMPENSATION_DEPOSIT_FEN, county)
        claim = await claims.file(session, _principal("bank_staff", bank_id), ClaimCreate(drawdown_id=drawdown_id))
        await claims.approve(session, _principal("admin"), claim.id)
        await lending.repay(
            session,
            _principal("bank_staff", bank_id),
            drawdown_id,
            RepaymentCreate(amount_fen=RECOVERED_FEN, paid_on=china_today()),
        )

    if not await repo.any_bridge(session, COUNTY):
        lender = await repo.first_bank_serving(session, COUNTY)
        if lender is not None:
            b = await bridges.request(
                session,
                _principal("bank_admin", lender),
                BridgeCreate(
                    unified_social_credit_code=_ENTERPRISE_BODY + uscc_check_char(_ENTERPRISE_BODY),
                    enterprise_name="确山县绿源农产品加工有限公司",
                    county_code=COUNTY,
                    amount_fen=50_000_000,  # 500,000 yuan
                    days=20,
                    loan_reference="QS-2026-0815",
                ),
            )
            await bridges.approve(session, _principal("admin"), b.id)
