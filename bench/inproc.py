"""CPU and statements per request of `POST /me/drawdowns` and `GET /me/credit`, in-process (one-off).

On a loaded machine the open-loop `run.sh cpu` figures carry queueing and refused requests; this runs the app in
this process behind httpx's ASGI transport (its lifespan, the bench city's PostgreSQL and Redis, as
`bench/floor.py` does), sends the requests one after another after a warm-up, and prints this process's
utime + stime ÷ N (the client's share included: `floor.py` prints a bare ASGI app through the same client, to
subtract) and the SQL statements and Redis calls per request (counted as `bench/sqltrace.py` traces them).
Draw-downs come from farmers not used before in the city (`state.json`, shared with `run.sh cpu`).

    BENCH_VAR=bench/var/cpu DATABASE_URL=postgresql://postgres@127.0.0.1/puhuitong_<name>_cpu \
    REDIS_URL=redis://127.0.0.1:6380/11 APP_ENV=dev DRAWDOWNS_PER_DAY=1000 .venv/bin/python -m bench.inproc [-n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid

from bench.cpu import take_farmers
from bench.floor import cpu
from bench.sqltrace import requests, traced_app


async def main(n: int, warmup: int) -> dict[str, dict[str, float]]:
    import httpx

    out: dict[str, dict[str, float]] = {}
    async with traced_app() as (app, log):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
            rows = requests("drawdowns")
            start, _ = take_farmers(warmup + n, len(rows))
            picked = [rows[(start + i) % len(rows)] for i in range(warmup + n)]
            codes: dict[int, int] = {}
            for i, (_, path, token, body) in enumerate(picked):
                if i == warmup:
                    log.clear()
                    c0 = cpu()
                headers = {
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": uuid.uuid4().hex,
                    "Content-Type": "application/json",
                }
                r = await c.post(path, content=body, headers=headers)
                if i >= warmup:
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1
            out["POST /me/drawdowns"] = figures(cpu() - c0, n, log, codes)
            credit = requests("me_credit")
            codes = {}
            for i in range(warmup + n):
                if i == warmup:
                    log.clear()
                    c0 = cpu()
                _, path, token, *_ = credit[-1 - (i % 200)]
                r = await c.get(path, headers={"Authorization": f"Bearer {token}"})
                if i >= warmup:
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1
            out["GET /me/credit"] = figures(cpu() - c0, n, log, codes)
    return out


def figures(seconds: float, n: int, log: list[str], codes: dict[int, int]) -> dict[str, float]:
    sql = [x for x in log if x.startswith("SQL")]
    return {
        "cpu_ms_per_req": round(seconds * 1000 / n, 2),
        "sql_per_req": round(len(sql) / n, 2),
        "redis_per_req": round((len(log) - len(sql)) / n, 2),
        "codes": codes,  # type: ignore[dict-item]
        "load1": os.getloadavg()[0],
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(main(args.n, args.warmup)), indent=1))
