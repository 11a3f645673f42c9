"""Tampering with the audit trail as someone who owns the database would: the sealed-row trigger out of the way
(PostgreSQL: `session_replication_role = replica`, which a superuser or the table owner may set; SQLite: the
triggers dropped and put back afterwards)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.audit import AuditChainHead, AuditEntry


@contextlib.asynccontextmanager
async def tampering(db: Any) -> AsyncIterator[AsyncSession]:
    async with db.sessionmaker() as s:
        dialect = s.bind.dialect.name
        saved: list[str] = []
        if dialect == "postgresql":
            await s.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            rows = await s.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_entries'")
            )
            for name, sql in rows.all():
                saved.append(sql)
                await s.execute(text(f'DROP TRIGGER "{name}"'))
        try:
            yield s
            await s.commit()
        finally:
            if saved:
                await s.rollback()
                for sql in saved:
                    await s.execute(text(sql.replace("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ", 1)))
                await s.commit()


def columns(row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}


async def snapshot(s: AsyncSession, seqs: list[int]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from sqlalchemy import select

    rows = (await s.execute(select(AuditEntry).where(AuditEntry.chain_seq.in_(seqs)))).scalars().all()
    head = (await s.execute(select(AuditChainHead).where(AuditChainHead.id == 1))).scalar_one()
    return [columns(r) for r in rows], columns(head)
