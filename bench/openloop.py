"""An open-loop HTTP/1.1 load generator: requests are scheduled at a fixed rate and each latency is measured
from its *scheduled* send time, so a stalled server shows up in the tail instead of slowing the generator down
(no coordinated omission, as wrk2 does it). Keep-alive connections are reused; a new one is opened when all
are busy (up to --max-conns; past that the request waits, and the wait counts in its latency).

    python -m bench.openloop --url http://127.0.0.1:8000 --requests bench/var/req/products.tsv --rate 300 --duration 30

A request file has one request per line: METHOD<TAB>PATH<TAB>TOKEN-or-"-"<TAB>BODY-or-"-".
`{uuid}` in a body or header is replaced by a fresh UUID (Idempotency-Keys).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit


def load_requests(path: str, host: str) -> list[tuple[str, bool]]:
    out = []
    with open(path, encoding="utf-8") as fh:
        lines = [ln.rstrip("\n") for ln in fh]
    for line in lines:
        if not line:
            continue
        method, target, token, body = line.split("\t")
        headers = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Accept: application/json"]
        if token != "-":
            headers.append(f"Authorization: Bearer {token}")
        b = "" if body == "-" else body
        if method == "POST":
            headers.append("Idempotency-Key: {uuid}")
            headers.append("Content-Type: application/json")
            headers.append(f"Content-Length: {len(b.encode())}")
        raw = "\r\n".join(headers) + "\r\n\r\n" + b
        out.append((raw, "{uuid}" in raw))
    return out


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def roundtrip(self, data: bytes) -> int:
        self.writer.write(data)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        chunked = False
        for h in lines[1:]:
            k, _, v = h.partition(":")
            k = k.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "transfer-encoding" and "chunked" in v.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        return status


async def run(url: str, reqs: list[tuple[str, bool]], rate: float, duration: float, max_conns: int) -> dict:
    u = urlsplit(url)
    host, port = u.hostname or "127.0.0.1", u.port or 80
    idle: list[Conn] = []
    opened = 0
    cond = asyncio.Condition()
    lat: list[float] = []
    codes: Counter[int] = Counter()
    errors = 0

    async def get_conn() -> Conn:
        nonlocal opened
        async with cond:
            while not idle and opened >= max_conns:
                await cond.wait()
            if idle:
                return idle.pop()
            opened += 1
        r, w = await asyncio.open_connection(host, port)
        return Conn(r, w)

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors, opened
        raw, templ = reqs[i % len(reqs)]
        if templ:
            raw = raw.replace("{uuid}", uuid.uuid4().hex)
        conn = await get_conn()
        try:
            status = await conn.roundtrip(raw.encode())
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            conn.writer.close()
            async with cond:
                opened -= 1
                cond.notify()
            return
        lat.append(time.perf_counter() - scheduled)
        codes[status] += 1
        async with cond:
            idle.append(conn)
            cond.notify()

    tasks = []
    start = time.perf_counter() + 0.05
    n = int(rate * duration)
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    lat.sort()

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else float("nan")

    return {
        "target_rate": rate,
        "sent": n,
        "completed": len(lat),
        "achieved_rate": round(len(lat) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(lat[-1] * 1000, 2) if lat else None,
        "codes": dict(codes),
        "errors": errors,
        "connections": opened,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--requests", required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--max-conns", type=int, default=256)
    a = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    host = urlsplit(a.url).netloc
    print(json.dumps(asyncio.run(run(a.url, load_requests(a.requests, host), a.rate, a.duration, a.max_conns))))


if __name__ == "__main__":
    main()
