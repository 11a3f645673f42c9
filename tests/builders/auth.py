"""Helpers for the accounts tests: read codes from the SMS outbox, log in through HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.core.config import get_settings

CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def outbox() -> list[dict[str, Any]]:
    path = Path(get_settings().sms_outbox_path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def last_code(phone: str) -> str:
    for msg in reversed(outbox()):
        if msg["phone"] == phone:
            codes = CODE.findall(msg["text"])
            assert len(codes) == 1, msg
            return str(codes[0])
    raise AssertionError(f"no SMS to {phone}")


@pytest.fixture
def no_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "sms_phone_interval_seconds", 0)


async def send(client: httpx.AsyncClient, phone: str, purpose: str = "login", **kw: Any) -> httpx.Response:
    return await client.post("/auth/sms-codes", json={"phone": phone, "purpose": purpose}, **kw)


async def sms_login(client: httpx.AsyncClient, phone: str) -> dict[str, Any]:
    r = await send(client, phone)
    assert r.status_code == 202, r.text
    r = await client.post("/auth/sessions", json={"phone": phone, "code": last_code(phone)})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def step_up(client: httpx.AsyncClient, phone: str, headers: dict[str, str]) -> None:
    """Confirm the session behind `headers` through HTTP: a step_up code to its phone, then /auth/step-up."""
    assert (await send(client, phone, "step_up", headers=headers)).status_code == 202
    r = await client.post("/auth/step-up", json={"code": last_code(phone)}, headers=headers)
    assert r.status_code == 200, r.text
