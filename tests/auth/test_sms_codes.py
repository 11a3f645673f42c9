"""SMS codes: sending limits, single use, purpose binding, tries, resend, no enumeration."""

from __future__ import annotations

import time

import httpx
import pytest

from app.core.config import get_settings
from tests.builders.auth import bearer, last_code, outbox, send, sms_login
from tests.factories import Factory, unique_phone


async def test_code_is_sent_to_the_outbox_in_e164_with_signature(client: httpx.AsyncClient) -> None:
    phone = unique_phone()
    r = await send(client, phone[3:])  # accepted without +86
    assert r.status_code == 202
    assert r.json() == {"expires_in": 300, "resend_after": 60}
    msg = [m for m in outbox() if m["phone"] == phone][-1]
    assert msg["text"].startswith("【普惠通】")
    assert set(msg) == {"phone", "text", "sent_at"}
    assert len(last_code(phone)) == 6


async def test_same_answer_for_known_and_unknown_phone(client: httpx.AsyncClient, factory: Factory) -> None:
    known = await factory.user("farmer")
    assert known.phone
    a = await send(client, known.phone)
    b = await send(client, unique_phone())
    assert a.status_code == b.status_code == 202
    assert a.json() == b.json()


@pytest.mark.parametrize("phone", ["12912345678", "1391234567", "abc", "+4413912345678"])
async def test_bad_phone_is_422(client: httpx.AsyncClient, phone: str) -> None:
    r = await send(client, phone)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "phone"


async def test_unknown_purpose_is_422(client: httpx.AsyncClient) -> None:
    r = await send(client, unique_phone(), purpose="consent")
    assert r.status_code == 422


async def test_one_per_minute_per_purpose(client: httpx.AsyncClient) -> None:
    phone = unique_phone()
    assert (await send(client, phone)).status_code == 202
    r = await send(client, phone)
    assert r.status_code == 429
    assert r.json()["code"] == "rate_limited"
    assert 0 < int(r.headers["Retry-After"]) <= 60


async def test_five_per_hour_across_purposes(client: httpx.AsyncClient, factory: Factory, no_interval: None) -> None:
    user = await factory.user("farmer")
    assert user.phone
    headers = factory.headers(user)
    for purpose in ("login", "step_up", "login", "step_up", "login"):
        assert (await send(client, user.phone, purpose, headers=headers)).status_code == 202
    r = await send(client, user.phone, "step_up", headers=headers)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0


async def test_ten_per_day(client: httpx.AsyncClient, no_interval: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "sms_phone_per_hour", 1000)
    phone = unique_phone()
    for _ in range(10):
        assert (await send(client, phone)).status_code == 202
    r = await send(client, phone)
    assert r.status_code == 429
    assert "Retry-After" in r.headers


async def test_per_ip_limit_through_trusted_proxy(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "sms_ip_per_hour", 3)
    ip = f"10.{int(time.time()) % 250}.{id(monkeypatch) % 250}.7"
    hdr = {"X-Forwarded-For": ip}
    for _ in range(3):
        assert (await send(client, unique_phone(), headers=hdr)).status_code == 202
    r = await send(client, unique_phone(), headers=hdr)
    assert r.status_code == 429
    # Another address is not affected.
    assert (await send(client, unique_phone(), headers={"X-Forwarded-For": "10.254.254.1"})).status_code == 202


async def test_global_budget(client: httpx.AsyncClient, redis: object, monkeypatch: pytest.MonkeyPatch) -> None:
    used = int(await redis.zcard("rl:{sms:global}:n:3600"))  # type: ignore[attr-defined]
    monkeypatch.setattr(get_settings(), "sms_global_per_hour", used + 1)
    assert (await send(client, unique_phone())).status_code == 202
    r = await send(client, unique_phone())
    assert r.status_code == 429


async def test_code_logs_in_once(client: httpx.AsyncClient) -> None:
    phone = unique_phone()
    await send(client, phone)
    code = last_code(phone)
    r = await client.post("/auth/sessions", json={"phone": phone, "code": code})
    assert r.status_code == 200
    again = await client.post("/auth/sessions", json={"phone": phone, "code": code})
    assert again.status_code == 400
    assert again.json()["code"] == "otp_expired"


async def test_never_sent_is_expired(client: httpx.AsyncClient) -> None:
    r = await client.post("/auth/sessions", json={"phone": unique_phone(), "code": "123456"})
    assert r.status_code == 400
    assert r.json()["code"] == "otp_expired"


async def test_expired_code(client: httpx.AsyncClient, redis: object) -> None:
    phone = unique_phone()
    await send(client, phone)
    await redis.delete(f"otp:{{login:{phone}}}")  # type: ignore[attr-defined]  # what the 300 s TTL does
    r = await client.post("/auth/sessions", json={"phone": phone, "code": last_code(phone)})
    assert r.json()["code"] == "otp_expired"


async def test_code_ttl_is_300_seconds(client: httpx.AsyncClient, redis: object) -> None:
    phone = unique_phone()
    await send(client, phone)
    ttl = await redis.ttl(f"otp:{{login:{phone}}}")  # type: ignore[attr-defined]
    assert 290 < ttl <= 300


async def test_five_wrong_tries_kill_the_code(client: httpx.AsyncClient) -> None:
    phone = unique_phone()
    await send(client, phone)
    code = last_code(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    lefts = []
    for _ in range(5):
        r = await client.post("/auth/sessions", json={"phone": phone, "code": wrong})
        assert r.status_code == 400
        assert r.json()["code"] == "otp_invalid"
        lefts.append(r.json()["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    r = await client.post("/auth/sessions", json={"phone": phone, "code": code})
    assert r.json()["code"] == "otp_expired"


async def test_resend_kills_the_older_code(client: httpx.AsyncClient, no_interval: None) -> None:
    phone = unique_phone()
    await send(client, phone)
    first = last_code(phone)
    await send(client, phone)
    second = last_code(phone)
    if first == second:
        pytest.skip("the two random codes collided")
    r = await client.post("/auth/sessions", json={"phone": phone, "code": first})
    assert r.json()["code"] == "otp_expired"
    r = await client.post("/auth/sessions", json={"phone": phone, "code": second})
    assert r.status_code == 200


async def test_codes_are_stored_only_hashed(client: httpx.AsyncClient, redis: object) -> None:
    phone = unique_phone()
    await send(client, phone)
    code = last_code(phone)
    stored = await redis.hgetall(f"otp:{{login:{phone}}}")  # type: ignore[attr-defined]
    assert code not in str(stored)
    assert len(stored["h"]) == 64


async def test_step_up_code_needs_the_phone_owner(client: httpx.AsyncClient, factory: Factory) -> None:
    phone = unique_phone()
    assert (await send(client, phone, "step_up")).status_code == 403  # no session
    other = await factory.user("farmer")
    r = await send(client, phone, "step_up", headers=factory.headers(other))
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    r = await send(client, phone, "step_up", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401


async def test_purposes_do_not_cross(client: httpx.AsyncClient, no_interval: None) -> None:
    phone = unique_phone()
    tokens = await sms_login(client, phone)
    headers = bearer(tokens)
    # A login code does not step up...
    await send(client, phone, "login")
    r = await client.post("/auth/step-up", json={"code": last_code(phone)}, headers=headers)
    assert r.status_code == 400
    # ...and a step-up code does not log in.
    await send(client, phone, "step_up", headers=headers)
    step_code = last_code(phone)
    r = await client.post("/auth/sessions", json={"phone": phone, "code": step_code})
    assert r.status_code == 400
    r = await client.post("/auth/step-up", json={"code": step_code}, headers=headers)
    assert r.status_code == 200
    assert r.json() == {"step_up_expires_in": 300}
