"""Access tokens (issue 13 item 11, RFC 8725): `aud` set and verified, numeric `exp`/`iat`, and a token whose
subject is gone answers 401 `token_invalid`, never 404."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from jose import jwt
from sqlalchemy import update

from app.auth.models import User
from app.core.config import get_settings
from app.core.security import _jwt_key
from tests.auth.test_sessions import _claims as sessions_claims
from tests.builders.auth import bearer, sms_login, step_up
from tests.factories import Factory, unique_phone


def _claims(user: User, **over: Any) -> dict[str, Any]:
    return {**sessions_claims(user), **over}


def _sign(claims: dict[str, Any]) -> dict[str, str]:
    token = jwt.encode(claims, _jwt_key(get_settings().secret_key), algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


async def test_issued_tokens_carry_our_audience(client: httpx.AsyncClient) -> None:
    body = await sms_login(client, unique_phone())
    assert jwt.get_unverified_claims(body["access_token"])["aud"] == "puhuitong-api"


async def test_a_well_formed_forged_token_passes(client: httpx.AsyncClient, farmer: User) -> None:
    """The control for the refusals below: the same claims, correctly formed, are accepted."""
    assert (await client.get("/me", headers=_sign(_claims(farmer)))).status_code == 200


@pytest.mark.parametrize(
    "over",
    [
        {"aud": "another-service"},
        {"aud": ["another-service"]},
        {"exp": str(int(time.time()) + 600)},
        {"iat": str(int(time.time()))},
        {"exp": True},
    ],
    ids=["foreign-aud", "foreign-aud-list", "string-exp", "string-iat", "bool-exp"],
)
async def test_wrong_audience_or_non_numeric_dates_are_refused(
    client: httpx.AsyncClient, farmer: User, over: dict[str, Any]
) -> None:
    r = await client.get("/me", headers=_sign(_claims(farmer, **over)))
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"


async def test_token_without_audience_is_refused(client: httpx.AsyncClient, farmer: User) -> None:
    claims = _claims(farmer)
    del claims["aud"]
    assert (await client.get("/me", headers=_sign(claims))).status_code == 401


@pytest.mark.parametrize("change", ["deleted", "disabled"])
async def test_a_token_whose_account_is_gone_is_401_not_404(
    client: httpx.AsyncClient, factory: Factory, change: str
) -> None:
    """Changed in the database behind the app's back (no revocation entry): the check of record still holds."""
    user = await factory.user("farmer")
    headers = factory.headers(user)
    assert (await client.get("/me", headers=headers)).status_code == 200
    values: dict[str, Any] = (
        {"deleted_at": datetime.now(UTC), "is_active": False} if change == "deleted" else {"is_active": False}
    )
    async with factory.session() as s:
        await s.execute(update(User).where(User.id == user.id).values(**values))
        await s.commit()
    for method, path, body in [
        ("GET", "/me", None),
        ("PATCH", "/me", {"household_type": "farmer"}),
        ("GET", "/me/export", None),
    ]:
        r = await client.request(method, path, headers=headers, json=body)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["code"] == "token_invalid"


async def test_deleting_the_account_makes_its_token_401(client: httpx.AsyncClient) -> None:
    tokens = await sms_login(client, unique_phone())
    headers = bearer(tokens)
    phone = tokens["user"]["phone"]
    # Deletion is a step-up action: confirm the session with an SMS code first.
    await step_up(client, phone, headers)
    r = await client.post("/me/deletion", headers=headers)
    assert r.status_code == 202, r.text
    r = await client.get("/me", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"
