"""Fuzzing text with control characters (issue 13 item 5; schemathesis in CI keeps to printable strings).

Hypothesis builds strings from any code point, weighted towards C0 controls, DEL and the characters around
them, and puts them into real requests that are otherwise valid: a login, a farmer's profile, a catalog search
and a demand's free-text description. Whatever comes, the answer is never a 5xx; a string with a refused
character is 422 `validation_failed` naming exactly that field; one without is never refused for its text.
"""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.text import refused

CONTROLS = st.sampled_from([chr(c) for c in [*range(0x20), 0x7F, 0x80, 0x85, 0xA0, 0x2028, 0xFEFF, 0xFFFD]])
TEXT = st.lists(st.one_of(CONTROLS, st.characters(codec="utf-8")), min_size=1, max_size=12).map("".join)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _judge(r: httpx.Response, field: str, value: str, *, free_text: bool = False) -> None:
    assert r.status_code < 500, r.text
    named = [e["field"] for e in r.json().get("errors", [])] if r.status_code == 422 else []
    codes = {e["field"]: e["code"] for e in r.json().get("errors", [])} if r.status_code == 422 else {}
    if refused(value, free_text=free_text):
        assert named == [field] and codes[field] == "control_character", (value, r.text)
    else:
        assert codes.get(field) != "control_character", (value, r.text)


@FUZZ
@given(username=TEXT)
async def test_login_username(client: httpx.AsyncClient, username: str) -> None:
    r = await client.post("/auth/password-sessions", json={"username": username, "password": "not-the-password"})
    _judge(r, "username", username)


@FUZZ
@given(q=TEXT)
async def test_catalog_keyword(client: httpx.AsyncClient, q: str) -> None:
    r = await client.get("/products", params={"q": q})
    _judge(r, "query.q", q)


@FUZZ
@given(name=TEXT)
async def test_profile_real_name(client: httpx.AsyncClient, farmer_headers, name: str) -> None:
    r = await client.patch("/me", json={"real_name": name}, headers=farmer_headers)
    _judge(r, "real_name", name)


@FUZZ
@given(description=TEXT)
async def test_demand_description_is_free_text(client: httpx.AsyncClient, farmer_headers, description: str) -> None:
    # The farmer has no village: a clean description gets the business answer, never a text refusal.
    body = {"amount_fen": 500_000, "term_months": 12, "purpose": "planting", "description": description}
    r = await client.post("/me/demands", json=body, headers=farmer_headers)
    _judge(r, "description", description, free_text=True)
