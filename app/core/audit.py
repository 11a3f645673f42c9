"""The append-only, hash-chained audit trail.

Entries are written in the same transaction as the change they record (`record`). Chaining them in the
request would make every money transaction in the city wait on one row; instead a sealer (`seal_pending`,
run by the worker) links committed entries into the chain in the order it finds them, under a lock on the
chain head, and `verify_chain` recomputes every link.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field, utcnow
from app.core.logging import request_id_var

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    type: str  # user, client, system
    id: str
    role: str = ""


SYSTEM = Actor("system", "system", "system")
actor_var: ContextVar[Actor | None] = ContextVar("audit_actor", default=None)


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_object", "object_id", "created_at"),
        Index("ix_audit_entries_actor", "actor_id", "created_at"),
        Index("ix_audit_entries_action", "action", "created_at"),
        Index(
            "ix_audit_entries_unsealed",
            "created_at",
            sqlite_where=Column("chain_seq").is_(None),
            postgresql_where=Column("chain_seq").is_(None),
        ),
    )

    id: uuid.UUID = id_field()
    created_at: datetime = created_field()
    actor_type: str = Field(max_length=16)
    actor_id: str = Field(max_length=64)
    actor_role: str = Field(default="", max_length=32)
    action: str = Field(max_length=64)
    object_type: str = Field(max_length=32)
    object_id: str = Field(max_length=64)
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    request_id: str = Field(default="", max_length=128)
    chain_seq: int | None = Field(default=None, sa_type=BigInteger, unique=True)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)
    sealed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditChainHead(SQLModel, table=True):
    """One row: the last sealed link. Locking it serialises sealers, not requests."""

    __tablename__ = "audit_chain_head"
    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_type=BigInteger)
    hash: str = Field(default=GENESIS, max_length=64)


async def record(
    session: AsyncSession,
    *,
    action: str,
    object_type: str,
    object_id: Any,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: Actor | None = None,
    **extra: Any,
) -> AuditEntry:
    """Append an entry in the caller's transaction. Summaries carry ids, states and amounts, never raw
    personal data."""
    who = actor or actor_var.get() or SYSTEM
    summary: dict[str, Any] = {}
    if before is not None:
        summary["before"] = before
    if after is not None:
        summary["after"] = after
    summary.update(extra)
    entry = AuditEntry(
        actor_type=who.type,
        actor_id=who.id,
        actor_role=who.role,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=json.loads(json.dumps(summary, default=str, ensure_ascii=False)),
        request_id=request_id_var.get(),
    )
    session.add(entry)
    return entry


def entry_digest(prev_hash: str, e: AuditEntry) -> str:
    payload = {
        "seq": e.chain_seq,
        "id": str(e.id),
        "created_at": e.created_at.isoformat(),
        "actor": [e.actor_type, e.actor_id, e.actor_role],
        "action": e.action,
        "object": [e.object_type, e.object_id],
        "summary": e.summary,
        "request_id": e.request_id,
    }
    canon = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256((prev_hash + canon).encode()).hexdigest()


async def seal_pending(session: AsyncSession, batch: int = 1000) -> int:
    """Link committed, unsealed entries into the chain. Returns how many were sealed."""
    head = (
        await session.execute(select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update())
    ).scalar_one_or_none()
    if head is None:
        head = AuditChainHead()
        session.add(head)
        await session.flush()
    rows = (
        (
            await session.execute(
                select(AuditEntry)
                .where(AuditEntry.chain_seq.is_(None))
                .order_by(AuditEntry.created_at, AuditEntry.id)
                .limit(batch)
            )
        )
        .scalars()
        .all()
    )
    now = utcnow()
    for e in rows:
        head.seq += 1
        e.chain_seq = head.seq
        e.prev_hash = head.hash
        e.hash = entry_digest(head.hash, e)
        e.sealed_at = now
        head.hash = e.hash
    await session.flush()
    return len(rows)


async def verify_chain(session: AsyncSession) -> tuple[bool, str]:
    """Recompute every link; report the first broken one."""
    prev = GENESIS
    expected = 1
    result = await session.stream(
        select(AuditEntry).where(AuditEntry.chain_seq.is_not(None)).order_by(AuditEntry.chain_seq)
    )
    async for (e,) in result:
        if e.chain_seq != expected:
            return False, f"第 {expected} 条记录缺失（链断在序号 {e.chain_seq} 之前）"
        if e.prev_hash != prev or e.hash != entry_digest(prev, e):
            return False, f"第 {e.chain_seq} 条记录（{e.id}）被篡改"
        prev = e.hash
        expected += 1
    head = (await session.execute(select(AuditChainHead).where(AuditChainHead.id == 1))).scalar_one_or_none()
    if head is not None and (head.seq != expected - 1 or head.hash != prev):
        return False, f"链尾不一致：记录到第 {expected - 1} 条，链头记为第 {head.seq} 条"
    return True, f"审计链完整，共 {expected - 1} 条"
