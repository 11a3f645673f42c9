"""Fixed-window counters in Redis; over a limit raises 429 with Retry-After."""

from __future__ import annotations

import time
from typing import Any

from app.core.errors import Msg, RateLimited

# Increments a window counter and returns (count, ttl) atomically.
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
return {n, ttl}
"""


async def hit(redis: Any, key: str, limit: int, window: int, detail: Msg | None = None) -> int:
    """Count one event against `limit` per `window` seconds; raise RateLimited when over."""
    bucket = int(time.time()) // window
    n, ttl = await redis.eval(_HIT, 1, f"rl:{key}:{window}:{bucket}", window)
    if int(n) > limit:
        raise RateLimited(int(ttl) if int(ttl) > 0 else window, detail)
    return int(n)


async def peek(redis: Any, key: str, limit: int, window: int) -> int | None:
    """Seconds until the window resets when `key` is already at its limit, else None."""
    bucket = int(time.time()) // window
    full = f"rl:{key}:{window}:{bucket}"
    n = await redis.get(full)
    if n is not None and int(n) >= limit:
        ttl = await redis.ttl(full)
        return int(ttl) if ttl and ttl > 0 else window
    return None


async def clear(redis: Any, key: str, window: int) -> None:
    bucket = int(time.time()) // window
    await redis.delete(f"rl:{key}:{window}:{bucket}")
