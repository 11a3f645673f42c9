"""Where one hot path's CPU goes: cProfile over N requests of it, in-process (one-off, not a load run).

Runs the app in-process (its lifespan, the real PostgreSQL and Redis of a `run.sh cpu` city) through httpx's ASGI
transport, sends a few warm-up requests and then profiles `--n` requests of the request file `--path` (cycling
through its lines), and prints the functions with the most own time and the most cumulative time, and the CPU ms
per request of the process (the profiler's overhead included: compare runs with each other, not with the bench)
and a digest of the GET answers' bodies (the same requests in the same order: a change that keeps the answers
keeps the digest).

    BENCH_VAR=bench/var/cpu DATABASE_URL=postgresql://postgres@127.0.0.1/puhuitong_<name>_cpu \
    REDIS_URL=redis://127.0.0.1:6380/<db> APP_ENV=dev .venv/bin/python -m bench.profile --path bank_demands
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import pstats
import time
from typing import Any

from bench.sqltrace import requests


async def run(path: str, n: int, warm: int, profile: bool) -> tuple[cProfile.Profile | None, float, int, str]:
    import httpx

    from app.main import create_app

    app = create_app(start_worker=False)
    reqs = requests(path)
    prof = cProfile.Profile() if profile else None
    digest = hashlib.sha256()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):

        async def one(i: int) -> int:
            method, url, token, body = reqs[i % len(reqs)]
            headers = {"Authorization": f"Bearer {token}"} if token != "-" else {}
            r = await client.request(method, url, headers=headers, content=None if body == "-" else body)
            if method == "GET":
                digest.update(r.content)
            return len(r.content)

        for i in range(warm):
            await one(i)
        size = 0
        cpu = time.process_time()
        if prof is not None:
            prof.enable()
        for i in range(n):
            size += await one(warm + i)
        if prof is not None:
            prof.disable()
        cpu = time.process_time() - cpu
    return prof, cpu * 1000 / n, size // n, digest.hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", default="bank_demands", help="a request file of BENCH_VAR/req (without .tsv)")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--warm", type=int, default=20)
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--no-profile", action="store_true", help="only the CPU ms per request, without the profiler")
    a = ap.parse_args()
    prof, ms, size, digest = asyncio.run(run(a.path, a.n, a.warm, not a.no_profile))
    print(f"{a.path}: {a.n} requests, {ms:.2f} CPU ms/request (whole process), {size} bytes/response, sha256 {digest}")
    if prof is None:
        return
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        stats: Any = pstats.Stats(prof, stream=out)
        stats.sort_stats(key).print_stats(a.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
