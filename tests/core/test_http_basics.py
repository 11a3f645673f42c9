"""Health, problem+json for every error, request ids, headers, body limits."""

from __future__ import annotations

import httpx


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    r = await client.get("http://test/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = await client.get("http://test/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_unknown_route_is_problem_json_in_chinese(client: httpx.AsyncClient) -> None:
    r = await client.get("/no-such-thing")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "not_found" and body["status"] == 404
    assert body["title"] == "对象不存在"
    assert body["instance"] == "/api/v1/no-such-thing"
    assert body["type"].endswith("not_found")


async def test_english_with_accept_language(client: httpx.AsyncClient) -> None:
    r = await client.get("/no-such-thing", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert r.json()["title"] == "Not found"


async def test_method_not_allowed_is_problem(client: httpx.AsyncClient) -> None:
    r = await client.delete("/regions")
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"


async def test_validation_lists_each_field(client: httpx.AsyncClient) -> None:
    r = await client.get("/regions", params={"limit": 0, "level": "planet"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_failed"
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"limit", "level"}
    assert all(e["message"] and e["code"] for e in body["errors"])
    assert fields["limit"]["message"] == "每页条数不能少于1条"


async def test_limit_above_100_is_422(client: httpx.AsyncClient) -> None:
    r = await client.get("/regions", params={"limit": 101})
    assert r.status_code == 422


async def test_request_id_generated_and_echoed(client: httpx.AsyncClient) -> None:
    r = await client.get("http://test/healthz")
    assert len(r.headers["x-request-id"]) == 32
    r = await client.get("http://test/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("http://test/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"


async def test_security_headers_and_no_store(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    r = await client.post("/admin/regions/import", headers=admin_headers, content=b"code,name,level,parent_code\n")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"


async def test_body_over_limit_is_413(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    big = b"x" * (1024 * 1024 + 1)
    r = await client.post("/auth/sessions", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"


async def test_streamed_body_over_limit_is_413(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    async def gen():  # no Content-Length: the limit is enforced while reading
        for _ in range(400):
            yield b"y" * (64 * 1024)

    r = await client.post("/admin/regions/import", content=gen(), headers=admin_headers)
    assert r.status_code == 413


async def test_no_token_is_401_problem(client: httpx.AsyncClient) -> None:
    r = await client.post("/admin/regions/import", content=b"")
    assert r.status_code == 401
    assert r.json()["code"] == "token_invalid"
    assert r.headers["www-authenticate"] == "Bearer"


async def test_farmer_on_admin_route_is_403(client: httpx.AsyncClient, farmer_headers: dict[str, str]) -> None:
    r = await client.post("/admin/regions/import", content=b"", headers=farmer_headers)
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"


async def test_body_that_is_not_utf8_json_is_422(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    bank = (await client.get("/banks")).json()["items"]
    target = f"/admin/banks/{bank[0]['id']}" if bank else "/admin/banks/00000000-0000-0000-0000-000000000000"
    r = await client.patch(
        target, content=b"\xff\xfe\x00", headers={**admin_headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"


async def test_personal_data_is_never_cached(client: httpx.AsyncClient, farmer_headers: dict[str, str]) -> None:
    # The middleware's default covers every authenticated answer; routes do not repeat it.
    for path in ("/me", "/me/credit", "/me/drawdowns", "/me/demands", "/me/consents", "/me/notifications"):
        r = await client.get(path, headers=farmer_headers)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["cache-control"] == "no-store", path
