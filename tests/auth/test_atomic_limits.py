"""Limits under concurrency (issue 13 items 2–4): checking and counting are one atomic step, and a sliding
window never resets at a clock boundary. (The same races across two API processes: tests/multiprocess.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.core import ratelimit
from app.core.errors import RateLimited
from tests.auth.test_passwords_and_staff import PASSWORD, login, make_staff
from tests.builders.auth import last_code, outbox, send
from tests.factories import Factory, unique_phone


def wrong(code: str, i: int = 1) -> str:
    return f"{(int(code) + i) % 1_000_000:06d}"


async def test_parallel_wrong_guesses_are_checked_at_most_five_times(client: httpx.AsyncClient) -> None:
    phone = unique_phone()
    assert (await send(client, phone)).status_code == 202
    code = last_code(phone)
    rs = await asyncio.gather(
        *[client.post("/auth/sessions", json={"phone": phone, "code": wrong(code, i + 1)}) for i in range(40)]
    )
    invalid = [r.json()["attempts_left"] for r in rs if r.json()["code"] == "otp_invalid"]
    assert sorted(invalid) == [0, 1, 2, 3, 4]
    assert all(r.status_code == 400 for r in rs)
    assert {r.json()["code"] for r in rs} == {"otp_invalid", "otp_expired"}
    r = await client.post("/auth/sessions", json={"phone": phone, "code": code})
    assert r.status_code == 400 and r.json()["code"] == "otp_expired"


async def test_the_right_code_among_parallel_guesses_wins_only_within_five(client: httpx.AsyncClient) -> None:
    phone = unique_phone()
    await send(client, phone)
    code = last_code(phone)
    bodies = [{"phone": phone, "code": wrong(code, i + 1)} for i in range(30)]
    bodies.insert(15, {"phone": phone, "code": code})
    rs = await asyncio.gather(*[client.post("/auth/sessions", json=b) for b in bodies])
    right = rs[15]
    others = [r for i, r in enumerate(rs) if i != 15]
    invalid = sorted(r.json()["attempts_left"] for r in others if r.json()["code"] == "otp_invalid")
    # Every answer is one of: the single login, at most five counted wrong guesses, or a dead code.
    assert all(r.status_code == 400 for r in others)
    if right.status_code == 200:
        assert len(invalid) <= 4  # it was checked before a fifth wrong one, and the code died with it
    else:
        assert right.json()["code"] == "otp_expired"
        assert invalid == [0, 1, 2, 3, 4]  # it was refused only because five wrong ones came first


async def test_parallel_sends_for_one_phone_send_one_sms(client: httpx.AsyncClient) -> None:
    phone = unique_phone()
    rs = await asyncio.gather(*[send(client, phone) for _ in range(10)])
    assert sorted(r.status_code for r in rs) == [202] + [429] * 9
    assert all(r.json()["code"] == "rate_limited" for r in rs if r.status_code == 429)
    assert len([m for m in outbox() if m["phone"] == phone]) == 1


async def test_parallel_wrong_passwords_check_at_most_the_limit(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await make_staff(factory)
    name = user.username or ""
    rs = await asyncio.gather(*[login(client, name, f"wrong-password-{i}") for i in range(30)])
    codes = sorted(r.status_code for r in rs)
    assert codes == [401] * 10 + [429] * 20, codes
    assert (await login(client, name, PASSWORD)).status_code == 429


async def test_parallel_failed_links_count_at_most_the_limit(client: httpx.AsyncClient, factory: Factory) -> None:
    from tests.auth.test_me import farmer, household

    _h, rid = await household(factory, name="钱七")
    _, headers = await farmer(client)
    rs = await asyncio.gather(
        *[client.patch("/me", json={"real_name": f"错名{i}", "id_number": rid}, headers=headers) for i in range(12)]
    )
    assert sorted(r.status_code for r in rs) == [200] * 5 + [429] * 7
    r = await client.patch("/me", json={"real_name": "钱七", "id_number": rid}, headers=headers)
    assert r.status_code == 429


async def test_a_refused_budget_takes_back_the_phone_reservation(
    client: httpx.AsyncClient, redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.config import get_settings

    used = int(await redis.zcard("rl:{sms:global}:n:3600"))
    monkeypatch.setattr(get_settings(), "sms_global_per_hour", used)  # full
    phone = unique_phone()
    r = await send(client, phone)
    assert r.status_code == 429
    assert r.json()["detail"] == "短信服务繁忙，请稍后再试"
    monkeypatch.setattr(get_settings(), "sms_global_per_hour", used + 10)
    # The refused send neither started the phone's interval nor used its hourly count.
    assert (await send(client, phone)).status_code == 202


# --- the sliding window, with a controlled clock ---------------------------------------------------------


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """`time.time()` for the limiter: ten seconds before a 15-minute boundary of the real clock."""
    real = time.time()
    c = Clock((real // 900 + 1) * 900 - 10)
    monkeypatch.setattr(time, "time", c)
    yield c


async def test_failures_straddling_a_window_boundary_still_lock(redis: Any, clock: Clock) -> None:
    key = f"test-straddle:{uuid.uuid4().hex}"
    for _ in range(5):  # 5 s before the boundary ...
        await ratelimit.hit(redis, key, 10, 900)
        clock.now += 1
    clock.now += 6
    for _ in range(5):  # ... and 5 s after it
        await ratelimit.hit(redis, key, 10, 900)
        clock.now += 1
    with pytest.raises(RateLimited) as refused:
        await ratelimit.hit(redis, key, 10, 900)
    # Room again when the first failure leaves the window: 900 s after it.
    assert refused.value.retry_after == 900 - 16


async def test_the_window_slides(redis: Any, clock: Clock) -> None:
    key = f"test-slide:{uuid.uuid4().hex}"
    await ratelimit.hit(redis, key, 2, 60)
    clock.now += 30
    await ratelimit.hit(redis, key, 2, 60)
    clock.now += 29
    with pytest.raises(RateLimited) as refused:
        await ratelimit.hit(redis, key, 2, 60)
    assert refused.value.retry_after == 1
    clock.now += 1  # the first event is now 60 s old: out of the window
    await ratelimit.hit(redis, key, 2, 60)
    with pytest.raises(RateLimited) as refused:
        await ratelimit.hit(redis, key, 2, 60)
    assert refused.value.retry_after == 30


async def test_a_refused_event_is_not_counted_and_a_refund_gives_room(redis: Any, clock: Clock) -> None:
    tag = f"test-refund:{uuid.uuid4().hex}"
    rules = [ratelimit.Rule("a", 1, 60), ratelimit.Rule("b", 3, 3600)]
    first = await ratelimit.reserve(redis, tag, rules)
    with pytest.raises(RateLimited):
        await ratelimit.reserve(redis, tag, rules)  # "a" is full: nothing counted in "b" either
    await ratelimit.refund(redis, first)
    await ratelimit.reserve(redis, tag, rules)
    for _ in range(2):
        clock.now += 61
        await ratelimit.reserve(redis, tag, rules)
    clock.now += 61
    with pytest.raises(RateLimited) as refused:
        await ratelimit.reserve(redis, tag, rules)  # three in "b" within the hour (the refunded one not among them)
    assert refused.value.retry_after == 3600 - 183


async def test_ten_failed_sign_ins_across_a_boundary_lock_the_account(
    client: httpx.AsyncClient, factory: Factory, clock: Clock
) -> None:
    user = await make_staff(factory)
    name = user.username or ""
    for _ in range(10):
        assert (await login(client, name, "wrong-password-123")).status_code == 401
        clock.now += 2  # from 10 s before a 15-minute boundary to 10 s after it
    r = await login(client, name, PASSWORD)
    assert r.status_code == 429
