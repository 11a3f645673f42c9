"""/bank/webhooks: bank_admin only, own bank only, secret shown once and stored encrypted, URL rules."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from app.core.audit import AuditEntry
from app.core.config import get_settings
from app.core.crypto import decrypt
from app.webhooks.models import WebhookEndpoint
from app.webhooks.service import secret_context
from tests.builders.webhooks import BankCtx
from tests.factories import Factory

HOOK = "https://example.com/puhuitong"


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DNS in tests: example.com resolves to a public address, everything else as the system says."""
    import ipaddress

    from app.webhooks import urls

    real = urls.resolve

    async def resolve(host: str, port: int) -> list[urls.IPAddress]:
        if host == "example.com":
            return [ipaddress.ip_address("93.184.215.14")]
        return await real(host, port)

    monkeypatch.setattr(urls, "resolve", resolve)


async def _create(client: httpx.AsyncClient, headers: dict[str, str], **kw: object) -> httpx.Response:
    body = {"url": HOOK, "events": ["drawdown.submitted", "offer.accepted"], **kw}
    return await client.post("/bank/webhooks", json=body, headers=headers)


async def test_create_shows_secret_once_and_stores_it_encrypted(
    client: httpx.AsyncClient, bank_ctx: BankCtx, app
) -> None:
    r = await _create(client, bank_ctx.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"id", "url", "events", "secret", "enabled"}
    assert body["enabled"] is True and body["events"] == ["drawdown.submitted", "offer.accepted"]
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 30
    assert r.headers["cache-control"] == "no-store"

    listed = await client.get("/bank/webhooks", headers=bank_ctx.headers)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [i["id"] for i in items] == [body["id"]]
    assert "secret" not in items[0] and body["secret"] not in listed.text

    async with app.state.db.sessionmaker() as s:
        ep = (await s.execute(select(WebhookEndpoint).where(WebhookEndpoint.id == uuid.UUID(body["id"])))).scalar_one()
        assert body["secret"] not in ep.secret_enc
        assert decrypt(ep.secret_enc, secret_context(ep.id)) == body["secret"]
        audit = (await s.execute(select(AuditEntry).where(AuditEntry.object_id == body["id"]))).scalars().all()
        assert [a.action for a in audit] == ["webhook.create"]
        assert body["secret"] not in str(audit[0].summary)


@pytest.mark.parametrize(
    "events",
    [[], ["drawdown.approved"], ["drawdown.submitted", "nope"], "drawdown.submitted", None],
)
async def test_events_must_be_a_nonempty_subset(client: httpx.AsyncClient, bank_ctx: BankCtx, events: object) -> None:
    r = await _create(client, bank_ctx.headers, events=events)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert any(e["field"].startswith("events") for e in r.json()["errors"])


async def test_unknown_fields_refused(client: httpx.AsyncClient, bank_ctx: BankCtx) -> None:
    r = await _create(client, bank_ctx.headers, secret="mine", enabled=False)
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("url", "allow_private"),
    [
        ("https://169.254.169.254/latest/meta-data", True),
        ("http://169.254.169.254/latest/meta-data", True),
        ("https://[fd00:ec2::254]/", True),
        ("https://100.100.100.200/", True),
        ("https://localhost/hook", False),  # a name resolving to 127.0.0.1
        ("https://127.0.0.1/hook", False),
        ("https://10.0.0.8/hook", False),
        ("http://example.com/hook", False),  # http only in development
        ("ftp://example.com/hook", True),
        ("https://no-such-host.invalid/hook", True),
    ],
)
async def test_ssrf_urls_refused_at_registration(
    client: httpx.AsyncClient, bank_ctx: BankCtx, monkeypatch: pytest.MonkeyPatch, url: str, allow_private: bool
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allow_private_urls", allow_private)
    r = await _create(client, bank_ctx.headers, url=url)
    assert r.status_code == 422, r.text
    err = r.json()["errors"][0]
    assert err["field"] == "url" and err["code"] == "url_not_allowed"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err["message"])
    listed = await client.get("/bank/webhooks", headers=bank_ctx.headers)
    assert listed.json()["items"] == []


async def test_private_url_allowed_in_development(client: httpx.AsyncClient, bank_ctx: BankCtx) -> None:
    r = await _create(client, bank_ctx.headers, url="http://127.0.0.1:9/hook")
    assert r.status_code == 201


async def test_patch_and_delete(client: httpx.AsyncClient, bank_ctx: BankCtx) -> None:
    wid = (await _create(client, bank_ctx.headers)).json()["id"]
    r = await client.patch(
        f"/bank/webhooks/{wid}", json={"enabled": False, "events": ["demand.created"]}, headers=bank_ctx.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False and r.json()["events"] == ["demand.created"] and "secret" not in r.json()
    r = await client.patch(f"/bank/webhooks/{wid}", json={"url": "https://169.254.169.254/"}, headers=bank_ctx.headers)
    assert r.status_code == 422
    r = await client.patch(f"/bank/webhooks/{wid}", json={"events": []}, headers=bank_ctx.headers)
    assert r.status_code == 422
    r = await client.post(f"/bank/webhooks/{wid}/test", headers=bank_ctx.headers)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    r = await client.patch(f"/bank/webhooks/{wid}", json={"enabled": True}, headers=bank_ctx.headers)
    assert r.json()["enabled"] is True and r.json()["url"] == HOOK
    assert (await client.delete(f"/bank/webhooks/{wid}", headers=bank_ctx.headers)).status_code == 204
    assert (await client.get(f"/bank/webhooks/{wid}/deliveries", headers=bank_ctx.headers)).status_code == 404
    assert (await client.delete(f"/bank/webhooks/{wid}", headers=bank_ctx.headers)).status_code == 404


async def test_other_bank_gets_404_and_changes_nothing(
    client: httpx.AsyncClient, bank_ctx: BankCtx, factory: Factory, app
) -> None:
    wid = (await _create(client, bank_ctx.headers)).json()["id"]
    other_bank = await factory.bank()
    other = factory.headers(await factory.user("bank_admin", bank_id=other_bank.id))
    calls = [
        ("PATCH", f"/bank/webhooks/{wid}", {"enabled": False}),
        ("DELETE", f"/bank/webhooks/{wid}", None),
        ("POST", f"/bank/webhooks/{wid}/test", None),
        ("GET", f"/bank/webhooks/{wid}/deliveries", None),
    ]
    for method, path, body in calls:
        r = await client.request(method, path, json=body, headers=other)
        assert r.status_code == 404 and r.json()["code"] == "not_found", (method, path)
    assert (await client.get("/bank/webhooks", headers=other)).json()["items"] == []
    mine = (await client.get("/bank/webhooks", headers=bank_ctx.headers)).json()["items"]
    assert mine[0]["id"] == wid and mine[0]["enabled"] is True
    unknown = uuid.uuid4()
    assert (await client.patch(f"/bank/webhooks/{unknown}", json={}, headers=bank_ctx.headers)).status_code == 404


@pytest.mark.parametrize("role", ["farmer", "bank_staff", "station_agent", "regulator", "admin"])
async def test_only_bank_admin_manages(
    client: httpx.AsyncClient, bank_ctx: BankCtx, factory: Factory, role: str
) -> None:
    wid = (await _create(client, bank_ctx.headers)).json()["id"]
    kw = {"bank_id": bank_ctx.bank.id} if role == "bank_staff" else {}
    headers = factory.headers(await factory.user(role, **kw))
    calls = [
        ("POST", "/bank/webhooks", {"url": HOOK, "events": ["demand.created"]}),
        ("GET", "/bank/webhooks", None),
        ("PATCH", f"/bank/webhooks/{wid}", {"enabled": False}),
        ("DELETE", f"/bank/webhooks/{wid}", None),
        ("POST", f"/bank/webhooks/{wid}/test", None),
        ("GET", f"/bank/webhooks/{wid}/deliveries", None),
    ]
    for method, path, body in calls:
        r = await client.request(method, path, json=body, headers=headers)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", (role, method, path)
        r = await client.request(method, path, json=body)
        assert r.status_code == 401, (method, path)
    mine = (await client.get("/bank/webhooks", headers=bank_ctx.headers)).json()["items"]
    assert len(mine) == 1 and mine[0]["enabled"] is True


async def test_list_paginates(client: httpx.AsyncClient, bank_ctx: BankCtx) -> None:
    ids = {(await _create(client, bank_ctx.headers)).json()["id"] for _ in range(3)}
    r1 = (await client.get("/bank/webhooks?limit=2", headers=bank_ctx.headers)).json()
    assert len(r1["items"]) == 2 and r1["next_cursor"]
    r2 = (await client.get(f"/bank/webhooks?limit=2&cursor={r1['next_cursor']}", headers=bank_ctx.headers)).json()
    assert {i["id"] for i in r1["items"] + r2["items"]} == ids and r2["next_cursor"] is None
    assert (await client.get("/bank/webhooks?limit=101", headers=bank_ctx.headers)).status_code == 422


async def test_bank_system_cannot_manage_webhooks(client: httpx.AsyncClient, bank_ctx: BankCtx) -> None:
    """A bank's API client, whatever its scopes, is not a bank_admin (BFLA)."""
    from app.core.security import create_access_token

    token, _, _ = create_access_token(
        sub=str(uuid.uuid4()),
        role="bank_system",
        extra={"bank": str(bank_ctx.bank.id), "scope": "products:write loans:write demands:write"},
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/bank/webhooks", headers=headers)).status_code == 403
    r = await client.post("/bank/webhooks", json={"url": HOOK, "events": ["demand.created"]}, headers=headers)
    assert r.status_code == 403
