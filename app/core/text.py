"""Hostile text: every string a request carries refuses NUL, the other C0 controls and DEL (issue 13 item 5).

PostgreSQL cannot store NUL in text (`invalid byte sequence for encoding "UTF8": 0x00`, a 500 before this),
SQLite stores it as is, and control characters in names, codes or keys are never meant. One check, wired into
both routers in `app/api.py` as a dependency (on authenticated routes found after authentication and raised
just before the endpoint, so the role, step-up and Idempotency-Key answers come first), covers every route:
JSON bodies (nested, keys included), query and path parameters, the `Idempotency-Key` header and HTTP Basic
client credentials, CSV bodies (`text/csv`: the imports), form fields and uploaded file names.

Tab, CR and LF are admitted in free text only (descriptions, notes, reasons, addresses: `FREE_TEXT`, by field
name); everywhere else they are refused too. A refusal is 422 `validation_failed` whose `errors[].field`
names the place: a dotted body path as pydantic writes it (`items.3.name`), `query.q`, `path.external_id`,
`Idempotency-Key`, `line.3.real_name` (CSV: data rows counted from 1, as the import reports do), a form field
by its name, an uploaded file's name as `file.filename`.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from fastapi import Request
from fastapi.routing import iter_route_contexts
from starlette.datastructures import UploadFile
from starlette.routing import BaseRoute

from app.core.errors import ValidationFailed, field_error

# Refused in every string.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Refused outside free text: the above plus tab, LF and CR.
CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f]")
# Fields whose text is written by people in sentences and may hold line breaks and tabs.
FREE_TEXT = frozenset(
    {"description", "note", "notes", "reason", "reject_reason", "resolution", "comment", "address", "opening_hours"}
)

# Fast paths on the raw bytes: a JSON string can only hold a control character as a \u00XX / \u007f escape
# or a short escape (\\b \\f \\n \\r \\t; raw ones are invalid JSON, refused by the parser) or a raw DEL; a query
# string only percent-encoded.
_JSON_HINT = re.compile(rb"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\[bfnrt]|\x7f")
_QUERY_HINT = re.compile(rb"%(?:[01][0-9a-fA-F]|7[fF])|[\x00-\x1f\x7f]")
_CSV_HINT = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")
_OAUTH_PATHS = ("/auth/token",)
CODE = "control_character"
MESSAGE = ("不得包含控制字符（如 NUL）", "must not contain control characters (such as NUL)")


class TextRefused(ValidationFailed):
    """422 validation_failed; on the OAuth2 token endpoint rendered the RFC 6749 way (400 invalid_request)."""

    def __init__(self, errors: list[dict[str, Any]], *, oauth: bool = False) -> None:
        super().__init__(errors=errors)
        self.oauth = oauth


def refused(value: str, *, free_text: bool = False) -> bool:
    return (CONTROL if free_text else CONTROL_OR_BREAK).search(value) is not None


def _is_free(path: list[str | int]) -> bool:
    names = [p for p in path if isinstance(p, str)]
    return bool(names) and names[-1] in FREE_TEXT


def _dotted(path: list[str | int]) -> str:
    return ".".join(_printable(str(p)) for p in path) or "body"


def _printable(name: str) -> str:
    """A field name as it can be shown back: its control characters escaped."""
    return CONTROL_OR_BREAK.sub(lambda m: f"\\u{ord(m.group()):04x}", name)


def walk(value: Any, path: list[str | int]) -> Iterator[str]:
    """Dotted paths of the strings (and object keys) in a parsed JSON value that hold a refused character."""
    if isinstance(value, str):
        if refused(value, free_text=_is_free(path)):
            yield _dotted(path)
    elif isinstance(value, dict):
        for k, v in value.items():
            key = str(k)
            if refused(key):
                yield _dotted([*path, key])
                continue
            yield from walk(v, [*path, key])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, [*path, i])


def csv_fields(text: str) -> Iterator[str]:
    """`line.<n>.<column>` of each refused CSV cell (data rows counted from 1; the header is line 0)."""
    if '"' not in text and _CSV_HINT.search(text) is None:
        return  # no control character but the line ends, and no quoted cell that could hold a line break
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header: list[str] = []
    for n, row in enumerate(reader):
        if n == 0:
            header = [c.strip() for c in row]
        for i, cell in enumerate(row):
            column = header[i] if i < len(header) and not refused(header[i]) else str(i + 1)
            if refused(cell):
                yield f"header.{i + 1}" if n == 0 else f"line.{n}.{_printable(column)}"


def _errors(fields: Iterator[str] | list[str], english: bool) -> list[dict[str, Any]]:
    msg = MESSAGE[1] if english else MESSAGE[0]
    out, seen = [], set()
    for f in fields:
        if f not in seen:
            seen.add(f)
            out.append(field_error(f, CODE, msg))
        if len(out) >= 100:
            break
    return out


def _basic_credentials(header: str) -> list[str]:
    if header[:6].lower() != "basic ":
        return []
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return []
    return [f for f, part in zip(("client_id", "client_secret"), raw.partition(":")[::2], strict=True) if refused(part)]


async def _refusal(request: Request) -> TextRefused | None:
    """The one check: a TextRefused naming every refused field of the request, or None."""
    fields: list[str] = []
    scope = request.scope
    if _QUERY_HINT.search(scope.get("query_string", b"")):
        for k, v in request.query_params.multi_items():
            if refused(k) or refused(v):
                fields.append(f"query.{_printable(k)}")
    for name, value in request.path_params.items():
        if isinstance(value, str) and refused(value):
            fields.append(f"path.{name}")
    headers = request.headers
    key = headers.get("idempotency-key")
    if key is not None and refused(key):
        fields.append("Idempotency-Key")
    oauth = request.url.path.endswith(_OAUTH_PATHS)
    if oauth:
        fields += _basic_credentials(headers.get("authorization", ""))
    if request.method in ("POST", "PUT", "PATCH"):
        fields += await _body_fields(request, headers.get("content-type", "").lower())
    if not fields:
        return None
    from app.core.problems import wants_english

    return TextRefused(_errors(fields, wants_english(request)), oauth=oauth)


async def refuse_control_characters(request: Request) -> None:
    """Public routes (a router dependency): refuse at once — there is no role check to come first."""
    if (exc := await _refusal(request)) is not None:
        raise exc


_pending: ContextVar[TextRefused | None] = ContextVar("text_refusal", default=None)


async def defer_control_characters(request: Request) -> None:
    """Authenticated routes (a router dependency, after authentication): find the refusal now, before any
    dependency reads a string, but raise it only when the endpoint is about to run (`guard_endpoints`), so that
    API.md's order holds: 401 → 403 → step-up 403 → Idempotency-Key 400 → 422."""
    _pending.set(await _refusal(request))


def pending_refusal() -> TextRefused | None:
    """The refusal `defer_control_characters` found for the request being answered, if any."""
    return _pending.get()


def guard_endpoints(routes: Sequence[BaseRoute]) -> None:
    """Make every route that depends on `defer_control_characters` raise its refusal first thing in the endpoint.

    Run on the application's routes once they are all included: each inclusion of a route (FastAPI's route
    contexts) has a dependant of its own, and that is the one its handler calls."""
    for route in iter_route_contexts(routes):
        dependant = getattr(route, "dependant", None)  # None for plain Starlette routes (/docs, /media)
        if dependant is None or dependant.call is None:
            continue
        if not any(d.call is defer_control_characters for d in dependant.dependencies):
            continue
        call = dependant.call
        if getattr(call, "_text_checked", False):
            continue

        async def checked(__call: Callable[..., Any] = call, **values: Any) -> Any:
            if (exc := _pending.get()) is not None:
                raise exc
            return await __call(**values)

        checked._text_checked = True  # type: ignore[attr-defined]
        dependant.call = checked


async def _body_fields(request: Request, ctype: str) -> list[str]:
    if ctype.startswith("multipart/form-data") or ctype.startswith("application/x-www-form-urlencoded"):
        return await _form_fields(request)
    body = await request.body()
    if not body:
        return []
    if ctype.startswith("text/csv"):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return []  # the import answers the encoding error itself
        return list(csv_fields(text))
    if _JSON_HINT.search(body) is None:
        return []
    try:
        parsed = json.loads(body)
    except ValueError:
        return []  # not JSON: the route's own parsing answers
    return list(walk(parsed, []))


async def _form_fields(request: Request) -> list[str]:
    parsed_before = getattr(request, "_form", None) is not None
    try:
        form = await request.form()
    except Exception:  # a malformed form is the route's to refuse (FastAPI answers it)
        return []
    out = []
    for name, value in form.multi_items():
        if refused(name):
            out.append(_printable(name))
        elif isinstance(value, UploadFile):
            if value.filename is not None and refused(value.filename):
                out.append(f"{name}.filename")
        elif refused(value, free_text=name in FREE_TEXT):
            out.append(name)
    if not parsed_before and any(isinstance(v, UploadFile) for _, v in form.multi_items()):
        await form.close()  # a route that takes no form: nobody else closes the spooled files
    return out
