"""The framework's floor, for scale: CPU per request of a few endpoints, in-process (one-off, not a load run).

The app runs in this process (its lifespan, the bench run's PostgreSQL and Redis) behind httpx's ASGI
transport; each endpoint gets 30 warm-up requests and then N requests one after another, and this process's
utime + stime ÷ N is printed — the client's share included (a bare ASGI app through the same client is
printed too, to subtract).

    DATABASE_URL=... REDIS_URL=... BENCH_VAR=bench/var/cpu .venv/bin/python -m bench.floor [-n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
from typing import Any

from bench.sqltrace import requests


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def main(n: int) -> None:
    import httpx

    from app.main import create_app

    app = create_app(start_worker=False)
    token = requests("me_credit")[0][2]
    cases = [
        ("GET /healthz (no auth, no database)", "/healthz", False),
        ("GET /regions/4117 (public, one read)", "/api/v1/regions/4117", False),
        ("GET /me (farmer token)", "/api/v1/me", True),
        ("GET /me/credit", "/api/v1/me/credit", True),
    ]
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
        for label, path, auth in cases:
            headers = {"Authorization": f"Bearer {token}"} if auth else {}
            for _ in range(30):
                await c.get(path, headers=headers)
            c0 = cpu()
            for _ in range(n):
                r = await c.get(path, headers=headers)
            print(f"{label}: HTTP {r.status_code}, {(cpu() - c0) * 1000 / n:.2f} ms CPU per request")

    async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=bare), base_url="http://bench") as c:
        c0 = cpu()
        for _ in range(n):
            await c.get("/")
        print(f"bare ASGI app through the same client: {(cpu() - c0) * 1000 / n:.2f} ms CPU per request")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=300)
    asyncio.run(main(ap.parse_args().n))
