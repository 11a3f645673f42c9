"""Request-scoped resources: the database session (one transaction per request) and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings, get_settings
from app.core.db import Database, note_write, session_scope


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Commits once, after the handler and before the response is sent; rolls back on any error."""
    async for session in session_scope(get_db(request)):
        yield session
    await note_write(request)  # committed: with read replicas, pin this caller to the primary for a while


def get_redis(request: Request) -> Any:
    return request.app.state.redis


async def _redis_dep(request: Request) -> Any:
    # async: FastAPI runs a plain `def` dependency in the thread pool, a thread hand-off per request.
    return request.app.state.redis


async def _settings_dep() -> Settings:
    return get_settings()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
RedisDep = Annotated[Any, Depends(_redis_dep)]
SettingsDep = Annotated[Settings, Depends(_settings_dep)]


def client_ip(request: Request) -> str:
    """The client address as seen through the trusted proxies (X-Forwarded-For, right to left)."""
    peer = request.client.host if request.client else "unknown"
    trusted = set(get_settings().trusted_proxies)
    if peer not in trusted:
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer
