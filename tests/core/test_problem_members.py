"""RFC 9457's members are never overwritten by extras (issue 13 item 6)."""

from __future__ import annotations

import httpx
from starlette.requests import Request

from app.core.errors import InvalidState
from app.core.problems import problem_body
from tests.builders.demands import Demands
from tests.factories import Factory
from tests.problem_check import problem_violations


def _request() -> Request:
    return Request({"type": "http", "method": "GET", "path": "/x", "headers": [], "query_string": b""})


def test_extras_never_overwrite_problem_members() -> None:
    extra = {k: "overwritten" for k in ("type", "title", "status", "detail", "instance", "code", "errors")}
    extra["current_status"] = "kept"
    body = problem_body(_request(), InvalidState(extra={**extra, "attempts_left": 2}))
    assert body["status"] == 409 and body["code"] == "invalid_state" and body["instance"] == "/x"
    assert body["type"] == "urn:puhuitong:problem:invalid_state" and body["title"] != "overwritten"
    assert "errors" not in body or body["errors"] != "overwritten"
    assert body["current_status"] == "kept" and body["current_current_status"] == "overwritten"
    assert body["current_code"] == "overwritten" and body["attempts_left"] == 2


async def test_withdrawing_twice_keeps_the_http_status(client: httpx.AsyncClient, factory: Factory) -> None:
    demands = Demands(factory, client)
    farmer = await demands.farmer()
    d = await demands.posted(farmer)
    r = await client.post(f"/me/demands/{d['id']}/withdraw", headers=farmer.headers)
    assert r.status_code == 200, r.text
    r = await client.post(f"/me/demands/{d['id']}/withdraw", headers=farmer.headers)
    assert r.status_code == 409 and r.json()["status"] == 409 and r.json()["code"] == "invalid_state"
    assert r.json()["current_status"] == "withdrawn"
    assert problem_violations(r) == []
