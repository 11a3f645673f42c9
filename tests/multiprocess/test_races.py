"""The races of issue 13, run across two API processes sharing PostgreSQL and Redis (see conftest.py for the
processes, and for SCALE_API_URLS / SCALE_SMS_OUTBOX, the contract the scale test reuses)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from app.drawdowns.models import Drawdown
from tests.auth.test_passwords_and_staff import PASSWORD, make_staff
from tests.builders.drawdowns import Lending
from tests.builders.multiprocess import Apis, needs_shared_services, spread
from tests.factories import Factory, unique_phone

pytestmark = needs_shared_services

Clients = list[httpx.AsyncClient]


def _wrong(code: str, i: int) -> str:
    return f"{(int(code) + i) % 1_000_000:06d}"


async def _send(c: httpx.AsyncClient, phone: str) -> httpx.Response:
    return await c.post("/auth/sms-codes", json={"phone": phone, "purpose": "login"})


async def _login(apis: Apis, c: httpx.AsyncClient, phone: str) -> dict[str, Any]:
    assert (await _send(c, phone)).status_code == 202
    r = await c.post("/auth/sessions", json={"phone": phone, "code": apis.last_code(phone)})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


# --- one-time codes ----------------------------------------------------------------------------------------


async def test_a_hundred_parallel_guesses_check_at_most_five(apis: Apis, clients: Clients) -> None:
    phone = unique_phone()
    assert (await _send(clients[0], phone)).status_code == 202
    code = apis.last_code(phone)
    bodies = [{"phone": phone, "code": _wrong(code, i + 1)} for i in range(99)]
    right_at = 50
    bodies.insert(right_at, {"phone": phone, "code": code})
    rs = await asyncio.gather(*[spread(clients, i).post("/auth/sessions", json=b) for i, b in enumerate(bodies)])
    right, others = rs[right_at], [r for i, r in enumerate(rs) if i != right_at]
    assert all(r.status_code == 400 for r in others), {r.status_code for r in others}
    invalid = sorted(r.json()["attempts_left"] for r in others if r.json()["code"] == "otp_invalid")
    assert {r.json()["code"] for r in others} <= {"otp_invalid", "otp_expired"}
    if right.status_code == 200:
        assert len(invalid) <= 4  # it was checked before a fifth wrong guess; the code died with its use
    else:
        assert right.json()["code"] == "otp_expired"
        assert invalid == [0, 1, 2, 3, 4]  # refused only because five wrong guesses were checked first
    # Whatever the interleaving, the code is spent now.
    r = await clients[-1].post("/auth/sessions", json={"phone": phone, "code": code})
    assert r.status_code == 400 and r.json()["code"] == "otp_expired"


async def test_a_hundred_wrong_guesses_then_the_right_code(apis: Apis, clients: Clients) -> None:
    phone = unique_phone()
    await _send(clients[-1], phone)
    code = apis.last_code(phone)
    rs = await asyncio.gather(
        *[
            spread(clients, i).post("/auth/sessions", json={"phone": phone, "code": _wrong(code, i + 1)})
            for i in range(100)
        ]
    )
    invalid = sorted(r.json()["attempts_left"] for r in rs if r.json()["code"] == "otp_invalid")
    assert invalid == [0, 1, 2, 3, 4]
    r = await clients[0].post("/auth/sessions", json={"phone": phone, "code": code})
    assert r.status_code == 400 and r.json()["code"] == "otp_expired"


async def _parallel_sends(apis: Apis, clients: Clients, n: int) -> None:
    phone = unique_phone()
    rs = await asyncio.gather(*[_send(spread(clients, i), phone) for i in range(n)])
    assert sorted(r.status_code for r in rs) == [202] + [429] * (n - 1)
    assert all(
        r.json()["code"] == "rate_limited" and int(r.headers["Retry-After"]) > 0 for r in rs if r.status_code == 429
    )
    assert len(apis.sent_to(phone)) == 1  # the outbox proves it


async def test_ten_parallel_sends_send_one_sms(apis: Apis, clients: Clients) -> None:
    await _parallel_sends(apis, clients, 10)


async def test_forty_parallel_sends_send_one_sms(apis: Apis, clients: Clients) -> None:
    await _parallel_sends(apis, clients, 40)


# --- money ---------------------------------------------------------------------------------------------------


async def test_parallel_drawdowns_take_exactly_the_affordable_number(
    clients: Clients, factory: Factory, client: httpx.AsyncClient
) -> None:
    lending = Lending(factory, client)
    limit, amount, n = 100_000, 7_000, 20  # n within the default DRAWDOWNS_PER_DAY
    b = await lending.borrower(limit_fen=limit)
    body = {"amount_fen": amount, "term_months": 12, "purpose": "planting"}
    rs = await asyncio.gather(
        *[
            spread(clients, i).post(
                "/me/drawdowns", json=body, headers={**b.headers, "Idempotency-Key": uuid.uuid4().hex}
            )
            for i in range(n)
        ]
    )
    accepted = [r for r in rs if r.status_code == 201]
    assert len(accepted) == limit // amount, sorted((r.status_code, r.text[:200]) for r in rs)
    assert all(r.status_code == 409 and r.json()["code"] == "limit_exceeded" for r in rs if r.status_code != 201)
    cert = await lending.certificate(b)
    assert cert.pending_fen == sum(r.json()["amount_fen"] for r in accepted) == (limit // amount) * amount
    (rows,) = await lending.all(
        select(func.count()).select_from(Drawdown).where(Drawdown.certificate_id == b.certificate.id)
    )
    assert rows == len(accepted)


async def test_parallel_replays_of_one_key_make_one_drawdown(
    clients: Clients, factory: Factory, client: httpx.AsyncClient
) -> None:
    lending = Lending(factory, client)
    b = await lending.borrower(limit_fen=1_000_000)
    headers = {**b.headers, "Idempotency-Key": f"same-{uuid.uuid4().hex}"}
    body = {"amount_fen": 10_000, "term_months": 12, "purpose": "planting"}
    rs = await asyncio.gather(
        *[spread(clients, i).post("/me/drawdowns", json=body, headers=headers) for i in range(20)]
    )
    assert {r.status_code for r in rs} <= {201, 409}, [r.text for r in rs]
    assert all(r.json()["code"] == "idempotency_key_in_flight" for r in rs if r.status_code == 409)
    ids = {r.json()["id"] for r in rs if r.status_code == 201}
    assert len(ids) == 1
    (rows,) = await lending.all(
        select(func.count()).select_from(Drawdown).where(Drawdown.certificate_id == b.certificate.id)
    )
    assert rows == 1
    assert (await lending.certificate(b)).pending_fen == 10_000
    for c in clients:  # once settled, every process replays the one answer
        again = await c.post("/me/drawdowns", json=body, headers=headers)
        assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json()["id"] in ids


# --- sessions ------------------------------------------------------------------------------------------------


async def test_logout_on_one_process_is_honoured_by_the_other(apis: Apis, clients: Clients) -> None:
    a, b = clients[0], clients[-1]
    tokens = await _login(apis, a, unique_phone())
    assert (await b.get("/me", headers=_bearer(tokens))).status_code == 200
    assert (await a.post("/auth/logout", headers=_bearer(tokens))).status_code == 204
    r = await b.get("/me", headers=_bearer(tokens))
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"
    assert (await b.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).status_code == 401


async def test_revocation_survives_a_redis_flush(apis: Apis, clients: Clients, redis: Any) -> None:
    a, b = clients[0], clients[-1]
    gone = await _login(apis, a, unique_phone())
    live = await _login(apis, b, unique_phone())
    assert (await b.post("/auth/logout", headers=_bearer(gone))).status_code == 204
    await redis.flushdb()  # Redis lost everything: codes, limits, the revocation cache
    rs = await asyncio.gather(*[spread(clients, i).get("/me", headers=_bearer(gone)) for i in range(10)])
    assert {r.status_code for r in rs} == {401}
    rs = await asyncio.gather(*[spread(clients, i).get("/me", headers=_bearer(live)) for i in range(10)])
    assert {r.status_code for r in rs} == {200}
    for c in clients:
        assert (await c.get("/me", headers=_bearer(gone))).status_code == 401


async def test_the_staff_lockout_holds_across_processes(clients: Clients, factory: Factory) -> None:
    user = await make_staff(factory)
    name = user.username or ""
    rs = await asyncio.gather(
        *[
            spread(clients, i).post(
                "/auth/password-sessions", json={"username": name, "password": f"wrong-{i}-password"}
            )
            for i in range(30)
        ]
    )
    assert sorted(r.status_code for r in rs) == [401] * 10 + [429] * 20
    for c in clients:  # even the right password, on either process
        r = await c.post("/auth/password-sessions", json={"username": name, "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
