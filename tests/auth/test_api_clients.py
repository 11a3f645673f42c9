"""Bank systems: API clients (tenancy, secret once, rotate, revoke), client credentials, BFLA."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
from jose import jwt
from sqlalchemy import select

from app.auth.models import ApiClient
from tests.factories import Factory


async def bank_admin(factory: Factory) -> tuple[Any, dict[str, str]]:
    bank = await factory.bank()
    user = await factory.user("bank_admin", bank_id=bank.id)
    return bank, factory.headers(user)


async def create_client(client: httpx.AsyncClient, headers: dict[str, str], scopes: list[str]) -> dict[str, Any]:
    r = await client.post("/bank/api-clients", json={"name": "核心系统", "scopes": scopes}, headers=headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def token(client: httpx.AsyncClient, cid: str, secret: str, **form: str) -> httpx.Response:
    return await client.post(
        "/auth/token", data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret, **form}
    )


async def test_create_list_and_secret_shown_once(client: httpx.AsyncClient, factory: Factory) -> None:
    _, headers = await bank_admin(factory)
    created = await create_client(client, headers, ["products:write", "loans:write"])
    assert created["client_secret"] and created["client_id"].startswith("pht_")
    assert created["scopes"] == ["loans:write", "products:write"]
    r = await client.get("/bank/api-clients", headers=headers)
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["id"] for i in items] == [created["id"]]
    assert "client_secret" not in items[0]
    async with factory.session() as s:
        row = (await s.execute(select(ApiClient).where(ApiClient.id == uuid.UUID(created["id"])))).scalar_one()
    assert created["client_secret"] not in row.secret_hash


async def test_bad_scopes_are_422(client: httpx.AsyncClient, factory: Factory) -> None:
    _, headers = await bank_admin(factory)
    for scopes in (["admin"], [], ["products:write", "x"]):
        r = await client.post("/bank/api-clients", json={"name": "x", "scopes": scopes}, headers=headers)
        assert r.status_code == 422
    r = await client.post(
        "/bank/api-clients", json={"name": "x", "scopes": ["loans:write"], "bank_id": "x"}, headers=headers
    )
    assert r.status_code == 422


async def test_client_credentials_form_and_basic(client: httpx.AsyncClient, factory: Factory) -> None:
    bank, headers = await bank_admin(factory)
    c = await create_client(client, headers, ["products:write", "demands:write"])
    r = await token(client, c["client_id"], c["client_secret"])
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert body["scope"] == "demands:write products:write"
    claims = jwt.get_unverified_claims(body["access_token"])
    assert claims["role"] == "bank_system" and claims["bank"] == str(bank.id)
    assert r.headers["cache-control"] == "no-store"
    basic = base64.b64encode(f"{c['client_id']}:{c['client_secret']}".encode()).decode()
    r = await client.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "products:write"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200
    assert r.json()["scope"] == "products:write"


async def test_oauth_errors(client: httpx.AsyncClient, factory: Factory) -> None:
    _, headers = await bank_admin(factory)
    c = await create_client(client, headers, ["products:write"])
    r = await token(client, c["client_id"], "wrong")
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_client", "error_description": r.json()["error_description"]}
    r = await token(client, "pht_unknown", "wrong")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = await token(client, c["client_id"], c["client_secret"], scope="loans:write")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = await client.post("/auth/token", data={"grant_type": "password", "client_id": "a", "client_secret": "b"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = await client.post("/auth/token", data={"client_id": "a", "client_secret": "b"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = await client.post("/auth/token", json={"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


async def test_rotate_and_revoke(client: httpx.AsyncClient, factory: Factory) -> None:
    _, headers = await bank_admin(factory)
    c = await create_client(client, headers, ["products:write"])
    old_token = (await token(client, c["client_id"], c["client_secret"])).json()["access_token"]
    r = await client.post(f"/bank/api-clients/{c['id']}/rotate", headers=headers)
    assert r.status_code == 200
    new_secret = r.json()["client_secret"]
    assert new_secret != c["client_secret"]
    assert (await token(client, c["client_id"], c["client_secret"])).status_code == 401
    # Tokens issued with the old secret die with it.
    assert (await client.get("/me", headers={"Authorization": f"Bearer {old_token}"})).status_code == 401
    assert (await token(client, c["client_id"], new_secret)).status_code == 200
    assert (await client.delete(f"/bank/api-clients/{c['id']}", headers=headers)).status_code == 204
    r = await token(client, c["client_id"], new_secret)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    listed = (await client.get("/bank/api-clients", headers=headers)).json()["items"]
    assert listed[0]["revoked_at"] is not None


async def test_other_banks_clients_are_404_and_unchanged(client: httpx.AsyncClient, factory: Factory) -> None:
    _, mine = await bank_admin(factory)
    _, theirs = await bank_admin(factory)
    c = await create_client(client, theirs, ["loans:write"])
    assert (await client.post(f"/bank/api-clients/{c['id']}/rotate", headers=mine)).status_code == 404
    assert (await client.delete(f"/bank/api-clients/{c['id']}", headers=mine)).status_code == 404
    assert (await client.get("/bank/api-clients", headers=mine)).json()["items"] == []
    assert (await token(client, c["client_id"], c["client_secret"])).status_code == 200


async def test_api_clients_are_bank_admin_only(client: httpx.AsyncClient, factory: Factory) -> None:
    bank, headers = await bank_admin(factory)
    staff = await factory.user("bank_staff", bank_id=bank.id)
    farmer = await factory.user("farmer")
    c = await create_client(client, headers, ["products:write", "loans:write", "demands:write"])
    system = {
        "Authorization": f"Bearer {(await token(client, c['client_id'], c['client_secret'])).json()['access_token']}"
    }
    body = {"name": "x", "scopes": ["loans:write"]}
    for h in (factory.headers(staff), factory.headers(farmer), system):
        assert (await client.post("/bank/api-clients", json=body, headers=h)).status_code == 403
        assert (await client.get("/bank/api-clients", headers=h)).status_code == 403
        assert (await client.delete(f"/bank/api-clients/{c['id']}", headers=h)).status_code == 403
        assert (await client.post(f"/bank/api-clients/{c['id']}/rotate", headers=h)).status_code == 403
    assert (await client.get("/bank/api-clients")).status_code == 401


async def test_bfla_farmer_and_bank_system_on_staff_and_admin_routes(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    bank, headers = await bank_admin(factory)
    c = await create_client(client, headers, ["products:write", "loans:write", "demands:write"])
    system = {
        "Authorization": f"Bearer {(await token(client, c['client_id'], c['client_secret'])).json()['access_token']}"
    }
    farmer = factory.headers(await factory.user("farmer"))
    some = uuid.uuid4()
    routes = [
        ("POST", "/bank/staff"),
        ("POST", f"/admin/banks/{bank.id}/staff"),
        ("POST", "/admin/regulators"),
        ("POST", f"/admin/users/{some}/disable"),
        ("POST", f"/admin/users/{some}/enable"),
    ]
    for method, path in routes:
        for h in (farmer, system):
            assert (await client.request(method, path, json={}, headers=h)).status_code == 403, path
        assert (await client.request(method, path, json={})).status_code == 401, path
    # A bank system never reaches /me or step-up.
    for method, path in [("GET", "/me"), ("GET", "/me/export"), ("POST", "/auth/step-up")]:
        assert (await client.request(method, path, json={"code": "1"}, headers=system)).status_code == 403, path
