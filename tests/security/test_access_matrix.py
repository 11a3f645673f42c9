"""Authorization matrix (SECURITY.md; OWASP API5 BFLA and API1 BOLA).

BFLA: every route of the app under /admin, /bank, /agent, /partner and /me, found by walking `app.routes` (so a
route added later is covered without touching this file), is called with no token, and with each kind of caller
that must be refused. A route without a role dependency fails here.

BOLA: see test_object_matrix.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from app.core.security import create_access_token
from tests.factories import Factory

PREFIXES = ("/api/v1/admin/", "/api/v1/bank/", "/api/v1/agent/", "/api/v1/partner/", "/api/v1/me")
# The lead bank's admin may freeze and unfreeze its borrowers' certificates (API.md): the one /admin exception.
BANK_ADMIN_ON_ADMIN = {("POST", "/api/v1/admin/certificates/{certificate_id}/freeze"),
                       ("POST", "/api/v1/admin/certificates/{certificate_id}/unfreeze")}  # fmt: skip
PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def guarded(path: str) -> bool:
    return path == "/api/v1/me" or path.startswith(PREFIXES[:-1]) or path.startswith("/api/v1/me/")


def guarded_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route under the guarded prefixes."""
    for rc in iter_route_contexts(app.routes):
        path, methods = rc.path, rc.methods
        if not path or not methods:
            continue
        if (
            path == "/api/v1/me"
            or any(path.startswith(p) for p in PREFIXES if p != "/api/v1/me")
            or path.startswith("/api/v1/me/")
        ):
            for m in sorted(methods - {"HEAD", "OPTIONS"}):
                yield m, path


def fill(template: str) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.endswith("_id") or name == "id":
            return str(uuid.uuid4())
        return f"x-{uuid.uuid4().hex[:12]}"  # codes, external ids

    return PARAM.sub(one, template)


def area(path: str) -> str:
    return path.removeprefix("/api/v1/").split("/")[0]


def client_headers(bank_id: uuid.UUID, scope: str) -> dict[str, str]:
    token, _, _ = create_access_token(
        sub=str(uuid.uuid4()), role="bank_system", extra={"bank": str(bank_id), "scope": scope}
    )
    return {"Authorization": f"Bearer {token}"}


async def call(client: httpx.AsyncClient, method: str, template: str, headers: dict[str, str] | None) -> httpx.Response:
    url = fill(template).removeprefix("/api/v1")
    kw: dict[str, Any] = {"headers": {**(headers or {}), "Idempotency-Key": uuid.uuid4().hex}}
    if method in ("POST", "PUT", "PATCH"):
        kw["json"] = {}
    return await client.request(method, url, **kw)


def test_matrix_sees_every_area(app: FastAPI) -> None:
    routes = list(guarded_routes(app))
    assert {area(p) for _, p in routes} == {"admin", "bank", "agent", "partner", "me"}
    assert len(routes) > 60  # the walk found the included routers, not just the top level


async def test_bfla(app: FastAPI, client: httpx.AsyncClient, factory: Factory) -> None:
    bank = await factory.bank(["411702"])
    station_agent = factory.headers(await factory.user("station_agent", station_id=uuid.uuid4()))
    callers = {
        "farmer": factory.headers(await factory.user("farmer")),
        "bank_staff": factory.headers(await factory.user("bank_staff", bank_id=bank.id)),
        "bank_admin": factory.headers(await factory.user("bank_admin", bank_id=bank.id)),
        "client_all": client_headers(bank.id, "products:write loans:write demands:write"),
        "client_none": client_headers(bank.id, ""),
        "agent": station_agent,
        "regulator": factory.headers(await factory.user("regulator")),
    }
    # who must be refused (403) in each area; everyone is refused (401) without a token
    refused = {
        "me": {"bank_staff", "bank_admin", "client_all", "client_none", "agent", "regulator"},
        "agent": {"farmer", "bank_staff", "bank_admin", "client_all", "client_none", "regulator"},
        "admin": {"farmer", "bank_staff", "bank_admin", "client_all", "client_none", "agent"},
        "bank": {"farmer", "client_none", "agent", "regulator"},
        "partner": {"farmer", "bank_staff", "bank_admin", "client_none", "agent", "regulator"},
    }
    failures: list[str] = []
    for method, path in guarded_routes(app):
        r = await call(client, method, path, None)
        if r.status_code != 401 or r.json().get("code") != "token_invalid":
            failures.append(f"{method} {path} without a token: {r.status_code}")
        for who in sorted(refused[area(path)]):
            if who == "bank_admin" and (method, path) in BANK_ADMIN_ON_ADMIN:
                continue
            r = await call(client, method, path, callers[who])
            if r.status_code != 403 or r.json().get("code") != "forbidden":
                failures.append(f"{method} {path} as {who}: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


async def test_bank_admin_freeze_exception_is_scoped(client: httpx.AsyncClient, factory: Factory) -> None:
    """The exception lets a bank admin in, but only to its own borrowers' certificates: another one is 404."""
    bank = await factory.bank(["411702"])
    headers = factory.headers(await factory.user("bank_admin", bank_id=bank.id))
    for action in ("freeze", "unfreeze"):
        r = await client.post(f"/admin/certificates/{uuid.uuid4()}/{action}", json={"reason": "核查"}, headers=headers)
        assert r.status_code == 404, r.text


def _dependency_names(dependant: Any) -> Iterator[str]:
    for sub in dependant.dependencies:
        yield str(getattr(sub.call, "__name__", ""))
        yield from _dependency_names(sub)


def test_every_guarded_route_declares_a_role(app: FastAPI) -> None:
    """Deny by default, checked statically too: each guarded route depends on a `require(...)` role check."""
    missing = []
    for rc in iter_route_contexts(app.routes):
        path = rc.path or ""
        if not guarded(path):
            continue
        if not any(n.startswith("require_") and n != "require_step_up" for n in _dependency_names(rc.dependant)):
            missing.append(f"{sorted(rc.methods or [])} {path}")
    assert not missing, missing
