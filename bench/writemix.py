"""How far one PostgreSQL primary goes: the real write mix through the real app, and what it costs the primary.

    .venv/bin/python -m bench.writemix [--seconds 30] [--concurrency 16] [--db puhuitong_writemix]

Creates (and drops afterwards) its own database on 127.0.0.1:5432, migrates it, seeds the regions, and drives
the app in-process (ASGI, no HTTP server, so no proxy cost) with `--concurrency` virtual users, each looping
over the write mix of a working day: farmer logins by SMS code (30 %), draw-down submit → approve → disburse
(25 %, three transactions), repayments recorded by the bank (25 %), demands posted and withdrawn (20 %, two).

Measured over the window: write requests per second (2xx only; others are counted apart), the database's
commits per second (pg_stat_database.xact_commit), the CPU seconds PostgreSQL's backends serving this database
spent (/proc/<pid>/stat of pg_stat_activity's pids), the app's own CPU seconds, WAL bytes written by the
server (pg_current_wal_lsn: the whole server, so an upper bound on a shared machine) and load1 before and
after. From them: PostgreSQL CPU per write request, and the write rate one primary core would carry if the app
ran elsewhere (1 / that). Prints one JSON object (docs/scaling.md quotes a run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-Atqc", sql],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def configure(db: str, redis_url: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="writemix-"))
    os.environ.update(
        {
            "APP_ENV": "test",
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{db}",
            "REDIS_URL": redis_url,
            "SECRET_KEY": "writemix-secret-key-0123456789abcdef012345",
            "SMS_BACKEND": "console",
            "MEDIA_ROOT": str(tmp / "media"),
            "WORKER_IN_PROCESS": "false",
            "LOG_LEVEL": "ERROR",
            # The argon2 cost belongs to staff logins, which the mix does not contain.
            "ARGON2_MEMORY_KIB": "1024",
            "ARGON2_TIME_COST": "1",
            "ARGON2_PARALLELISM": "1",
            # Per-account and per-IP daily caps would stop a bench long before the database does.
            "DRAWDOWNS_PER_DAY": "1000000",
            "DEMANDS_PER_DAY": "1000000",
            "SMS_PHONE_INTERVAL_SECONDS": "0",
            "SMS_PHONE_PER_HOUR": "1000000",
            "SMS_PHONE_PER_DAY": "1000000",
            "SMS_IP_PER_HOUR": "100000000",
            "SMS_GLOBAL_PER_HOUR": "100000000",
            "DB_POOL_SIZE": "20",
            "DB_MAX_OVERFLOW": "10",
        }
    )


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICK


def lsn(value: str) -> int:
    hi, lo = value.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    from alembic.config import Config

    from alembic import command
    from app.auth import otp
    from app.core.config import ROOT, get_settings
    from app.main import create_app
    from app.seed import seed_regions
    from tests.demands.conftest import Demands, demand_body
    from tests.drawdowns.conftest import Borrower, Lending
    from tests.factories import Factory

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["skip_logging"] = True
    await asyncio.to_thread(command.upgrade, cfg, "head")
    otp.new_code = lambda: "246810"  # type: ignore[assignment] # the bench knows every code it sends

    app = create_app(get_settings(), start_worker=False)
    async with app.router.lifespan_context(app):
        await app.state.redis.flushdb()
        async with app.state.db.sessionmaker() as s:
            await seed_regions(s)
            await s.commit()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench/api/v1") as client:
            factory = Factory(app)
            lending, demands = Lending(factory, client), Demands(factory, client)
            borrowers: list[Borrower] = []
            farmers = []
            for _ in range(args.concurrency):
                b = await lending.borrower(limit_fen=100_000_000_000 // 1000)
                borrowers.append(b)
                farmers.append(await demands.farmer(village=b.village, stars=5))
            ok: Counter[str] = Counter()
            bad: Counter[str] = Counter()
            loans: list[list[str]] = [[] for _ in borrowers]

            def count(kind: str, r: httpx.Response) -> bool:
                (ok if r.status_code < 300 else bad)[kind if r.status_code < 300 else f"{kind}:{r.status_code}"] += 1
                return r.status_code < 300

            async def login() -> None:
                phone = f"+86135{random.randrange(10**8):08d}"
                r = await client.post("/auth/sms-codes", json={"phone": phone, "purpose": "login"})
                if count("sms_code", r):
                    count("login", await client.post("/auth/sessions", json={"phone": phone, "code": "246810"}))

            async def drawdown(i: int) -> None:
                b = borrowers[i]
                r = await lending.submit(b, 100_000, 12)
                if not count("drawdown_submit", r):
                    return
                dd = r.json()["id"]
                if not count("drawdown_approve", await lending.act(b, dd, "approve", {"annual_rate_bp": 600})):
                    return
                if count("drawdown_disburse", await lending.act(b, dd, "disburse", {})):
                    loans[i].append(dd)

            async def repayment(i: int) -> None:
                if not loans[i]:
                    return await drawdown(i)
                r = await lending.repay(borrowers[i], loans[i][-1], 100)
                count("repayment", r)
                if r.status_code == 422:  # repaid in full
                    loans[i].pop()

            async def demand(i: int) -> None:
                f = farmers[i]
                headers = {**f.headers, "Idempotency-Key": uuid.uuid4().hex}
                r = await client.post("/me/demands", json=demand_body(), headers=headers)
                if count("demand_post", r):
                    w = await client.post(f"/me/demands/{r.json()['id']}/withdraw", headers=f.headers)
                    count("demand_withdraw", w)

            async def user(i: int, until: float) -> None:
                rnd = random.Random(i)
                while time.monotonic() < until:
                    x = rnd.random()
                    if x < 0.30:
                        await login()
                    elif x < 0.55:
                        await drawdown(i)
                    elif x < 0.80:
                        await repayment(i)
                    else:
                        await demand(i)

            # warm-up (pool connections, statement caches), then the measured window
            await asyncio.gather(*(user(i, time.monotonic() + 3) for i in range(args.concurrency)))
            ok.clear()
            bad.clear()
            pids = [int(p) for p in psql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{args.db}'").split()]
            commits0 = int(psql(f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{args.db}'"))
            wal0 = lsn(psql("SELECT pg_current_wal_lsn()"))
            load0 = os.getloadavg()[0]
            pg0, app0, t0 = cpu_seconds(pids), time.process_time(), time.monotonic()
            await asyncio.gather(*(user(i, t0 + args.seconds) for i in range(args.concurrency)))
            elapsed = time.monotonic() - t0
            pg_cpu, app_cpu = cpu_seconds(pids) - pg0, time.process_time() - app0
            commits = int(psql(f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{args.db}'")) - commits0
            wal = lsn(psql("SELECT pg_current_wal_lsn()")) - wal0
            load1 = os.getloadavg()[0]
    writes = sum(ok.values())
    return {
        "seconds": round(elapsed, 1),
        "concurrency": args.concurrency,
        "cores": os.cpu_count(),
        "load1_before": load0,
        "load1_after": load1,
        "write_requests_per_s": round(writes / elapsed, 1),
        "by_kind_per_s": {k: round(v / elapsed, 1) for k, v in sorted(ok.items())},
        "refused": dict(bad),
        "db_commits_per_s": round(commits / elapsed, 1),
        "postgres_cpu_s_per_s": round(pg_cpu / elapsed, 3),
        "app_cpu_s_per_s": round(app_cpu / elapsed, 3),
        "postgres_cpu_ms_per_write": round(1000 * pg_cpu / max(writes, 1), 3),
        "app_cpu_ms_per_write": round(1000 * app_cpu / max(writes, 1), 3),
        "wal_bytes_per_write_upper_bound": round(wal / max(writes, 1)),
        "writes_per_s_per_primary_core": round(writes / max(pg_cpu, 1e-9)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--db", default="puhuitong_writemix")
    ap.add_argument("--redis-url", default="memory://writemix")
    args = ap.parse_args()
    psql(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")
    psql(f"CREATE DATABASE {args.db}")
    configure(args.db, args.redis_url)
    try:
        print(json.dumps(asyncio.run(run(args)), ensure_ascii=False, indent=2))
    finally:
        psql(f"DROP DATABASE IF EXISTS {args.db} WITH (FORCE)")


if __name__ == "__main__":
    main()
