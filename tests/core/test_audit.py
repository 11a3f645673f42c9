"""The audit chain (issue 13 item 9): keyed links, a signed head, checkpoints outside the database and a trigger
refusing changes to sealed rows. `verify_chain` detects an edited row, a deleted row, a cut tail with the head
moved back, and a forged row with the chain recomputed, by someone who can write the database but has no key."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from app.core import audit
from app.core.audit import AuditChainHead, AuditEntry
from app.core.config import get_settings
from tests.core.audit_tamper import snapshot, tampering

WRONG_KEY = b"an attacker's guess at the key..."


async def _sealed(app, n: int, tag: str) -> list[int]:
    """n new entries, sealed (with a checkpoint written); their sequence numbers."""
    async with app.state.db.sessionmaker() as s:
        ids = [
            (await audit.record(s, action="test.event", object_type="test", object_id=f"{tag}-{i}", after={"i": i})).id
            for i in range(n)
        ]
        await s.commit()
    while await audit.seal(app.state.db.sessionmaker):
        pass
    async with app.state.db.sessionmaker() as s:
        seqs = (await s.execute(select(AuditEntry.chain_seq).where(AuditEntry.id.in_(ids)))).scalars().all()
    assert len(seqs) == n and None not in seqs
    return sorted(int(q) for q in seqs)


async def _verify(app, checkpoints: bool = False) -> tuple[bool, str]:
    cps = audit.read_checkpoints(get_settings().audit_checkpoint_path) if checkpoints else None
    async with app.state.db.sessionmaker() as s:
        return await audit.verify_chain(s, cps)


async def _restore(app, rows: list[dict], head: dict) -> None:
    async with tampering(app.state.db) as s:
        for r in rows:
            await s.execute(delete(AuditEntry).where(AuditEntry.id == r["id"]))
        await s.flush()
        for r in rows:
            s.add(AuditEntry(**r))
        await s.execute(update(AuditChainHead).where(AuditChainHead.id == 1).values(**head))
    ok, msg = await _verify(app, checkpoints=True)
    assert ok, msg


async def test_seal_and_verify_then_edit_and_delete(app) -> None:
    seqs = await _sealed(app, 5, "ed")
    ok, msg = await _verify(app, checkpoints=True)
    assert ok, msg
    async with app.state.db.sessionmaker() as s:
        rows, head = await snapshot(s, seqs)
    victim = next(r for r in rows if r["chain_seq"] == seqs[2])
    try:
        # An edited row.
        async with tampering(app.state.db) as s:
            await s.execute(update(AuditEntry).where(AuditEntry.id == victim["id"]).values(summary={"i": 99}))
        ok, msg = await _verify(app)
        assert not ok and f"第 {victim['chain_seq']} 条" in msg and "篡改" in msg
        await _restore(app, rows, head)
        # A deleted row.
        async with tampering(app.state.db) as s:
            await s.execute(delete(AuditEntry).where(AuditEntry.id == victim["id"]))
        ok, msg = await _verify(app)
        assert not ok and "缺失" in msg
    finally:
        await _restore(app, rows, head)


async def test_cut_tail_with_head_moved_back(app) -> None:
    seqs = await _sealed(app, 1, "before-cut")
    async with app.state.db.sessionmaker() as s:
        genuine_old_head = (await s.execute(select(AuditChainHead))).scalar_one()
        old = {"seq": genuine_old_head.seq, "hash": genuine_old_head.hash, "mac": genuine_old_head.mac}
    tail = await _sealed(app, 3, "tail")
    async with app.state.db.sessionmaker() as s:
        rows, head = await snapshot(s, tail)
    try:
        # The tail deleted and the head moved back to the last row kept, signed with a guessed key.
        async with tampering(app.state.db) as s:
            await s.execute(delete(AuditEntry).where(AuditEntry.chain_seq.in_(tail)))
            forged_mac = hmac.new(WRONG_KEY, f"head|{old['seq']}|{old['hash']}|1".encode(), hashlib.sha256).hexdigest()
            await s.execute(update(AuditChainHead).values(seq=old["seq"], hash=old["hash"], mac=forged_mac))
        ok, msg = await _verify(app)
        assert not ok and "链头签名无效" in msg
        # The head put back to a genuine earlier state (seen before the tail was sealed): rows and head agree and
        # the head's signature is real, so only the checkpoints outside the database can tell.
        async with tampering(app.state.db) as s:
            await s.execute(update(AuditChainHead).values(**old))
        assert (await _verify(app))[0] is True
        ok, msg = await _verify(app, checkpoints=True)
        assert not ok and "链尾被截断" in msg and str(tail[-1]) in msg
    finally:
        await _restore(app, rows, head)
    assert seqs[0] < tail[0]


@pytest.mark.parametrize("scheme", ["plain sha-256", "guessed key"])
async def test_forged_row_with_chain_recomputed(app, scheme: str) -> None:
    seqs = await _sealed(app, 4, f"forge-{scheme[:5]}")
    async with app.state.db.sessionmaker() as s:
        rows, head = await snapshot(s, seqs)
        keyed_from = head["keyed_from_seq"]
    try:
        async with tampering(app.state.db) as s:
            chain = (await s.execute(select(AuditEntry).where(AuditEntry.chain_seq >= seqs[1]).order_by(
                AuditEntry.chain_seq))).scalars().all()  # fmt: skip
            prev = chain[0].prev_hash
            chain[0].summary = {"after": {"amount_fen": 1}}  # the forged content
            for e in chain:
                e.prev_hash = prev
                e.hash = (
                    audit.legacy_digest(prev, e)
                    if scheme == "plain sha-256"
                    else audit.keyed_digest(prev, e, WRONG_KEY)
                )
                prev = e.hash
            await s.flush()
            head_mac = hmac.new(WRONG_KEY, f"head|{chain[-1].chain_seq}|{prev}|{keyed_from}".encode(), hashlib.sha256)
            await s.execute(update(AuditChainHead).values(hash=prev, mac=head_mac.hexdigest()))
        ok, msg = await _verify(app)
        assert not ok and f"第 {seqs[1]} 条" in msg and "篡改" in msg
    finally:
        await _restore(app, rows, head)


async def test_relabelling_the_keyed_part_as_legacy_is_caught(app) -> None:
    seqs = await _sealed(app, 1, "relabel")
    async with app.state.db.sessionmaker() as s:
        rows, head = await snapshot(s, seqs)
    try:
        async with tampering(app.state.db) as s:
            await s.execute(update(AuditChainHead).values(keyed_from_seq=head["seq"] + 1))
        assert (await _verify(app))[0] is False
        with pytest.raises(audit.ChainBroken):  # and the sealer will not extend (nor re-sign) such a head
            async with app.state.db.sessionmaker() as s:
                await audit.seal_pending(s)
    finally:
        await _restore(app, rows, head)


async def test_sealed_rows_are_refused_update_and_delete(app) -> None:
    [seq] = await _sealed(app, 1, "trigger")
    for stmt in (
        update(AuditEntry).where(AuditEntry.chain_seq == seq).values(summary={"x": 1}),
        delete(AuditEntry).where(AuditEntry.chain_seq == seq),
    ):
        async with app.state.db.sessionmaker() as s:
            with pytest.raises(DBAPIError, match="sealed"):
                await s.execute(stmt)
            await s.rollback()
    async with app.state.db.sessionmaker() as s:
        if s.bind.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="truncated"):
                await s.execute(text("TRUNCATE audit_entries"))
            await s.rollback()
        # An unsealed row may still be sealed (that is an UPDATE too).
        e = await audit.record(s, action="test.unsealed", object_type="test", object_id="unsealed")
        await s.commit()
        await s.execute(update(AuditEntry).where(AuditEntry.id == e.id).values(region_code="411725"))
        await s.commit()
    ok, msg = await _verify(app)
    assert ok, msg


async def test_checkpoints_are_signed_lines_outside_the_database(app) -> None:
    await _sealed(app, 2, "cp")
    path = Path(get_settings().audit_checkpoint_path)
    last = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
    async with app.state.db.sessionmaker() as s:
        head = (await s.execute(select(AuditChainHead))).scalar_one()
        assert (last["seq"], last["hash"]) == (head.seq, head.hash)
    assert audit.checkpoint(last["seq"], last["hash"], last["at"])["mac"] == last["mac"]
    # A forged checkpoint line (no key) is refused as such.
    forged = path.with_name("forged-checkpoints.jsonl")
    forged.write_text(json.dumps({**last, "seq": last["seq"] + 10, "mac": "0" * 64}) + "\n", encoding="utf-8")
    async with app.state.db.sessionmaker() as s:
        ok, msg = await audit.verify_chain(s, audit.read_checkpoints(str(forged)))
    assert not ok and "签名无效" in msg


async def test_cli_verify_audit_with_checkpoint(app) -> None:
    from app.cli import main

    await _sealed(app, 1, "cli-cp")
    path = get_settings().audit_checkpoint_path
    assert await asyncio.to_thread(main, ["verify-audit", "--no-seal", "--checkpoint", path]) == 0


def test_link_schemes() -> None:
    e = AuditEntry(actor_type="system", actor_id="s", action="a", object_type="t", object_id="o", chain_seq=3)
    from datetime import UTC, datetime

    e.created_at = datetime(2026, 1, 1, tzinfo=UTC)
    key = audit.audit_key()
    assert audit.entry_digest("p", e, keyed_from_seq=4, key=key) == audit.legacy_digest("p", e)
    assert audit.entry_digest("p", e, keyed_from_seq=3, key=key) == audit.keyed_digest("p", e, key)
    assert audit.keyed_digest("p", e, key) != audit.keyed_digest("p", e, WRONG_KEY)
    e.region_code = "411725"  # the region is covered by the keyed link
    assert audit.entry_digest("p", e, keyed_from_seq=3, key=key) != audit.keyed_digest("p", e, WRONG_KEY)


async def test_worker_step_seals_and_commits(app) -> None:
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
