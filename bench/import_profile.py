"""Where the rating import's time goes (one-off, in-process, not a load run).

Copies the cpu bench's small city (`CREATE DATABASE … TEMPLATE`), builds the same CSV rows as
`bench.scenarios.rating_import`, and runs `app.credit.imports.import_rows` once inside one transaction under
cProfile; prints wall and process CPU seconds, the statements sent, and the top functions. The copy is dropped.

    BENCH_CPU_DB=puhuitong_hc_cpu .venv/bin/python -m bench.import_profile --rows 20000 [--update] [--top 40]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import subprocess
import time
from datetime import date, timedelta
from typing import Any

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


def psql(sql: str, db: str = "postgres") -> str:
    return subprocess.run(
        ["psql", f"{PG}/{db}", "-qAtc", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


def csv_body(villages: list[str], rows: int) -> bytes:
    from app.core.identity import resident_id_check_char

    rng = random.Random(7)
    lines = ["id_number,real_name,phone,village_code,provincial_score,village_score,vetoes,is_registered_poor"]
    for i in range(rows):
        v = villages[i % len(villages)]
        born = date(2006, 1, 1) + timedelta(days=i // 1000)
        first17 = f"{v[:6]}{born:%Y%m%d}{i % 1000:03d}"
        lines.append(
            f"{first17 + resident_id_check_char(first17)},导入{i % 97}号,,{v},"
            f"{rng.uniform(70, 100):.2f},{rng.uniform(70, 100):.2f},,false"
        )
    return "\n".join(lines).encode()


async def run(body: bytes, times: int, top: int) -> None:
    from sqlalchemy import event

    import app.wiring  # noqa: F401
    from app.core.audit import SYSTEM
    from app.core.db import Database
    from app.credit import imports

    db = Database(os.environ["DATABASE_URL"])
    statements = [0]
    started: list[float] = []
    by_kind: dict[str, list[float]] = {}

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements[0] += 1
        started.append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        kind = " ".join(statement.split()[:3])[:48]
        entry = by_kind.setdefault(kind, [0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - started.pop()

    phases: dict[str, list[float]] = {}
    _time_phases(phases)
    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    event.listen(db.engine.sync_engine, "after_cursor_execute", after)
    for n in range(times):
        prof = cProfile.Profile()
        t, c = time.perf_counter(), time.process_time()
        statements[0] = 0
        async with db.sessionmaker() as session:
            if top:
                prof.enable()
            rows = imports.parse_body(body, "text/csv")
            result = await imports.import_rows(session, rows, actor=SYSTEM, region_code=None)
            await session.commit()
            prof.disable()
        print(
            f"run {n + 1}: created {result.created}, updated {result.updated}, rejected {result.rejected}; "
            f"wall {time.perf_counter() - t:.2f} s, process CPU {time.process_time() - c:.2f} s, "
            f"{statements[0]} statements",
            flush=True,
        )
        for name, (wall, cpu) in phases.items():
            print(f"  phase {name}: wall {wall:.2f} s, CPU {cpu:.2f} s")
        phases.clear()
        for kind, (k, secs) in sorted(by_kind.items(), key=lambda kv: -kv[1][1])[:12]:
            print(f"  {secs:7.2f} s  {k:5d} × {kind}")
        by_kind.clear()
        if top:
            pstats.Stats(prof).sort_stats("tottime").print_stats(top)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(top)
    await db.engine.dispose()


def _time_phases(phases: dict[str, list[float]]) -> None:
    """Wall and CPU time of each step of the import (the steps' functions wrapped where they are looked up)."""
    import functools

    from app.credit import areas, bulk, certificates, imports
    from app.supervision import counters

    def timed(module: Any, name: str, label: str) -> None:
        fn = getattr(module, name)

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kw: Any) -> Any:
            t, c = time.perf_counter(), time.process_time()
            try:
                return await fn(*args, **kw)
            finally:
                entry = phases.setdefault(label, [0.0, 0.0])
                entry[0] += time.perf_counter() - t
                entry[1] += time.process_time() - c

        setattr(module, name, wrapper)

    def timed_sync(module: Any, name: str, label: str) -> None:
        fn = getattr(module, name)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kw: Any) -> Any:
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kw)
            finally:
                entry = phases.setdefault(label, [0.0, 0.0])
                entry[0] += time.perf_counter() - t
                entry[1] += time.process_time() - c

        setattr(module, name, wrapper)

    for name in ("_context", "_existing", "_write", "_after_rating", "_link_accounts"):
        timed(imports, name, name)
    for name in ("_validate", "_plan"):
        timed_sync(imports, name, name)
    timed(bulk, "_copy", "bulk copy (in the above)")
    timed(certificates, "write", "certificates.write (in _after_rating)")
    timed(areas, "apply_deltas", "areas.apply_deltas (in _after_rating)")
    timed(counters, "move_households", "counters.move_households (credit.households_changed)")
    timed(counters, "move_certificates", "counters.move_certificates (credit.certificate_holders_changed)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--times", type=int, default=1, help="run again on the same rows (the update path)")
    ap.add_argument("--top", type=int, default=30)
    a = ap.parse_args()
    city = os.environ.get("BENCH_CPU_DB", "puhuitong_hc_cpu")
    copy = f"{city}_prof"
    psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{copy}" TEMPLATE "{city}" STRATEGY FILE_COPY')
    try:
        villages = psql("SELECT code FROM regions WHERE level='village' ORDER BY code", copy).split()
        os.environ["DATABASE_URL"] = f"{PG}/{copy}"
        asyncio.run(run(csv_body(villages, a.rows), a.times, a.top))
    finally:
        psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


if __name__ == "__main__":
    main()
