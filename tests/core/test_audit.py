"""The audit chain: sealed in order, verified, and any edit or deletion is caught."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from app.core import audit
from app.core.audit import AuditEntry


async def test_seal_and_verify_then_tamper(app) -> None:
    db = app.state.db
    async with db.sessionmaker() as s:
        for i in range(5):
            await audit.record(s, action="test.event", object_type="test", object_id=f"obj-{i}", after={"i": i})
        await s.commit()
    async with db.sessionmaker() as s:
        assert await audit.seal_pending(s) >= 5
        await s.commit()
    async with db.sessionmaker() as s:
        ok, msg = await audit.verify_chain(s)
        assert ok, msg
    async with db.sessionmaker() as s:
        victim = (
            (
                await s.execute(
                    select(AuditEntry).where(AuditEntry.object_id == "obj-2").order_by(AuditEntry.chain_seq.desc())
                )
            )
            .scalars()
            .first()
        )
        original = dict(victim.summary)
        await s.execute(update(AuditEntry).where(AuditEntry.id == victim.id).values(summary={"i": 99}))
        await s.commit()
    async with db.sessionmaker() as s:
        ok, msg = await audit.verify_chain(s)
        assert not ok and str(victim.chain_seq) in msg
        await s.execute(update(AuditEntry).where(AuditEntry.id == victim.id).values(summary=original))
        await s.commit()
    async with db.sessionmaker() as s:
        assert (await audit.verify_chain(s))[0]
        row = (await s.execute(select(AuditEntry).where(AuditEntry.id == victim.id))).scalar_one()
        saved = {c.name: getattr(row, c.name) for c in AuditEntry.__table__.columns}
        await s.execute(delete(AuditEntry).where(AuditEntry.id == victim.id))
        await s.commit()
    async with db.sessionmaker() as s:
        ok, msg = await audit.verify_chain(s)
        assert not ok and "缺失" in msg
        s.add(AuditEntry(**saved))
        await s.commit()
    async with db.sessionmaker() as s:
        assert (await audit.verify_chain(s))[0]


async def test_worker_step_seals_and_commits(app) -> None:
    from sqlalchemy import func

    from app.worker import seal_audit

    async with app.state.db.sessionmaker() as s:
        await audit.record(s, action="test.worker", object_type="test", object_id="worker-seal")
        await s.commit()
    assert await seal_audit(app.state.db, app.state.redis) >= 1
    async with app.state.db.sessionmaker() as s:
        unsealed = (
            await s.execute(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.object_id == "worker-seal", AuditEntry.chain_seq.is_(None))
            )
        ).scalar_one()
        assert unsealed == 0
