"""The SQL and Redis commands one request of each hot path issues, from the app itself (one-off, not a load run).

Runs the app in-process (its lifespan, the real PostgreSQL and Redis of the bench run) through httpx's ASGI
transport, sends one warm-up request and then one traced request per hot path, and prints every statement the
engine sent (a `before_cursor_execute` listener) and every Redis command (a wrapper around the client's
`execute_command` and pipelines). This is what `bench/lean.py` is compared with.

    DATABASE_URL=... REDIS_URL=... BENCH_VAR=bench/var/cpu .venv/bin/python -m bench.sqltrace [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

VAR = Path(os.environ.get("BENCH_VAR") or Path(__file__).resolve().parent / "var")


def requests(name: str) -> list[list[str]]:
    return [ln.split("\t") for ln in (VAR / "req" / f"{name}.tsv").read_text(encoding="utf-8").splitlines() if ln]


@asynccontextmanager
async def traced_app() -> Any:
    from sqlalchemy import event

    from app.main import create_app

    app = create_app(start_worker=False)
    log: list[str] = []
    async with app.router.lifespan_context(app):

        def on_sql(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
            log.append("SQL   " + re.sub(r"\s+", " ", statement).strip())

        event.listen(app.state.db.engine.sync_engine, "before_cursor_execute", on_sql)
        redis = app.state.redis
        original = redis.execute_command

        async def traced_command(*args: Any, **kw: Any) -> Any:
            log.append("REDIS " + " ".join(str(a) for a in args[:2]))
            return await original(*args, **kw)

        redis.execute_command = traced_command
        original_pipeline = redis.pipeline

        def traced_pipeline(*args: Any, **kw: Any) -> Any:
            pipe = original_pipeline(*args, **kw)
            run = pipe.execute

            async def execute(*a: Any, **k: Any) -> Any:
                log.append("REDIS pipeline " + ", ".join(str(c[0][0]) for c in pipe.command_stack))
                return await run(*a, **k)

            pipe.execute = execute
            return pipe

        redis.pipeline = traced_pipeline
        yield app, log


async def main() -> dict[str, Any]:
    import httpx

    report: dict[str, Any] = {}
    async with traced_app() as (app, log):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            plans = {
                "drawdown": ("drawdowns", -1, -2),  # the last farmers of the list (the cpu runs use the first)
                "me_credit": ("me_credit", -1, -2),
                "bank_demands": ("bank_demands", 0, 1),
                "coverage": ("coverage", 0, 0),
            }
            for name, (file, traced, warm) in plans.items():
                reqs = requests(file)
                for i, record in ((warm, False), (traced, True)):
                    method, path, token, body = reqs[i]
                    headers = {"Authorization": f"Bearer {token}"} if token != "-" else {}
                    if method == "POST":
                        headers["Idempotency-Key"] = os.urandom(8).hex()
                        headers["Content-Type"] = "application/json"
                    log.clear()
                    r = await client.request(method, path, headers=headers, content=None if body == "-" else body)
                    if record:
                        report[name] = {"status": r.status_code, "bytes": len(r.content), "calls": list(log)}
    return report


def show(report: dict[str, Any], out: str | None) -> None:
    for name, r in report.items():
        sql = [c for c in r["calls"] if c.startswith("SQL")]
        red = [c for c in r["calls"] if c.startswith("REDIS")]
        print(f"== {name}: HTTP {r['status']}, {r['bytes']} bytes, {len(sql)} SQL statements, {len(red)} Redis calls")
        for c in r["calls"]:
            print("  " + (c if len(c) < 400 else c[:400] + " …"))
    if out:
        Path(out).write_text(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    args = ap.parse_args()
    show(asyncio.run(main()), args.out)
