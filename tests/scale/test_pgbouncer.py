"""PgBouncer in transaction mode: asyncpg's prepared statements do not survive it; DB_PREPARED_STATEMENTS=false
does. Against a real PgBouncer when TEST_PGBOUNCER_URL is set (docs/scaling.md says how the run was made)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from sqlalchemy import text

from app.core.db import Database, make_engine

URL = os.environ.get("TEST_PGBOUNCER_URL", "")


def test_without_prepared_statements_both_caches_are_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.core.db as dbmod

    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(dbmod, "create_async_engine", lambda url, **kw: seen.append(kw))
    make_engine("postgresql://nobody@127.0.0.1:1/none", prepared_statements=False)
    make_engine("postgresql://nobody@127.0.0.1:1/none")
    assert seen[0]["connect_args"] == {"statement_cache_size": 0, "prepared_statement_cache_size": 0}
    assert "connect_args" not in seen[1] and "prepared_statements" not in seen[1]


async def _errors(db: Database) -> int:
    failed = 0

    async def one(i: int) -> None:
        nonlocal failed
        try:
            async with db.sessionmaker() as s:
                await s.execute(text("SELECT CAST(:x AS integer) + 1"), {"x": i})
                await s.execute(text("SELECT count(*) FROM regions WHERE code LIKE :p"), {"p": f"4117{i % 10}%"})
                await s.commit()
        except Exception:
            failed += 1

    for _ in range(5):
        await asyncio.gather(*(one(i) for i in range(40)))
    await db.dispose()
    return failed


@pytest.mark.skipif(not URL, reason="needs PgBouncer in transaction mode (TEST_PGBOUNCER_URL)")
async def test_prepared_statements_break_under_transaction_pooling_and_the_setting_fixes_it() -> None:
    assert await _errors(Database(URL, pool_size=8, max_overflow=0)) > 0
    assert await _errors(Database(URL, pool_size=8, max_overflow=0, prepared_statements=False)) == 0
