"""Redis from REDIS_URL; `memory://` is an in-process Redis (fakeredis) with the same API."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

Redis = aioredis.Redis


def make_redis(url: str) -> Any:
    if url.startswith("memory://"):
        import fakeredis

        # One fake server per URL so that every client in this process sees the same data.
        server = _SERVERS.setdefault(url, fakeredis.FakeServer())
        return fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    return aioredis.from_url(url, decode_responses=True, health_check_interval=30)


_SERVERS: dict[str, Any] = {}
