"""Redis from REDIS_URL; `memory://` is an in-process Redis (fakeredis) with the same API."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

Redis = aioredis.Redis


def make_redis(url: str, *, max_connections: int = 100, pool_timeout: float = 5.0) -> Any:
    """A blocking pool: past `max_connections` a command waits up to `pool_timeout` seconds for a connection
    (then ConnectionError, answered 503) instead of failing at once, as redis-py's default pool does."""
    if url.startswith("memory://"):
        import fakeredis

        # One fake server per URL so that every client in this process sees the same data.
        server = _SERVERS.setdefault(url, fakeredis.FakeServer())
        return fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        decode_responses=True,
        health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)


_SERVERS: dict[str, Any] = {}
