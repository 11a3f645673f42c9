"""Background delivery: seals the audit chain and delivers the outboxes after their transactions commit.

Runs in the API process (WORKER_IN_PROCESS, default with the embedded defaults) or alone
(`python -m app.cli worker`). Every step is safe with several workers at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

# Every table: run alone (`python -m app.cli worker`) nothing else imports them, and flushing an outbox row whose
# foreign key names an unloaded table fails (NoReferencedTableError) after the message was already sent.
from app import wiring as _wiring  # noqa: F401 - every table and every cross-domain subscription
from app.core import audit
from app.core.db import Database

log = logging.getLogger("app.worker")

Step = Callable[[Database, Any], Awaitable[int]]
STEPS: list[Step] = []


def step(fn: Step) -> Step:
    STEPS.append(fn)
    return fn


@step
async def seal_audit(db: Database, redis: Any) -> int:
    """Seal in its own transaction (each entry's region filled first), then write the signed checkpoint."""
    from app.auditlog.regions import fill_regions

    return await audit.seal(db.sessionmaker, prepare=fill_regions)


@step
async def deliver_webhooks(db: Database, redis: Any) -> int:
    from app.webhooks.delivery import run

    return await run(db)


@step
async def deliver_sms(db: Database, redis: Any) -> int:
    from app.notifications.delivery import deliver_pending_sms

    async with db.sessionmaker() as session:
        handled = await deliver_pending_sms(session)
        await session.commit()
        return handled


async def run_once(db: Database, redis: Any) -> int:
    done = 0
    for fn in STEPS:
        try:
            done += await fn(db, redis)
        except Exception:  # a failing step must not stop the others
            log.exception("worker step failed", extra={"fields": {"step": fn.__name__}})
    return done


async def run_forever(db: Database, redis: Any, interval: float = 1.0) -> None:
    while True:
        done = await run_once(db, redis)
        if not done:
            await asyncio.sleep(interval)


@step
async def sweep_drawdowns(db: Database, redis: Any) -> int:
    """Lapse approvals not disbursed in time (releasing the held amount) and record loans past due_on as
    overdue. Reads already derive both; this keeps stored states and pending_fen current."""
    from app.core.dates import china_today
    from app.drawdowns import isolation, lending, service

    # Commit explicitly: returning from inside `async for ... in session_scope(db)` closes the generator at its
    # yield, which rolls the transaction back instead of committing it. One transaction per kind of change, so
    # a sweeper never holds certificate rows while it waits for village rows.
    today = china_today()
    done = 0
    async with db.sessionmaker() as session:
        policy = await isolation.get_policy(session)
        done += await service.expire_stale(session, policy, today)
        await session.commit()
    async with db.sessionmaker() as session:
        done += await lending.flag_past_due(session, today)
        await session.commit()
    return done


@step
async def sweep_demands(db: Database, redis: Any) -> int:
    """Record demands past their 30 days as expired (telling the farmer); at most every 5 minutes, give open
    demands their household's current stars and match score (the join scans the open demands)."""
    from app.demands import service as sweeps

    async with db.sessionmaker() as session:
        done = await sweeps.expire_due(session)
        await session.commit()
    if await redis.set("worker:demands:stars", "1", nx=True, ex=300):
        for _ in range(20):
            async with db.sessionmaker() as session:
                n = await sweeps.refresh_stars(session)
                await session.commit()
            done += n
            if n < 500:
                break
    return done


@step
async def prune_revocations(db: Database, redis: Any) -> int:
    """At most every 10 minutes (across workers): delete revocation rows no live token can need any more."""
    from app.auth import revocation

    if not await redis.set("worker:revocations:prune", "1", nx=True, ex=600):
        return 0
    async with db.sessionmaker() as session:
        n = await revocation.prune(session)
        await session.commit()
    return n


@step
async def sweep_bridge_loans(db: Database, redis: Any) -> int:
    """Record bridge loans unpaid past due_on as overdue (reads already show them so)."""
    from app.risk import service as risk

    async with db.sessionmaker() as session:
        done = await risk.flag_overdue_bridges(session)
        await session.commit()
    return done
