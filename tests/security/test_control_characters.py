"""NUL and control characters in every string a request carries (issue 13 item 5): 422 naming the field.

The walk takes the committed OpenAPI (the drift test keeps it equal to the app's): every string field of every JSON request body (nested
objects, list items, map values), every string query and path parameter, the form fields of the token endpoint
and the multipart upload, and sends NUL into each one alone. Each answer must be 422 `validation_failed` with
an `errors[].field` naming that place (never a 5xx: on PostgreSQL NUL used to be `invalid byte sequence`).
The CSV imports, headers and the free-text rule have their own tests below.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from app.core.config import ROOT
from app.core.text import refused, walk
from tests.factories import Factory
from tests.security.test_access_matrix import client_headers

NUL = "a\u0000b"
Path = list[str | int]


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def string_leaves(spec: dict[str, Any], schema: dict[str, Any], path: Path, depth: int = 0) -> Iterator[Path]:
    """The paths of every string a body of this schema can hold (one list item, one map key stands for all)."""
    schema = _resolve(spec, schema)
    if depth > 8:
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in schema.get(key, []):
            yield from string_leaves(spec, branch, path, depth + 1)
    typ = schema.get("type")
    types = typ if isinstance(typ, list) else [typ]
    if "string" in types and schema.get("format") != "binary":
        yield path
    if "object" in types or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            yield from string_leaves(spec, sub, [*path, name], depth + 1)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            yield from string_leaves(spec, extra, [*path, "k"], depth + 1)
    if "array" in types and isinstance(schema.get("items"), dict):
        yield from string_leaves(spec, schema["items"], [*path, 0], depth + 1)


def body_with(path: Path, value: Any) -> Any:
    """The smallest JSON value that holds `value` at `path`."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        return [body_with(rest, value)]
    return {head: body_with(rest, value)}


def dotted(path: Path) -> str:
    return ".".join(str(p) for p in path)


def _param_value(param: dict[str, Any]) -> str:
    schema = param.get("schema", {})
    formats = {schema.get("format")} | {s.get("format") for s in schema.get("anyOf", [])}
    if "uuid" in formats:
        return str(uuid.uuid4())
    return "4117"


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, format="PNG")
    return buf.getvalue()


# Bodies whose items the spec leaves open (validated one by one in the service): the product's fields.
OPEN_ITEMS = {
    "/api/v1/partner/products/batch": ("items", "ProductCreate"),
    "/api/v1/admin/ratings/import": ("rows", None),
}
RATING_ROW = ["id_number", "real_name", "phone", "village_code", "vetoes"]


def raw_multipart(field: str, filename: str) -> dict[str, Any]:
    """A multipart body with the file name as raw bytes (httpx would percent-encode a NUL in it)."""
    boundary = "nulboundary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
    body = head.encode() + b"Content-Type: image/png\r\n\r\n" + png() + f"\r\n--{boundary}--\r\n".encode()
    return {"content": body, "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"}}


def cases(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """(method, url, request kwargs, the field the refusal must name) for every string the spec admits."""
    for raw_path, (key, schema_name) in OPEN_ITEMS.items():
        url = raw_path.removeprefix("/api/v1")
        if schema_name is None:
            leaves: list[Path] = [[name] for name in RATING_ROW]
        else:
            leaves = [["external_id"], *string_leaves(spec, {"$ref": f"#/components/schemas/{schema_name}"}, [])]
        for leaf in leaves:
            yield "post", url, {"json": {key: [body_with(leaf, NUL)]}}, dotted([key, 0, *leaf])
    for raw_path, ops in spec["paths"].items():
        for method, op in ops.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = op.get("parameters", [])
            base = {p["name"]: _param_value(p) for p in params if p["in"] == "path"}

            def url(over: dict[str, str] | None = None, _raw: str = raw_path, _base: dict[str, str] = base) -> str:
                out = _raw.removeprefix("/api/v1")
                for k, v in {**_base, **(over or {})}.items():
                    out = out.replace("{" + k + "}", v)
                return out

            for p in params:
                schema = _resolve(spec, p.get("schema", {}))
                is_str = schema.get("type") == "string" or any(
                    _resolve(spec, s).get("type") == "string" for s in schema.get("anyOf", [])
                )
                if not is_str:
                    continue
                if p["in"] == "path":
                    yield method, url({p["name"]: "a%00b"}), {}, f"path.{p['name']}"
                elif p["in"] == "query":
                    yield method, url(), {"params": {p["name"]: NUL}}, f"query.{p['name']}"
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                for leaf in string_leaves(spec, content["application/json"]["schema"], []):
                    yield method, url(), {"json": body_with(leaf, NUL)}, dotted(leaf)
            if "application/x-www-form-urlencoded" in content:
                form = content["application/x-www-form-urlencoded"]["schema"]
                for name in _resolve(spec, form).get("properties", {}):
                    yield method, url(), {"data": {name: NUL}}, name
            if "multipart/form-data" in content:
                form = _resolve(spec, content["multipart/form-data"]["schema"])
                for name, sub in form.get("properties", {}).items():
                    if _resolve(spec, sub).get("format") == "binary" or "contentMediaType" in sub:
                        yield method, url(), raw_multipart(name, "a\u0000.png"), f"{name}.filename"
                    else:
                        yield method, url(), {"data": {name: NUL}}, name


async def test_every_string_in_the_spec_refuses_nul(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory, admin_headers
) -> None:
    spec = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))  # = app.openapi() (drift test)
    all_cases = list(cases(spec))
    # The walk must reach the spec's breadth, so that a broken walk cannot pass by testing nothing.
    assert len(all_cases) > 200, len(all_cases)
    assert {c[3] for c in all_cases} >= {"username", "path.external_id", "query.q", "items.0.name", "file.filename"}
    # Each route called by one who may call it (the role check answers before the refusal, as API.md orders),
    # stepped up, with an Idempotency-Key.
    bank = await factory.bank(["411725"])
    farmer = factory.headers(await factory.user("farmer"))
    await factory.step_up(farmer)
    callers = {
        "/me": farmer,
        "/bank/": factory.headers(await factory.user("bank_admin", bank_id=bank.id)),
        "/partner/": client_headers(bank.id, "products:write loans:write demands:write"),
        "/agent/": factory.headers(await factory.user("station_agent")),
    }
    failures = []
    for method, url, kwargs, field in all_cases:
        kw = dict(kwargs)
        who = next((h for prefix, h in callers.items() if url.startswith(prefix)), admin_headers)
        headers = {**who, "Idempotency-Key": uuid.uuid4().hex, **kw.pop("headers", {})}
        r = await client.request(method.upper(), url, headers=headers, **kw)
        if url.endswith("/auth/token"):  # RFC 6749's error shape, as every other error of that endpoint
            ok = r.status_code == 400 and r.json()["error"] == "invalid_request" and field in r.text
        else:
            fields = [e["field"] for e in r.json().get("errors", [])] if r.status_code == 422 else []
            ok = r.json().get("code") == "validation_failed" and field in fields
        if not ok:
            failures.append(f"{method.upper()} {url} [{field}]: {r.status_code} {r.text[:200]}")
    assert not failures, f"{len(failures)} of {len(all_cases)}:\n" + "\n".join(failures[:40])


@pytest.mark.parametrize(
    "char", ["\u0000", "\u0001", "\u0008", "\u000b", "\u000c", "\u001b", "\u001f", "\u007f", "\t", "\n", "\r"]
)
async def test_login_name_refuses_each_control(client: httpx.AsyncClient, char: str) -> None:
    r = await client.post("/auth/password-sessions", json={"username": f"ad{char}min", "password": "whatever-1"})
    assert r.status_code == 422 and r.json()["errors"] == [
        {"field": "username", "code": "control_character", "message": "不得包含控制字符（如 NUL）"}
    ]


async def test_english_message_and_every_field_named(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/auth/password-sessions",
        json={"username": "a\u0000", "password": "b\u007f"},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"username", "password"}
    assert r.json()["errors"][0]["message"] == "must not contain control characters (such as NUL)"


async def test_free_text_keeps_tabs_and_line_breaks(client: httpx.AsyncClient, factory: Factory) -> None:
    from tests.builders.demands import Demands, demand_body

    demands = Demands(factory, client)
    farmer = await demands.farmer()
    text = "第一行\r\n第二行\t制表"
    r = await client.post("/me/demands", json=demand_body(description=text), headers=farmer.headers)
    assert r.status_code == 201, r.text
    assert r.json()["description"] == text
    r = await client.post("/me/demands", json=demand_body(description="坏\u0000字"), headers=farmer.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "description"


def test_walk_names_nested_places_and_keys() -> None:
    body = {
        "items": [{"name": "ok"}, {"name": "x\n", "note": "a\nb", "tags": ["ok", "\u0000"]}],
        "star_discounts_bp": {"5\u0000": 10},
        "description": "多行\n文字",
    }
    assert list(walk(body, [])) == ["items.1.name", "items.1.tags.1", "star_discounts_bp.5\\u0000"]
    assert refused("a\u0085b") is False  # C1 controls are text (NEL) as far as PostgreSQL is concerned


async def test_header_and_basic_credentials(client: httpx.AsyncClient, admin_headers) -> None:
    r = await client.get("/admin/audit", headers={**admin_headers, "Idempotency-Key": "k\u0001"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"
    import base64

    basic = base64.b64encode(b"id\x00x:secret").decode()
    r = await client.post(
        "/auth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request" and "client_id" in r.text


async def test_authentication_still_answers_first(client: httpx.AsyncClient) -> None:
    r = await client.post("/me/demands", json={"description": "\u0000"})
    assert r.status_code == 401


async def test_the_checks_before_validation_still_answer_first(client: httpx.AsyncClient, factory: Factory) -> None:
    """API.md's order: 401 → 403 → step-up 403 → Idempotency-Key 400 → 422; a control character is a 422."""
    farmer = factory.headers(await factory.user("farmer"))
    r = await client.post("/admin/regulators", json={"username": "ad\u0000min"}, headers=farmer)
    assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    body = {"amount_fen": 100_000, "term_months": 12, "purpose": "plan\u0000ting"}
    r = await client.post("/me/drawdowns", json=body, headers={**farmer, "Idempotency-Key": "k-1"})
    assert r.status_code == 403 and r.json()["code"] == "step_up_required", r.text
    await factory.step_up(farmer)
    r = await client.post("/me/drawdowns", json=body, headers=farmer)
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required", r.text
    r = await client.post("/me/drawdowns", json=body, headers={**farmer, "Idempotency-Key": "k-1"})
    assert r.status_code == 422 and "purpose" in [e["field"] for e in r.json()["errors"]], r.text
    # a body that also fails its schema names both the schema's fields and the control character's
    r = await client.post("/me/demands", json={"description": "\u0000"}, headers=farmer)
    fields = [e["field"] for e in r.json()["errors"]]
    assert r.status_code == 422 and "description" in fields and "amount_fen" in fields, r.text


async def test_csv_imports_name_line_and_column(client: httpx.AsyncClient, admin_headers) -> None:
    csv_h = {**admin_headers, "Content-Type": "text/csv"}
    body = "id_number,real_name,phone,village_code\r\n411725,张三,13800000000,1\r\n411726,李\u0000四,138,1\r\n"
    r = await client.post("/admin/ratings/import", content=body.encode(), headers=csv_h)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["line.2.real_name"]
    quoted = 'id_number,real_name\r\n"41\r\n1",王五\r\n'
    r = await client.post("/admin/ratings/import", content=quoted.encode(), headers=csv_h)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["line.1.id_number"]
    r = await client.post(
        "/admin/ratings/import", json={"rows": [{"id_number": "1", "real_name": "x\u0000"}]}, headers=admin_headers
    )
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["rows.0.real_name"]
    regions = "code,name,level,parent_code\r\n411799,坏\u0007县,county,4117\r\n"
    r = await client.post("/admin/regions/import", content=regions.encode(), headers=csv_h)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["line.1.name"]
