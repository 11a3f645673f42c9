"""The demo seeders: every status on the demo farmers' certificates, the amounts on
the certificates and the village figures moved by the lending service, 马庄村 isolated, idempotent."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from app.core.dates import china_today
from app.credit.models import Certificate
from app.credit.seed import DEMO_VILLAGES
from app.drawdowns import isolation
from app.drawdowns.models import Drawdown
from app.drawdowns.service import effective_status
from app.risk.seed import RECOVERED_FEN
from tests.factories import Factory


async def test_seeder(factory: Factory) -> None:
    """On the migrated test database (the certificate policy is migration data); the demo villages are kept out
    of every other test."""
    import app.seed  # noqa: F401 - registers every domain's seeder
    from app.cli import SEEDERS

    for _ in range(2):
        for seeder in SEEDERS:
            async with factory.session() as s:
                await seeder(s)
                await s.commit()
    async with factory.session() as s:
        policy = await isolation.get_policy(s)
        today = china_today()
        rows = (await s.execute(select(Drawdown).where(col(Drawdown.village_code).in_(DEMO_VILLAGES)))).scalars().all()
        got = sorted(effective_status(d, policy, today).value for d in rows)
        assert got == sorted(
            [
                "submitted",
                "approved",
                "disbursed",
                "repaid",
                "overdue",
                "written_off",
                "rejected",
                "cancelled",
                "expired",
            ]
        )
        assert sorted(d.status for d in rows) == got  # recorded, not only derived
        # the certificates hold what the lending service moved: pending = submitted + approved
        ids = {d.certificate_id for d in rows}
        certs = (await s.execute(select(Certificate).where(col(Certificate.id).in_(ids)))).scalars().all()
        # the written-off loan's 5,000 yuan less what the risk seed's recovery repaid (app.risk.seed)
        assert sum(c.outstanding_fen for c in certs) == (2_000_000 - 500_000) + 1_000_000 + 500_000 - RECOVERED_FEN
        assert sum(c.pending_fen for c in certs) == 1_000_000 + 800_000
        # 马庄村: its overdue and written-off loans isolate it; 竹沟村 lends on
        assert (await isolation.isolation(s, "411702009203"))[0] is True
        assert (await isolation.isolation(s, "411725101200")) == (False, False)
        fig = await isolation.figures_for(s, "411702009203")
        assert fig.overdue_balance_fen == fig.loan_balance_fen == 1_500_000 - RECOVERED_FEN
