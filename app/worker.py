"""Background delivery: seals the audit chain and delivers the outboxes after their transactions commit.

Runs in the API process (WORKER_IN_PROCESS, default with the embedded defaults) or alone
(`python -m app.cli worker`). Every step is safe with several workers at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.core import audit
from app.core.db import Database, session_scope

log = logging.getLogger("app.worker")

Step = Callable[[Database, Any], Awaitable[int]]
STEPS: list[Step] = []


def step(fn: Step) -> Step:
    STEPS.append(fn)
    return fn


# Never `return` from inside `async for session in session_scope(db)`: the generator would be left at its
# yield, and closing it later raises GeneratorExit there, which rolls the work back (and on SQLite holds the
# only connection until then). Leave the loop normally so that it commits.


@step
async def seal_audit(db: Database, redis: Any) -> int:
    sealed = 0
    async for session in session_scope(db):
        sealed = await audit.seal_pending(session)
    return sealed


@step
async def deliver_sms(db: Database, redis: Any) -> int:
    from app.notifications.delivery import deliver_pending_sms

    handled = 0
    async for session in session_scope(db):
        handled = await deliver_pending_sms(session)
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
