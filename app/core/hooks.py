"""Signals between domains inside one transaction.

A domain announces what happened to its own rows (`await publish("household.linked", session, ...)`); a domain
above it that keeps something derived (supervision's counters, the demand library's view of a household)
subscribes and writes its own tables, in the same session and so in the same transaction. A lower domain that
needs a fact only an upper one holds asks for it the same way (`await ask("auth.bank_active", session, ...)`).
The lower domain never imports the upper one and never writes its tables; a failing handler fails the request,
as a direct call would.

Subscriptions are made when the subscribing module is imported; `app.wiring` imports every one of them, and each
entry point (the app, the worker, the CLI) imports `app.wiring`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

Handler = Callable[..., Awaitable[Any]]
_handlers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(signal: str) -> Callable[[Handler], Handler]:
    """Register `fn(session, **payload)` for `signal` (idempotent: importing a module twice registers once)."""

    def register(fn: Handler) -> Handler:
        if fn not in _handlers[signal]:
            _handlers[signal].append(fn)
        return fn

    return register


async def publish(signal: str, session: AsyncSession, **payload: Any) -> list[Any]:
    """Run every handler of `signal` in order, in this session; returns their results."""
    return [await fn(session, **payload) for fn in list(_handlers.get(signal, ()))]


async def ask(signal: str, session: AsyncSession, **payload: Any) -> Any:
    """A question a lower domain puts to the domain above it that owns the answer (`auth.bank_active`): the
    first answer that is not None, else None (no handler, or none knows)."""
    for fn in list(_handlers.get(signal, ())):
        answer = await fn(session, **payload)
        if answer is not None:
            return answer
    return None


def handlers(signal: str) -> list[Handler]:
    return list(_handlers.get(signal, ()))
