"""Cross-process behaviour through real running servers: what must hold when requests of one client land on
different API processes (behind nginx) sharing PostgreSQL (+ replica) and Redis (Cluster), with the workers
running on their own.

Runs only when the servers are given (as .ci/scale.sh does), else skips:
  SCALE_API_URLS         comma-separated base URLs, e.g. http://127.0.0.1:18280/api/v1 (nginx); requests rotate
  SCALE_SMS_OUTBOX       the servers' SMS outbox file (SMS_BACKEND=file)
  SCALE_ADMIN_USERNAME / SCALE_ADMIN_PASSWORD   an admin account on the servers' database
The servers run with the test settings of tests/conftest.py (same SECRET_KEY, light argon2,
WEBHOOK_ALLOW_PRIVATE_URLS=true) and with at least one worker process (`python -m app.cli worker`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders.webhooks import Receiver
from tests.factories import make_uscc

URLS = [u.rstrip("/") for u in os.environ.get("SCALE_API_URLS", "").split(",") if u.strip()]
OUTBOX = os.environ.get("SCALE_SMS_OUTBOX", "")
ADMIN = (os.environ.get("SCALE_ADMIN_USERNAME", ""), os.environ.get("SCALE_ADMIN_PASSWORD", ""))
pytestmark = pytest.mark.skipif(not URLS, reason="needs running servers (SCALE_API_URLS, see .ci/scale.sh)")
PASSWORD = "Correct-Horse-Battery-9"
CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


class Servers:
    """Each request goes to the next base URL (several URLs: several processes; one: the load balancer)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self._next = itertools.cycle(URLS)

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.client.request(method, next(self._next) + path, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, **kw)


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    async with httpx.AsyncClient(timeout=30, trust_env=False) as c:
        yield Servers(c)


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def admin_login(s: Servers) -> dict[str, str]:
    if not all(ADMIN):
        pytest.skip("needs SCALE_ADMIN_USERNAME / SCALE_ADMIN_PASSWORD")
    r = await s.post("/auth/password-sessions", json={"username": ADMIN[0], "password": ADMIN[1]})
    assert r.status_code == 200, r.text
    return bearer(r.json())


def last_code(phone: str) -> str:
    for line in reversed(Path(OUTBOX).read_text(encoding="utf-8").splitlines()):
        msg = json.loads(line)
        if msg["phone"] == phone:
            return str(CODE.findall(msg["text"])[0])
    raise AssertionError(f"no SMS to {phone}")


async def farmer_login(s: Servers) -> tuple[str, dict[str, Any]]:
    if not OUTBOX:
        pytest.skip("needs SCALE_SMS_OUTBOX")
    phone = f"+86137{uuid.uuid4().int % 10**8:08d}"
    r = await s.post("/auth/sms-codes", json={"phone": phone, "purpose": "login"})
    assert r.status_code == 202, r.text
    r = await s.post("/auth/sessions", json={"phone": phone, "code": last_code(phone)})  # the other process
    assert r.status_code == 200, r.text
    return phone, r.json()


async def new_bank(s: Servers, admin: dict[str, str]) -> dict[str, Any]:
    body = {
        "name": f"跨进程银行{uuid.uuid4().hex[:6]}",
        "unified_social_credit_code": make_uscc(),
        "region_code": "4117",
        "county_codes": ["411702"],
        "contact_phone": "0396-1234567",
    }
    r = await s.post("/admin/banks", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_through_the_balancer_every_process_is_ready(servers: Servers) -> None:
    for _ in range(4):
        r = await servers.client.get(URLS[0].rsplit("/api/", 1)[0] + "/readyz")
        assert r.status_code == 200 and r.json()["database"] == "ok" and r.json()["redis"] == "ok", r.text


async def test_a_code_sent_by_one_process_logs_in_on_another_and_logout_revokes_everywhere(servers: Servers) -> None:
    _, tokens = await farmer_login(servers)
    for _ in range(3):
        assert (await servers.get("/me", headers=bearer(tokens))).status_code == 200
    assert (await servers.post("/auth/logout", headers=bearer(tokens))).status_code == 204
    for _ in range(4):  # every process refuses the revoked token
        r = await servers.get("/me", headers=bearer(tokens))
        assert r.status_code == 401 and r.json()["code"] == "token_invalid"


async def test_an_idempotent_replay_lands_on_any_process(servers: Servers) -> None:
    admin = await admin_login(servers)
    key = f"scale-{uuid.uuid4().hex}"
    body = {
        "name": f"幂等银行{uuid.uuid4().hex[:6]}",
        "unified_social_credit_code": make_uscc(),
        "region_code": "4117",
        "county_codes": ["411702"],
        "contact_phone": "0396-1234567",
    }
    first = await servers.post("/admin/banks", json=body, headers={**admin, "Idempotency-Key": key})
    assert first.status_code == 201, first.text
    for _ in range(3):
        again = await servers.post("/admin/banks", json=body, headers={**admin, "Idempotency-Key": key})
        assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
        assert again.headers.get("idempotent-replayed") == "true"
    other = await servers.post("/admin/banks", json={**body, "name": "别的"}, headers={**admin, "Idempotency-Key": key})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


async def test_login_failures_are_counted_across_processes(servers: Servers) -> None:
    username = f"nobody-{uuid.uuid4().hex[:10]}"
    codes = []
    for _ in range(12):
        r = await servers.post("/auth/password-sessions", json={"username": username, "password": "wrong-password-1"})
        codes.append(r.status_code)
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429], codes


async def test_a_write_then_a_read_on_the_replica_path_sees_the_write(servers: Servers) -> None:
    """The coverage table reads a replica; right after its own write the caller is pinned to the primary."""
    admin = await admin_login(servers)
    bank = await new_bank(servers, admin)
    county = await servers.get("/admin/stats/coverage", params={"region": "411702"}, headers=admin)
    assert county.status_code == 200, county.text
    township = next((t["code"] for t in county.json()["items"] if t["villages"] > t["villages_with_station"]), None)
    if township is None:
        pytest.skip("every village of the county already has a station")
    before = await servers.get("/admin/stats/coverage", params={"region": township}, headers=admin)
    assert before.status_code == 200, before.text
    village = next(i["code"] for i in before.json()["items"] if i["villages"] == 1 and not i["villages_with_station"])
    station = {
        "name": "跨进程服务站",
        "village_code": village,
        "address": "村委会",
        "lat": 32.98,
        "lng": 114.02,
        "host_bank_id": bank["id"],
        "manager_name": "李四",
        "phone": "13900002222",
    }
    w = await servers.post("/admin/stations", json=station, headers=admin)
    assert w.status_code == 201, w.text
    after = await servers.get("/admin/stats/coverage", params={"region": township}, headers=admin)
    row = {i["code"]: i for i in after.json()["items"]}[village]
    assert row["villages_with_station"] == 1, "read-your-writes: the caller's next read sees its write"


async def test_the_workers_deliver_a_webhook_once(servers: Servers) -> None:
    admin = await admin_login(servers)
    bank = await new_bank(servers, admin)
    staff = {
        "username": f"s{uuid.uuid4().hex[:12]}",
        "password": PASSWORD,
        "role": "bank_admin",
        "real_name": "王五",
        "phone": "13900001111",
    }
    r = await servers.post(f"/admin/banks/{bank['id']}/staff", json=staff, headers=admin)
    assert r.status_code == 201, r.text
    r = await servers.post("/auth/password-sessions", json={"username": staff["username"], "password": PASSWORD})
    assert r.status_code == 200, r.text
    headers = bearer(r.json())
    rec = Receiver()
    server = await asyncio.start_server(rec.handle, "127.0.0.1", 0)
    rec.port = server.sockets[0].getsockname()[1]
    async with server:
        r = await servers.post("/bank/webhooks", json={"url": rec.url, "events": ["demand.created"]}, headers=headers)
        assert r.status_code == 201, r.text
        wid = r.json()["id"]
        sent = []
        for _ in range(3):
            t = await servers.post(f"/bank/webhooks/{wid}/test", headers=headers)
            assert t.status_code == 202, t.text
            sent.append(t.json()["event_id"])
        log: list[dict[str, Any]] = []
        for _ in range(1200):  # a bound: ends as soon as the three are recorded delivered (workers poll each second)
            log = (await servers.get(f"/bank/webhooks/{wid}/deliveries", headers=headers)).json()["items"]
            if len(log) == 3 and all(d["status"] == "delivered" for d in log):
                break
            await asyncio.sleep(0.05)
        server.close()
    assert sorted(d["event_id"] for d in log) == sorted(sent)
    assert all(d["status"] == "delivered" and d["attempts"] == 1 for d in log), log
    ids = [x.headers["x-puhuitong-event-id"] for x in rec.received]
    assert sorted(ids) == sorted(sent), "each event received exactly once"
