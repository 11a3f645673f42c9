"""The append-only, keyed hash-chained audit trail (tamper evidence against someone who can write the database).

Entries are written in the same transaction as the change they record (`record`). Chaining them in the
request would make every money transaction in the city wait on one row; instead a sealer (`seal`, run by the
worker) links committed entries into the chain in the order it finds them, under a lock on the chain head.

What makes a rewrite detectable without `AUDIT_KEY` (a setting, never in the database):
- every link is HMAC-SHA256(key, previous link + the entry's canonical JSON): an edited or forged row cannot be
  given a valid link, even with every later link recomputed;
- the head (sequence, hash, first keyed sequence) carries its own HMAC: the tail cannot be cut with the head
  moved back, nor the keyed part relabelled as legacy;
- after each seal a signed checkpoint (sequence, head hash, time) is appended to `AUDIT_CHECKPOINT_PATH`, outside
  the database (ship it elsewhere): a whole earlier state put back (rows and head together) still contradicts a
  later checkpoint (`verify-audit --checkpoint FILE`);
- sealed rows are refused UPDATE and DELETE by a database trigger (migration 0020).

Rows sealed before migration 0020 keep their plain SHA-256 links: the migration records the first keyed
sequence (`audit_chain_head.keyed_from_seq`, covered by the head's HMAC) and signs the head; links before it are
checked the old way, links from it on with the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from app.core.config import get_settings
from app.core.db import UTCDateTime, created_field, id_field, utcnow
from app.core.logging import request_id_var
from app.core.security import derive_key

GENESIS = "0" * 64
log = logging.getLogger("app.audit")


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
        Index("ix_audit_entries_region", "region_code", "created_at"),
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
    # The most specific region the object belongs to (village code, or the counties' common prefix), filled by
    # the sealer before the entry is linked (so the link covers it): what a regulator's view is filtered on.
    region_code: str | None = Field(default=None, max_length=12)
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
    keyed_from_seq: int = Field(default=1, sa_type=BigInteger, sa_column_kwargs={"server_default": "1"})
    mac: str | None = Field(default=None, max_length=64)


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


@lru_cache(maxsize=4)
def _derived(secret: str) -> bytes:
    return derive_key("audit-chain", secret)


def audit_key() -> bytes:
    s = get_settings()
    return _derived(s.audit_key or s.secret_key)


def legacy_digest(prev_hash: str, e: AuditEntry) -> str:
    """The plain SHA-256 link of rows sealed before migration 0020 (anyone can recompute it)."""
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


def _canonical(e: AuditEntry) -> str:
    payload = {
        "v": 2,
        "seq": e.chain_seq,
        "id": str(e.id),
        "created_at": e.created_at.isoformat(),
        "actor": [e.actor_type, e.actor_id, e.actor_role],
        "action": e.action,
        "object": [e.object_type, e.object_id],
        "region": e.region_code,
        "summary": e.summary,
        "request_id": e.request_id,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def keyed_digest(prev_hash: str, e: AuditEntry, key: bytes) -> str:
    return hmac.new(key, (prev_hash + _canonical(e)).encode(), hashlib.sha256).hexdigest()


def entry_digest(prev_hash: str, e: AuditEntry, keyed_from_seq: int = 1, key: bytes | None = None) -> str:
    """The link of `e` under the scheme its sequence falls in."""
    if e.chain_seq is not None and e.chain_seq < keyed_from_seq:
        return legacy_digest(prev_hash, e)
    return keyed_digest(prev_hash, e, key or audit_key())


def head_mac(seq: int, head_hash: str, keyed_from_seq: int, key: bytes | None = None) -> str:
    msg = f"head|{seq}|{head_hash}|{keyed_from_seq}"
    return hmac.new(key or audit_key(), msg.encode(), hashlib.sha256).hexdigest()


def checkpoint(seq: int, head_hash: str, at: str, key: bytes | None = None) -> dict[str, Any]:
    msg = f"checkpoint|{seq}|{head_hash}|{at}"
    mac = hmac.new(key or audit_key(), msg.encode(), hashlib.sha256).hexdigest()
    return {"seq": seq, "hash": head_hash, "at": at, "mac": mac}


def write_checkpoint(seq: int, head_hash: str, path: str | None = None) -> None:
    """Append one signed (sequence, head, time) line; the operator ships this file out of the database's reach."""
    target = Path(path or get_settings().audit_checkpoint_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(checkpoint(seq, head_hash, utcnow().isoformat()), separators=(",", ":")) + "\n"
    with target.open("a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


Prepare = Callable[[AsyncSession, list[AuditEntry]], Awaitable[None]]


class ChainBroken(Exception):
    """The head is missing or its HMAC is wrong: the sealer refuses to extend a chain someone has rewritten."""


async def seal_pending(session: AsyncSession, batch: int = 1000, prepare: Prepare | None = None) -> int:
    """Link committed, unsealed entries into the chain. Returns how many were sealed; the new head is left in
    `session.info["audit_head"]` for the checkpoint written after the commit (`seal`)."""
    key = audit_key()
    head = (
        await session.execute(select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update())
    ).scalar_one_or_none()
    if head is None:
        if await session.scalar(select(AuditEntry.id).where(AuditEntry.chain_seq.is_not(None)).limit(1)) is not None:
            raise ChainBroken("audit chain head missing while sealed entries exist")
        head = AuditChainHead(keyed_from_seq=1)
        head.mac = head_mac(0, GENESIS, 1, key)
        session.add(head)
        await session.flush()
    if head.mac is None or not hmac.compare_digest(head.mac, head_mac(head.seq, head.hash, head.keyed_from_seq, key)):
        raise ChainBroken("audit chain head fails its HMAC")
    rows = list(
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
    if rows and prepare is not None:
        await prepare(session, rows)
    now = utcnow()
    for e in rows:
        head.seq += 1
        e.chain_seq = head.seq
        e.prev_hash = head.hash
        e.hash = keyed_digest(head.hash, e, key)
        e.sealed_at = now
        head.hash = e.hash
    head.mac = head_mac(head.seq, head.hash, head.keyed_from_seq, key)
    await session.flush()
    session.info["audit_head"] = (head.seq, head.hash)
    return len(rows)


async def seal(sessionmaker: Any, prepare: Prepare | None = None, batch: int = 1000) -> int:
    """One sealing pass in its own transaction, then (after the commit, so that it never names a link that was
    rolled back) a signed checkpoint of the new head."""
    async with sessionmaker() as session:
        sealed = await seal_pending(session, batch=batch, prepare=prepare)
        head = session.info.get("audit_head")
        await session.commit()
    if sealed and head is not None:
        write_checkpoint(*head)
    return sealed


def read_checkpoints(path: str) -> list[dict[str, Any]]:
    """The checkpoint file's lines (ValueError for a line that is not a checkpoint)."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cp = json.loads(line)
            out.append(
                {"line": n, "seq": int(cp["seq"]), "hash": str(cp["hash"]), "at": str(cp["at"]), "mac": cp["mac"]}
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"检查点文件第 {n} 行格式无效") from exc
    return out


async def verify_chain(session: AsyncSession, checkpoints: list[dict[str, Any]] | None = None) -> tuple[bool, str]:
    """Recompute every link (legacy ones plainly, keyed ones with AUDIT_KEY), check the head's HMAC and every
    checkpoint; report the first thing that is wrong."""
    key = audit_key()
    for cp in checkpoints or []:
        good = checkpoint(cp["seq"], cp["hash"], cp["at"], key)["mac"]
        if not isinstance(cp["mac"], str) or not hmac.compare_digest(cp["mac"], good):
            return False, f"检查点第 {cp['line']} 行签名无效（不是用本系统的 AUDIT_KEY 写的）"
    wanted = {cp["seq"]: cp for cp in checkpoints or []}
    head = (await session.execute(select(AuditChainHead).where(AuditChainHead.id == 1))).scalar_one_or_none()
    keyed_from = head.keyed_from_seq if head is not None else 1
    prev = GENESIS
    expected = 1
    result = await session.stream(
        select(AuditEntry).where(AuditEntry.chain_seq.is_not(None)).order_by(AuditEntry.chain_seq)
    )
    async for (e,) in result:
        if e.chain_seq != expected:
            return False, f"第 {expected} 条记录缺失（链断在序号 {e.chain_seq} 之前）"
        if e.prev_hash != prev or e.hash != entry_digest(prev, e, keyed_from, key):
            return False, f"第 {e.chain_seq} 条记录（{e.id}）被篡改"
        mark = wanted.get(e.chain_seq)
        if mark is not None and mark["hash"] != e.hash:
            return False, f"第 {e.chain_seq} 条记录与检查点（第 {mark['line']} 行）不符：链被改写"
        prev = e.hash
        expected += 1
    last = expected - 1
    if head is None:
        if last:
            return False, "链头缺失"
        return True, "审计链完整，共 0 条"
    if head.mac is None or not hmac.compare_digest(head.mac, head_mac(head.seq, head.hash, head.keyed_from_seq, key)):
        return False, f"链头签名无效：链头（第 {head.seq} 条）被改动"
    if head.seq != last or head.hash != prev:
        return False, f"链尾不一致：记录到第 {last} 条，链头记为第 {head.seq} 条"
    beyond = [cp for cp in checkpoints or [] if cp["seq"] > last]
    if beyond:
        top = max(beyond, key=lambda c: c["seq"])
        return False, f"链尾被截断：检查点（第 {top['line']} 行）记到第 {top['seq']} 条，数据库只到第 {last} 条"
    checked = f"，{len(checkpoints)} 个检查点相符" if checkpoints else ""
    return True, f"审计链完整，共 {last} 条{checked}"
