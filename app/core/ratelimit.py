"""Sliding-window limits in Redis: each limit is a log of the events it counted (a sorted set scored by time),
checked and counted in one Lua script, so that no interleaving of requests, in one process or many, counts past
a limit, and no clock boundary resets one: N events inside any `window` seconds are always N, wherever the clock
stands (issue 13 items 3 and 4).

- `reserve(redis, tag, rules)` counts one event against every rule, or none of them when any is full (then
  `RateLimited` with `Retry-After` = when the oldest counted event leaves the full window). A refused event is
  not counted. The returned `Reservation` can be `refund`ed (the event turned out not to count, e.g. a right
  password, or a later limit of the same request refused it).
- `hit(redis, key, limit, window, detail)` is the one-rule form (daily caps).
- `clear(redis, tag, rules)` forgets every event of those rules (a successful sign-in clears its failures).

Every key of one call carries the same hash tag (`rl:{tag}:…`), so one script only ever touches one Redis
Cluster slot. The clock is the API process's (`time.time()`); hosts are NTP-synced, and a skew of a second is
immaterial to windows of a minute to a day.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core.errors import Msg, RateLimited


@dataclass(frozen=True)
class Rule:
    """At most `limit` events per `window` seconds, counted under `name` (rules with one name and window share
    one log)."""

    name: str
    limit: int
    window: int
    detail: Msg | None = None


@dataclass(frozen=True)
class Reservation:
    keys: tuple[str, ...]
    member: str


# KEYS: one sorted set per rule. ARGV[1] = now (ms), ARGV[2] = this event's member, then per key: limit, window
# (ms). Returns {0, 0} when counted, or {index of the full rule (1-based), ms until it has room}.
_RESERVE = """
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local wait = window
    if oldest[2] then wait = tonumber(oldest[2]) + window - now end
    return {i, wait}
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 + 2 * i]))
end
return {0, 0}
"""

_REFUND = """
for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
return 1
"""


def now_ms() -> int:
    return int(time.time() * 1000)


def rule_key(tag: str, rule: Rule) -> str:
    return f"rl:{{{tag}}}:{rule.name}:{rule.window}"


async def reserve(redis: Any, tag: str, rules: Sequence[Rule]) -> Reservation:
    """Count one event against every rule (all under one hash tag), or raise RateLimited and count nothing."""
    keys = [rule_key(tag, r) for r in rules]
    now = now_ms()
    member = f"{now}:{uuid.uuid4().hex[:16]}"
    args: list[int | str] = [now, member]
    for r in rules:
        args += [r.limit, r.window * 1000]
    full, wait_ms = await redis.eval(_RESERVE, len(keys), *keys, *args)
    if int(full):
        rule = rules[int(full) - 1]
        raise RateLimited(max(1, math.ceil(int(wait_ms) / 1000)), rule.detail)
    return Reservation(tuple(keys), member)


async def refund(redis: Any, reservation: Reservation) -> None:
    """Take back one counted event (it did not count after all)."""
    await redis.eval(_REFUND, len(reservation.keys), *reservation.keys, reservation.member)


async def hit(redis: Any, key: str, limit: int, window: int, detail: Msg | None = None) -> None:
    """Count one event against `limit` per sliding `window` seconds; raise RateLimited (counting nothing) when full."""
    await reserve(redis, key, [Rule("n", limit, window, detail)])


async def clear(redis: Any, tag: str, rules: Sequence[Rule]) -> None:
    await redis.delete(*[rule_key(tag, r) for r in rules])
