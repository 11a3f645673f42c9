"""Two API processes on one PostgreSQL + Redis (issue 13, "How to prove it").

The `apis` fixture starts **two uvicorn processes** of `app.main:app` on ports of 18100–18199, with the settings
the suite runs with (tests/conftest.py puts them in the environment: the same SECRET_KEY, DATABASE_URL and
REDIS_URL from TEST_DATABASE_URL / TEST_REDIS_URL, `SMS_BACKEND=file` writing the outbox the tests read, light
argon2, `WORKER_IN_PROCESS=false`), waits for `/healthz`, hands out one `httpx.AsyncClient` per process, and
stops them at the end. The module is skipped unless TEST_DATABASE_URL and TEST_REDIS_URL are set: the
guarantees it proves are PostgreSQL's and a shared Redis's.

**Contract for the scale test.** When `SCALE_API_URLS` is set (comma-separated base URLs ending in `/api/v1`,
e.g. `http://127.0.0.1:8080/api/v1,http://127.0.0.1:8080/api/v1` for one nginx in front of several processes),
no process is started: the tests run against those URLs, and read SMS codes from the JSON-lines outbox at
`SCALE_SMS_OUTBOX`. Those servers must share the suite's database and Redis (TEST_DATABASE_URL, TEST_REDIS_URL:
the tests arrange data directly) and its SECRET_KEY (they mint tokens), and run with `SMS_BACKEND=file`; their
SMS limits per IP and global should be as high as the suite's (SMS_IP_PER_HOUR, SMS_GLOBAL_PER_HOUR).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import ROOT, get_settings

SHARED = bool(os.environ.get("TEST_DATABASE_URL") and os.environ.get("TEST_REDIS_URL"))
needs_shared_services = pytest.mark.skipif(
    not SHARED, reason="two API processes need a shared PostgreSQL and Redis (TEST_DATABASE_URL, TEST_REDIS_URL)"
)
PORTS = range(18101, 18200)
UVICORN = [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--no-access-log"]
UVICORN += ["--log-level", "warning"]


def _free_ports(n: int) -> list[int]:
    found = []
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == n:
            return found
    raise RuntimeError("no free ports in 18101-18199")


def _wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"API process on {url} exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"API process on {url} did not become healthy")


@dataclass
class Apis:
    urls: list[str]  # base URLs ending in /api/v1
    outbox_path: Path

    def outbox(self) -> list[dict[str, Any]]:
        if not self.outbox_path.exists():
            return []
        lines = self.outbox_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def sent_to(self, phone: str) -> list[dict[str, Any]]:
        return [m for m in self.outbox() if m["phone"] == phone]

    def last_code(self, phone: str) -> str:
        import re

        msgs = self.sent_to(phone)
        assert msgs, f"no SMS to {phone}"
        codes = re.findall(r"(?<!\d)(\d{6})(?!\d)", msgs[-1]["text"])
        assert len(codes) == 1
        return str(codes[0])


@pytest.fixture(scope="session")
def apis(app: Any) -> Iterator[Apis]:  # `app`: the database is migrated and the regions are loaded
    scale = os.environ.get("SCALE_API_URLS", "").strip()
    if scale:
        outbox = os.environ.get("SCALE_SMS_OUTBOX")
        if not outbox:
            pytest.fail("SCALE_API_URLS needs SCALE_SMS_OUTBOX (the outbox file those servers write)")
        urls = [u.strip().rstrip("/") for u in scale.split(",") if u.strip()]
        for u in urls:
            _wait_healthy(u.removesuffix("/api/v1"), None)
        yield Apis(urls, Path(outbox))
        return
    env = {**os.environ, "LOG_LEVEL": "WARNING", "PYTHONDONTWRITEBYTECODE": "1"}
    procs: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for port in _free_ports(2):
            proc = subprocess.Popen(
                [*UVICORN, "--port", str(port)],
                cwd=ROOT,
                env=env,
            )
            procs.append(proc)
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=True):
            _wait_healthy(url, proc)
        yield Apis([f"{u}/api/v1" for u in urls], Path(get_settings().sms_outbox_path))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture
async def clients(apis: Apis) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One client per API process (A, B)."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    cs = [httpx.AsyncClient(base_url=u, timeout=60, limits=limits) for u in apis.urls]
    try:
        yield cs
    finally:
        await asyncio.gather(*[c.aclose() for c in cs])


def spread(clients: list[httpx.AsyncClient], i: int) -> httpx.AsyncClient:
    """Request i goes to process i mod n: every race runs across all of them."""
    return clients[i % len(clients)]
