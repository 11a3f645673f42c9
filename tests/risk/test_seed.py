"""The demo seed on a database of its own: the funds, a paid claim with one recovery (on 驿城区's written-off demo
loan), a bridge loan lent in 确山县 — and running seed-demo again changes nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy import func, select

from alembic import command
from app.core.config import ROOT
from app.core.db import Database
from app.risk.models import BridgeLoan, CompensationClaim, FundEntry, RiskFund, SharingScheme


async def snapshot(db: Database) -> dict[str, Any]:
    async with db.sessionmaker() as s:
        funds = sorted(
            (f.county_code, f.kind, f.balance_fen, f.paid_out_fen, f.recovered_fen)
            for f in (await s.execute(select(RiskFund))).scalars()
        )
        counts = {
            m.__tablename__: await s.scalar(select(func.count()).select_from(m))
            for m in (FundEntry, SharingScheme, CompensationClaim, BridgeLoan)
        }
        claims = [
            (c.status, c.loss_fen, c.fund_share_fen, c.recovered_fen, c.returned_fen, c.county_code)
            for c in (await s.execute(select(CompensationClaim))).scalars()
        ]
        bridges = [(b.status, b.amount_fen, b.days) for b in (await s.execute(select(BridgeLoan))).scalars()]
        kinds = sorted(k for (k,) in (await s.execute(select(FundEntry.kind))).all())
    return {"funds": funds, "counts": counts, "claims": claims, "bridges": bridges, "kinds": kinds}


async def test_demo_seed(tmp_path: Path) -> None:
    import app.models
    import app.seed  # noqa: F401 - registers the seeders
    from app.cli import SEEDERS

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes.update(skip_logging=True, database_url=url)
    await asyncio.to_thread(command.upgrade, cfg, "head")  # the migrations' data too (policies, consent text)
    db = Database(url)
    try:
        shots = []
        for _ in range(2):
            for seeder in SEEDERS:
                async with db.sessionmaker() as s:
                    await seeder(s)
                    await s.commit()
            shots.append(await snapshot(db))
    finally:
        await db.dispose()
    first, second = shots
    assert first == second  # idempotent
    bridge = next(f for f in first["funds"] if f[:2] == ("411725", "bridge"))
    (claim,) = first["claims"]
    status, loss, fund_share, recovered, returned, county = claim
    assert county == "411702" and loss == 500_000  # 马庄村's written-off 5,000 yuan
    comp = next(f for f in first["funds"] if f[:2] == (county, "compensation"))
    assert status == "paid" and fund_share == loss // 2  # 三位一体 5:3:2
    assert recovered > 0 and returned == recovered // 2
    assert comp[3] == fund_share and comp[4] == returned
    assert comp[2] >= 3_000_000_000  # funded above the seed's 30,000,000 yuan after the payout
    assert first["bridges"] == [("lent", 50_000_000, 20)]
    assert bridge[2] == 2_100_000_000 - 50_000_000 >= 2_000_000_000
    assert first["kinds"].count("recovery") == 1 and first["kinds"].count("compensation") == 1
    assert first["counts"]["risk_sharing_schemes"] >= 1
