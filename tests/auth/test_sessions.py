"""Tokens and sessions: first login, refresh rotation and reuse, logout, disabling, token attacks."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from jose import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import RefreshToken, User
from app.core.config import get_settings
from app.core.security import _jwt_key, create_access_token
from tests.builders.auth import bearer, sms_login
from tests.factories import Factory, unique_phone


async def test_first_login_creates_a_farmer(
    client: httpx.AsyncClient, session: AsyncSession, no_interval: None
) -> None:
    phone = unique_phone()
    body = await sms_login(client, phone)
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["user"]["role"] == "farmer"
    assert body["user"]["phone"] == phone
    claims = jwt.get_unverified_claims(body["access_token"])
    assert claims["exp"] - claims["iat"] == 900
    assert claims["sid"] and claims["typ"] == "access"
    again = await sms_login(client, phone)
    assert again["user"]["id"] == body["user"]["id"]
    r = await client.get("/me", headers=bearer(body))
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    users = (await session.execute(select(User).where(User.phone == phone))).scalars().all()
    assert len(users) == 1


async def test_refresh_tokens_are_stored_hashed(client: httpx.AsyncClient, session: AsyncSession) -> None:
    body = await sms_login(client, unique_phone())
    rows = (await session.execute(select(RefreshToken.token_hash))).scalars().all()
    assert body["refresh_token"] not in rows
    assert all(len(h) == 64 for h in rows)


async def test_refresh_rotates_and_old_access_still_valid(client: httpx.AsyncClient) -> None:
    body = await sms_login(client, unique_phone())
    r = await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert r.status_code == 200
    new = r.json()
    assert new["refresh_token"] != body["refresh_token"]
    assert (
        jwt.get_unverified_claims(new["access_token"])["sid"] == jwt.get_unverified_claims(body["access_token"])["sid"]
    )
    r = await client.post("/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert r.status_code == 200


async def test_replay_within_grace_returns_same_pair(client: httpx.AsyncClient) -> None:
    body = await sms_login(client, unique_phone())
    first = await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    second = await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()


async def test_replay_after_grace_revokes_the_family(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, factory: Factory
) -> None:
    body = await sms_login(client, unique_phone())
    r = await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    new = r.json()
    monkeypatch.setattr(get_settings(), "refresh_grace_seconds", -1)  # as if 10 s had passed
    r = await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"
    # The whole family is dead: the newest refresh token and the access tokens.
    r = await client.post("/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert r.status_code == 401
    assert (await client.get("/me", headers=bearer(new))).status_code == 401
    sid = jwt.get_unverified_claims(new["access_token"])["sid"]
    async with factory.session() as s:
        rows = (await s.execute(select(RefreshToken).where(RefreshToken.family_id == sid))).scalars().all()
    assert rows and all(r.revoked_at is not None for r in rows)


async def test_refresh_idle_and_absolute_expiry(client: httpx.AsyncClient, factory: Factory) -> None:
    from datetime import UTC, datetime, timedelta

    body = await sms_login(client, unique_phone())
    sid = jwt.get_unverified_claims(body["access_token"])["sid"]
    async with factory.session() as s:
        row = (await s.execute(select(RefreshToken).where(RefreshToken.family_id == sid))).scalar_one()
        assert abs((row.expires_at - row.created_at).total_seconds() - 30 * 86400) < 5
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        await s.commit()
    assert (await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})).status_code == 401

    body = await sms_login(client, unique_phone())
    sid = jwt.get_unverified_claims(body["access_token"])["sid"]
    async with factory.session() as s:
        row = (await s.execute(select(RefreshToken).where(RefreshToken.family_id == sid))).scalar_one()
        row.family_started_at = datetime.now(UTC) - timedelta(days=90, seconds=1)
        await s.commit()
    assert (await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})).status_code == 401


async def test_unknown_refresh_token(client: httpx.AsyncClient) -> None:
    r = await client.post("/auth/refresh", json={"refresh_token": "nope"})
    assert r.status_code == 401


async def test_refresh_token_is_not_an_access_token(client: httpx.AsyncClient) -> None:
    body = await sms_login(client, unique_phone())
    r = await client.get("/me", headers={"Authorization": f"Bearer {body['refresh_token']}"})
    assert r.status_code == 401


async def test_logout_revokes_access_and_refresh(client: httpx.AsyncClient, redis: object) -> None:
    body = await sms_login(client, unique_phone())
    headers = bearer(body)
    assert (await client.post("/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/me", headers=headers)).status_code == 401
    assert (await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})).status_code == 401
    claims = jwt.get_unverified_claims(body["access_token"])
    ttl = await redis.ttl(f"{{revoked}}:jti:{claims['jti']}")  # type: ignore[attr-defined]
    assert 0 < ttl <= 900
    assert await redis.exists(f"{{revoked}}:sid:{claims['sid']}")  # type: ignore[attr-defined]


async def test_logout_leaves_other_sessions(client: httpx.AsyncClient, no_interval: None) -> None:
    phone = unique_phone()
    a = await sms_login(client, phone)
    b = await sms_login(client, phone)
    await client.post("/auth/logout", headers=bearer(a))
    assert (await client.get("/me", headers=bearer(b))).status_code == 200


async def test_disabling_a_user_ends_their_sessions(
    client: httpx.AsyncClient, factory: Factory, admin_headers: dict[str, str]
) -> None:
    body = await sms_login(client, unique_phone())
    uid = body["user"]["id"]
    headers = bearer(body)
    assert (await client.get("/me", headers=headers)).status_code == 200
    r = await client.post(f"/admin/users/{uid}/disable", headers=admin_headers)
    assert r.status_code == 200
    assert r.json()["is_active"] is False
    assert (await client.get("/me", headers=headers)).status_code == 401
    assert (await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})).status_code == 401
    r = await client.post(f"/admin/users/{uid}/enable", headers=admin_headers)
    assert r.json()["is_active"] is True
    assert (await client.post(f"/admin/users/{uuid.uuid4()}/disable", headers=admin_headers)).status_code == 404


async def test_disable_needs_admin(client: httpx.AsyncClient, factory: Factory, farmer_headers: dict[str, str]) -> None:
    victim = await factory.user("farmer")
    assert (await client.post(f"/admin/users/{victim.id}/disable", headers=farmer_headers)).status_code == 403
    assert (await client.post(f"/admin/users/{victim.id}/disable")).status_code == 401


# --- token attacks ---------------------------------------------------------------------------------


def _claims(user: User) -> dict[str, object]:
    now = int(time.time())
    return {
        "sub": str(user.id),
        "aud": "puhuitong-api",
        "role": "farmer",
        "typ": "access",
        "iat": now,
        "exp": now + 600,
        "jti": "x" * 8,
        "sid": "s",
    }


async def test_alg_none_is_refused(client: httpx.AsyncClient, farmer: User) -> None:
    import base64
    import json

    def b64(d: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims(farmer))}."
    assert (await client.get("/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_foreign_hs256_key_is_refused(client: httpx.AsyncClient, farmer: User) -> None:
    token = jwt.encode(_claims(farmer), "someone-elses-key", algorithm="HS256")
    assert (await client.get("/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    good = jwt.encode(_claims(farmer), _jwt_key(get_settings().secret_key), algorithm="HS256")
    assert (await client.get("/me", headers={"Authorization": f"Bearer {good}"})).status_code == 200


async def test_other_algorithm_with_our_key_is_refused(client: httpx.AsyncClient, farmer: User) -> None:
    token = jwt.encode(_claims(farmer), _jwt_key(get_settings().secret_key), algorithm="HS512")
    assert (await client.get("/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "jti", "typ", "role", "aud"])
async def test_missing_claim_is_refused(client: httpx.AsyncClient, farmer: User, missing: str) -> None:
    claims = _claims(farmer)
    del claims[missing]
    token = jwt.encode(claims, _jwt_key(get_settings().secret_key), algorithm="HS256")
    assert (await client.get("/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_expired_token_is_refused(client: httpx.AsyncClient, farmer: User) -> None:
    claims = _claims(farmer)
    claims["iat"] = int(time.time()) - 1000
    claims["exp"] = int(time.time()) - 10
    token = jwt.encode(claims, _jwt_key(get_settings().secret_key), algorithm="HS256")
    r = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"


async def test_bank_role_without_bank_claim_is_refused(client: httpx.AsyncClient, factory: Factory) -> None:
    bank = await factory.bank()
    user = await factory.user("bank_admin", bank_id=bank.id)
    token, _, _ = create_access_token(sub=str(user.id), role="bank_admin", extra={"sid": "s"})
    r = await client.get("/bank/api-clients", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_no_token_is_401(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("get", "/me"),
        ("post", "/auth/logout"),
        ("post", "/auth/step-up"),
        ("get", "/bank/api-clients"),
    ]:
        r = await client.request(method.upper(), path, json={"code": "123456"} if "step" in path else None)
        assert r.status_code == 401, path
