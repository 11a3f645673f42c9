"""Revoked tokens: PostgreSQL is the source of truth, Redis a cache that can be rebuilt (issue 13 item 8).

Every revocation (logout, a refresh family killed, an account disabled or deleted, a phone change, an API
client revoked or rotated) is a `revocations` row written in the request's transaction, and a cache key in
Redis. The hot path stays one Redis round trip: `MGET` of the cache epoch marker and the token's three keys (or,
when the route asks for step-up, a pipeline of their GETs and the step-up mark's `EXISTS`).

The marker `{revoked}:epoch` is written only by a rebuild, together with the keys it rebuilt (one MULTI), and
never expires. When it is missing Redis has lost its data (restart without persistence, FLUSHALL, failover to
an empty replica), so an absent key proves nothing: the process rebuilds the cache from the live rows
(`expires_at` in the future: at most one access-token lifetime of revocations) and answers that request from
PostgreSQL directly. A second pass a few seconds later catches a revocation whose transaction was still open
during the first. Redis must not evict keys (`maxmemory-policy noeviction`): an evicted revocation key under a
surviving marker would go unnoticed.

All keys carry the one hash tag `{revoked}`, so the MGET and the rebuild's MULTI stay in one Redis Cluster slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Revocation
from app.core.config import get_settings
from app.core.db import Database

log = logging.getLogger("app.auth.revocation")

EPOCH = "{revoked}:epoch"
SETTLE_SECONDS = 5.0
JTI, SID, USER = "jti", "sid", "user"


def cache_key(kind: str, subject: str) -> str:
    return f"{{revoked}}:{kind}:{subject}"


def _lifetime() -> timedelta:
    """How long a revocation matters: as long as an access token issued just before it can live."""
    return timedelta(seconds=get_settings().access_token_ttl_seconds + 5)


async def revoke(
    session: AsyncSession,
    redis: Any,
    kind: str,
    subject: str,
    *,
    not_before: int = 0,
    until: datetime | None = None,
) -> None:
    """Record a revocation in the transaction and in the cache (before the commit: if the commit fails, the
    cache only says more than the truth, which fails closed)."""
    now = datetime.now(UTC)
    expires = until or now + _lifetime()
    if expires <= now:
        return
    session.add(Revocation(kind=kind, subject=subject, not_before=not_before, expires_at=expires))
    seconds = max(1, math.ceil((expires - now).total_seconds()))
    await redis.set(cache_key(kind, subject), str(not_before) if kind == USER else "1", ex=seconds)


def _dead(iat: int, jti: Any, user_cutoff: Any, sid: Any) -> bool:
    return bool(jti) or bool(sid) or (user_cutoff is not None and iat <= int(user_cutoff))


async def is_revoked(
    db: Database, redis: Any, *, jti: str, subject: str, sid: str | None, iat: int, also: str | None = None
) -> tuple[bool, bool]:
    """Whether this access token was revoked, and whether the key `also` exists (the caller's step-up mark, read
    in the same round trip: a pipeline of the four GETs and an EXISTS, which may span Redis Cluster slots). One round
    trip while the cache is whole; PostgreSQL otherwise (`also` as Redis has it: an emptied Redis lost the marks
    written before, and any there now was written since)."""
    keys = [EPOCH, cache_key(JTI, jti), cache_key(USER, subject), cache_key(SID, sid or "-")]
    present = False
    if also is None:
        epoch, k_jti, k_user, k_sid = await redis.mget(keys)
    else:
        # GETs, not an MGET: a Redis Cluster pipeline refuses multi-key commands (it splits the pipeline per node).
        async with redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
            pipe.exists(also)
            epoch, k_jti, k_user, k_sid, n = await pipe.execute()
        present = bool(n)
    if epoch is not None:
        return _dead(iat, k_jti, k_user, k_sid if sid else None), present
    await rebuild(db, redis)
    # A step-up mark that is there was written after Redis lost its data (a flush takes the marks with it), so it
    # stands: requests racing the rebuild keep their confirmation.
    return await _revoked_in_db(db, jti=jti, subject=subject, sid=sid, iat=iat), present


async def _revoked_in_db(db: Database, *, jti: str, subject: str, sid: str | None, iat: int) -> bool:
    wanted = [
        and_(Revocation.kind == JTI, Revocation.subject == jti),
        and_(Revocation.kind == USER, Revocation.subject == subject),
    ]
    if sid:
        wanted.append(and_(Revocation.kind == SID, Revocation.subject == sid))
    async with db.sessionmaker() as s:
        rows = (
            await s.execute(
                select(Revocation.kind, Revocation.not_before).where(
                    Revocation.expires_at > datetime.now(UTC), or_(*wanted)
                )
            )
        ).all()
    return any(kind != USER or iat <= int(nb) for kind, nb in rows)


_locks: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


def _rebuild_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    if loop not in _locks:
        _locks.clear()  # one loop per process in service; tests may start a new one
        _locks[loop] = asyncio.Lock()
    return _locks[loop]


async def rebuild(db: Database, redis: Any) -> int:
    """Refill the cache from the live rows and set the marker (once per process at a time; idempotent across
    processes). Returns how many keys were written, 0 when another task had just done it."""
    async with _rebuild_lock():
        if await redis.exists(EPOCH):
            return 0
        n = await _fill(db, redis, mark=True)
    log.warning("revocation cache rebuilt from the database (no marker: a new or emptied Redis): %d entries", n)
    task = asyncio.get_running_loop().create_task(_settle(db, redis))
    _settling.add(task)
    task.add_done_callback(_settling.discard)
    return n


_settling: set[asyncio.Task[None]] = set()


async def _settle(db: Database, redis: Any) -> None:
    await asyncio.sleep(SETTLE_SECONDS)
    with contextlib.suppress(Exception):
        await _fill(db, redis, mark=False)


async def _fill(db: Database, redis: Any, *, mark: bool) -> int:
    now = datetime.now(UTC)
    async with db.sessionmaker() as s:
        rows = (
            await s.execute(
                select(Revocation.kind, Revocation.subject, Revocation.not_before, Revocation.expires_at).where(
                    Revocation.expires_at > now
                )
            )
        ).all()
    entries: dict[str, tuple[str, int]] = {}  # key → (value, seconds); the latest cut-off per account
    for kind, subject, not_before, expires_at in rows:
        key = cache_key(kind, subject)
        seconds = max(1, math.ceil((expires_at - now).total_seconds()))
        value = str(not_before) if kind == USER else "1"
        old = entries.get(key)
        if old is not None:
            if kind == USER and int(old[0]) > int(not_before):
                value = old[0]
            seconds = max(seconds, old[1])
        entries[key] = (value, seconds)
    async with redis.pipeline(transaction=True) as pipe:
        for key, (value, seconds) in entries.items():
            pipe.set(key, value, ex=seconds)
        if mark:
            pipe.set(EPOCH, str(int(time.time())))
        await pipe.execute()
    return len(entries)


async def prune(session: AsyncSession, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete rows no token can need any more (the worker calls this)."""
    result = await session.execute(delete(Revocation).where(Revocation.expires_at < datetime.now(UTC) - older_than))
    return int(getattr(result, "rowcount", 0) or 0)
