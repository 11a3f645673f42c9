"""Revocation lives in the database (issue 13 item 8): after Redis loses its data, every revoked token stays 401,
and the cache is rebuilt from the `revocations` rows."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from jose import jwt
from sqlalchemy import select

from app.auth import revocation
from app.auth.models import Revocation
from tests.auth.test_api_clients import bank_admin, create_client, token
from tests.auth.test_passwords_and_staff import PASSWORD, login, make_staff
from tests.builders.auth import bearer, last_code, send, sms_login, step_up
from tests.builders.drawdowns import Lending
from tests.factories import Factory, unique_phone


async def test_logout_survives_a_redis_flush(client: httpx.AsyncClient, redis: Any) -> None:
    body = await sms_login(client, unique_phone())
    headers = bearer(body)
    assert (await client.post("/auth/logout", headers=headers)).status_code == 204
    await redis.flushdb()
    r = await client.get("/me", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"
    assert (await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})).status_code == 401


async def test_the_cache_is_rebuilt_from_the_database(client: httpx.AsyncClient, redis: Any, factory: Factory) -> None:
    body = await sms_login(client, unique_phone())
    claims = jwt.get_unverified_claims(body["access_token"])
    assert (await client.post("/auth/logout", headers=bearer(body))).status_code == 204
    async with factory.session() as s:
        kinds = set(
            (
                await s.execute(select(Revocation.kind).where(Revocation.subject.in_([claims["jti"], claims["sid"]])))
            ).scalars()
        )
    assert kinds == {"jti", "sid"}
    await redis.flushdb()
    live = await sms_login(client, unique_phone())
    assert (await client.get("/me", headers=bearer(live))).status_code == 200  # a live token is not refused
    assert await redis.exists(revocation.EPOCH)
    assert await redis.get(revocation.cache_key("jti", claims["jti"])) == "1"
    assert 0 < await redis.ttl(revocation.cache_key("sid", claims["sid"])) <= 905
    assert (await client.get("/me", headers=bearer(body))).status_code == 401


async def test_a_disabled_account_stays_out_after_a_flush(
    client: httpx.AsyncClient, redis: Any, factory: Factory, admin_headers: dict[str, str]
) -> None:
    user = await make_staff(factory)  # a regulator: its routes do not load its account
    r = await login(client, user.username or "", PASSWORD)
    headers = bearer(r.json())
    assert (await client.get("/admin/stats/coverage", headers=headers)).status_code == 200
    assert (await client.post(f"/admin/users/{user.id}/disable", headers=admin_headers)).status_code == 200
    await redis.flushdb()
    assert (await client.get("/admin/stats/coverage", headers=headers)).status_code == 401
    # Enabled again, the old token stays dead (issued before the cut-off); a new sign-in works.
    assert (await client.post(f"/admin/users/{user.id}/enable", headers=admin_headers)).status_code == 200
    await redis.flushdb()
    assert (await client.get("/admin/stats/coverage", headers=headers)).status_code == 401


async def test_a_revoked_api_client_stays_out_after_a_flush(
    client: httpx.AsyncClient, redis: Any, factory: Factory
) -> None:
    _, headers = await bank_admin(factory)
    c = await create_client(client, headers, ["loans:write"])
    system = {
        "Authorization": f"Bearer {(await token(client, c['client_id'], c['client_secret'])).json()['access_token']}"
    }
    assert (await client.get("/bank/drawdowns", headers=system)).status_code == 200
    assert (await client.delete(f"/bank/api-clients/{c['id']}", headers=headers)).status_code == 204
    await redis.flushdb()
    assert (await client.get("/bank/drawdowns", headers=system)).status_code == 401


async def test_a_phone_change_ends_the_other_sessions_for_good(
    client: httpx.AsyncClient, redis: Any, no_interval: None
) -> None:
    phone = unique_phone()
    tokens = await sms_login(client, phone)
    other = await sms_login(client, phone)
    headers = bearer(tokens)
    await step_up(client, phone, headers)
    new_phone = unique_phone()
    await send(client, new_phone)
    r = await client.post("/me/phone", json={"new_phone": new_phone, "code": last_code(new_phone)}, headers=headers)
    assert r.status_code == 200
    await redis.flushdb()
    assert (await client.get("/me", headers=bearer(other))).status_code == 401
    assert (await client.get("/me", headers=headers)).status_code == 200


async def test_a_replayed_refresh_token_kills_the_family_for_good(
    client: httpx.AsyncClient, redis: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "refresh_grace_seconds", 0)
    body = await sms_login(client, unique_phone())
    r = await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert r.status_code == 200
    new = r.json()
    # The spent token again, after the grace: the whole family is revoked, the new access token with it.
    assert (await client.post("/auth/refresh", json={"refresh_token": body["refresh_token"]})).status_code == 401
    await redis.flushdb()
    assert (await client.get("/me", headers=bearer(new))).status_code == 401


async def test_a_deleted_account_stays_out_after_a_flush(client: httpx.AsyncClient, redis: Any) -> None:
    phone = unique_phone()
    tokens = await sms_login(client, phone)
    headers = bearer(tokens)
    await step_up(client, phone, headers)
    assert (await client.post("/me/deletion", headers=headers)).status_code == 202
    await redis.flushdb()
    assert (await client.post("/auth/logout", headers=headers)).status_code == 401


async def test_a_revocation_committed_during_a_rebuild_is_cached_by_the_second_pass(
    app: Any, redis: Any, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    from datetime import UTC, datetime, timedelta

    monkeypatch.setattr(revocation, "SETTLE_SECONDS", 0.0)
    await redis.flushdb()
    late: list[str] = []
    real_fill = revocation._fill

    async def fill_then_commit_late(db: Any, r: Any, *, mark: bool) -> int:
        n = await real_fill(db, r, mark=mark)
        if mark:  # a transaction that was still open during the first pass commits now
            async with factory.session() as s:
                s.add(Revocation(kind="jti", subject="late-jti", expires_at=datetime.now(UTC) + timedelta(minutes=5)))
                await s.commit()
            late.append("committed")
        return n

    monkeypatch.setattr(revocation, "_fill", fill_then_commit_late)
    await revocation.rebuild(app.state.db, redis)
    assert late and not await redis.exists(revocation.cache_key("jti", "late-jti"))
    await asyncio.gather(*list(revocation._settling))
    assert await redis.get(revocation.cache_key("jti", "late-jti")) == "1"



async def test_a_step_up_confirmed_after_a_flush_counts_while_the_cache_is_rebuilt(
    client: httpx.AsyncClient, redis: Any, factory: Factory
) -> None:
    """Requests that race the rebuild (no marker yet) still see a step-up mark written after the loss: twenty
    parallel draw-downs right after a flush were all refused `step_up_required` in the scale run."""
    lending = Lending(factory, client)
    b = await lending.borrower()
    await redis.flushdb()
    await factory.step_up(b.headers)  # confirmed after the loss, before any request rebuilt the cache
    assert not await redis.exists(revocation.EPOCH)
    r = await lending.submit(b, 100_000)
    assert r.status_code == 201, r.text
    assert await redis.exists(revocation.EPOCH)
