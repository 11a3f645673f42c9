"""Migration 0020 on a chain sealed the old way (plain SHA-256): the rows keep their links (no re-seal, which
would erase the evidence), the head records the first keyed sequence and is signed, later links are keyed, and
an edit of an old row is still caught. Runs on its own SQLite file, whatever database the suite uses."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from alembic.config import Config
from sqlalchemy import insert, select, text, update

from alembic import command
from app.core import audit
from app.core.audit import AuditChainHead, AuditEntry
from app.core.config import ROOT
from app.core.db import Database

LEGACY_COLUMNS = [c for c in AuditEntry.__table__.columns if c.name != "region_code"]


def _upgrade(url: str, revision: str) -> None:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["skip_logging"] = True
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, revision)


async def test_legacy_chain_is_kept_and_continued_keyed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    await asyncio.to_thread(_upgrade, url, "0017")
    db = Database(url)
    table = AuditEntry.__table__
    try:
        async with db.engine.begin() as conn:  # three entries sealed under the old scheme, and the old head
            prev = audit.GENESIS
            for seq in (1, 2, 3):
                e = AuditEntry(
                    id=uuid.uuid4(),
                    created_at=datetime(2026, 1, seq, 8, tzinfo=UTC),
                    actor_type="system",
                    actor_id="system",
                    action="legacy.event",
                    object_type="test",
                    object_id=f"legacy-{seq}",
                    summary={"after": {"n": seq}},
                    chain_seq=seq,
                )
                e.prev_hash, e.hash = prev, audit.legacy_digest(prev, e)
                prev = e.hash
                await conn.execute(insert(table).values({c.name: getattr(e, c.name) for c in LEGACY_COLUMNS}))
            await conn.execute(text("INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, 3, :h)"), {"h": prev})
        await db.dispose()
        await asyncio.to_thread(_upgrade, url, "head")
        db = Database(url)
        async with db.sessionmaker() as s:
            head = (await s.execute(select(AuditChainHead))).scalar_one()
            assert (head.seq, head.hash, head.keyed_from_seq) == (3, prev, 4) and head.mac
            ok, msg = await audit.verify_chain(s)
            assert ok, msg
            await audit.record(s, action="new.event", object_type="test", object_id="keyed-4")
            await s.commit()
        async with db.sessionmaker() as s:
            assert await audit.seal_pending(s) == 1
            await s.commit()
        async with db.sessionmaker() as s:
            new = (await s.execute(select(AuditEntry).where(AuditEntry.chain_seq == 4))).scalar_one()
            assert new.hash == audit.keyed_digest(prev, new, audit.audit_key())
            ok, msg = await audit.verify_chain(s)
            assert ok and "共 4 条" in msg, msg
        async with db.sessionmaker() as s:  # an old row edited by the database owner (trigger dropped)
            await s.execute(text("DROP TRIGGER audit_entries_sealed_update"))
            await s.execute(update(AuditEntry).where(AuditEntry.chain_seq == 2).values(summary={"after": {"n": 9}}))
            await s.commit()
        async with db.sessionmaker() as s:
            ok, msg = await audit.verify_chain(s)
            assert not ok and "第 2 条" in msg
    finally:
        await db.dispose()
