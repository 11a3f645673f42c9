"""Plain ASGI middleware (BaseHTTPMiddleware costs a third of throughput): request id, access log,
security and cache headers, and request body limits."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.core.errors import PayloadTooLarge
from app.core.logging import request_id_var

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("app.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MB = 1024 * 1024

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")


def body_limit_for(path: str) -> int:
    if path.endswith("/admin/ratings/import") or path.endswith("/admin/regions/import"):
        return 20 * MB
    if path.endswith("/partner/products/batch"):
        return 5 * MB
    if path.endswith("/images"):
        return 5 * MB + 64 * 1024  # the image itself is checked at 5 MB; this leaves room for multipart framing
    return 1 * MB


class RequestContextMiddleware:
    """Request id in, echoed out and in every log line; security headers; no-store by default."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for k, v in scope.get("headers", []):
            if k == b"x-request-id":
                rid = v.decode("latin-1")
                break
        if not _REQUEST_ID.match(rid):
            rid = uuid.uuid4().hex
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status_holder = [0]
        path: str = scope.get("path", "")
        is_docs = path.startswith(("/docs", "/redoc", "/openapi.json"))

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers.append((b"x-request-id", rid.encode()))
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in names)
                if not is_docs and b"content-security-policy" not in names:
                    headers.append(API_CSP)
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                extra={
                    "fields": {
                        "method": scope.get("method"),
                        "path": path,
                        "status": status_holder[0],
                        "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                    }
                },
            )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """413 for bodies over the path's limit, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(scope.get("path", ""))
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    announced = int(v)
                except ValueError:
                    announced = 0
                if announced > limit:
                    await _reject_too_large(scope, send)
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge()
            return message

        await self.app(scope, limited_receive, send)


async def _reject_too_large(scope: Scope, send: Send) -> None:
    from starlette.requests import Request

    from app.core.problems import problem_response

    request = Request(scope)
    response = problem_response(request, PayloadTooLarge())
    await response(scope, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}
