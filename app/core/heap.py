"""Garbage-collector settings for a long-running worker process.

A full (generation 2) collection walks every tracked object. After start-up that is ~250,000 objects of
imported modules, the ORM mapper, FastAPI's routes and pydantic's validators, none of which will ever be
garbage: measured on the bench city (bench/RESULTS.md, third run), a full collection took ~100 ms on a busy
2-core machine and hit about one request in a hundred of `GET /bank/demands` (pages of ~100 KB build many
objects, so collections are frequent): that was the feed's p99. `gc.freeze()` moves the objects alive at
start-up into a permanent generation the collector no longer scans; full collections then take a few ms.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_heap() -> None:
    """Collect once, then exempt everything still alive from later collections. Once per process (tests start
    many apps in one process; objects frozen are never freed, so only the first start-up is frozen)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
