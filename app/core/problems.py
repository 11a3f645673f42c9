"""Rendering of every error as RFC 9457 problem+json, and the handlers that do it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeout
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.core.errors import (
    AppError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from app.core.messages import validation_message
from app.core.text import CONTROL_OR_BREAK, TextRefused, pending_refusal

log = logging.getLogger("app.errors")
PROBLEM_JSON = "application/problem+json"
PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "code", "errors"})

# Chinese messages for pydantic's error types; the English text is pydantic's own.
_ZH: dict[str, str] = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许的字段",
    "int_type": "须为整数",
    "int_parsing": "须为整数",
    "int_from_float": "须为整数",
    "float_type": "须为数字",
    "float_parsing": "须为数字",
    "decimal_type": "须为数字",
    "decimal_parsing": "须为数字",
    "decimal_max_places": "小数位数过多",
    "decimal_max_digits": "数字位数过多",
    "decimal_whole_digits": "整数位数过多",
    "bool_type": "须为布尔值",
    "bool_parsing": "须为布尔值",
    "string_type": "须为字符串",
    "string_too_short": "长度不足",
    "string_too_long": "长度超出限制",
    "string_pattern_mismatch": "格式不正确",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "list_type": "须为列表",
    "too_short": "条目过少",
    "too_long": "条目过多",
    "dict_type": "须为对象",
    "model_type": "须为对象",
    "model_attributes_type": "须为对象",
    "json_invalid": "JSON 格式错误",
    "json_type": "JSON 格式错误",
    "date_type": "须为日期（YYYY-MM-DD）",
    "date_parsing": "须为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "须为日期（YYYY-MM-DD）",
    "datetime_type": "须为时间（RFC 3339）",
    "datetime_parsing": "须为时间（RFC 3339）",
    "datetime_from_date_parsing": "须为时间（RFC 3339）",
    "uuid_type": "须为有效的 ID",
    "uuid_parsing": "须为有效的 ID",
    "url_parsing": "须为有效的网址",
    "url_scheme": "网址协议不被允许",
    "url_type": "须为有效的网址",
    "set_type": "须为列表",
    "union_tag_invalid": "取值不在允许范围内",
    "value_error": "取值无效",
    "assertion_error": "取值无效",
    "finite_number": "须为有限数字",
}


def wants_english(request: Request) -> bool:
    lang = request.headers.get("accept-language", "")
    return lang.strip().lower().startswith("en")


def _instance(path: str) -> str:
    """The request path, a control character in it percent-encoded back (it is shown to the client)."""
    return CONTROL_OR_BREAK.sub(lambda m: f"%{ord(m.group()):02X}", path)


def problem_body(request: Request, err: AppError) -> dict[str, Any]:
    en = wants_english(request)
    body: dict[str, Any] = {
        "type": f"urn:puhuitong:problem:{err.code}",
        "title": err.title[1] if en else err.title[0],
        "status": err.status,
        "detail": err.detail[1] if en else err.detail[0],
        "instance": _instance(request.url.path),
        "code": err.code,
    }
    if err.errors is not None:
        body["errors"] = err.errors
    # RFC 9457's own members (and ours) are never overwritten by an extra: a clashing extra is renamed
    # (`status` → `current_status`), so `status` stays the HTTP status whatever a service passes.
    clashing = {k: v for k, v in err.extra.items() if k in PROBLEM_MEMBERS}
    body.update((k, v) for k, v in err.extra.items() if k not in PROBLEM_MEMBERS)
    for key, value in clashing.items():
        while key in PROBLEM_MEMBERS or key in body:
            key = f"current_{key}"
        body[key] = value
    return body


def problem_response(request: Request, err: AppError) -> JSONResponse:
    headers = {"Cache-Control": "no-store", **err.headers}
    return JSONResponse(problem_body(request, err), status_code=err.status, headers=headers, media_type=PROBLEM_JSON)


def _field(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form", "file"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


def validation_errors(exc: RequestValidationError, english: bool) -> list[dict[str, str]]:
    out = []
    for e in exc.errors():
        typ = str(e.get("type", "value_error"))
        msg = str(e.get("msg", ""))
        chinese = any("\u4e00" <= ch <= "\u9fff" for ch in msg)
        if not english and not chinese and (plain := validation_message(e)) is not None:
            msg = plain  # app.core.messages: plain words, limits in the user's units
        elif not english:
            if typ == "value_error" and msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            elif typ in _ZH and not any("\u4e00" <= ch <= "\u9fff" for ch in msg):
                msg = _ZH[typ]
                ctx = e.get("ctx") or {}
                for k in ("ge", "gt", "le", "lt", "min_length", "max_length", "max_places"):
                    if k in ctx:
                        msg = f"{msg}（{k}={ctx[k]}）"
        out.append({"field": _field(tuple(e.get("loc", ()))), "code": typ, "message": msg})
    return out


# PostgreSQL refusing new connections: too_many_connections, cannot_connect_now (starting/shutting down).
_OVERLOAD_SQLSTATES = {"53300", "57P03"}
RETRY_AFTER_SECONDS = 1


def overloaded(exc: BaseException) -> bool:
    """The database or Redis could not serve the request now (no pooled connection within the bounded wait, the server
    refusing connections, or a connection that died): a retry later can succeed, nothing was written."""
    if isinstance(exc, (PoolTimeout, RedisConnectionError, RedisTimeout)):
        return True  # includes Redis's MaxConnectionsError and its blocking pool's wait running out
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        state = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "__cause__", None), "sqlstate", None)
        return state in _OVERLOAD_SQLSTATES
    return False


def unavailable_response(request: Request) -> JSONResponse:
    err = ServiceUnavailable(
        ("服务繁忙，请稍后重试", "The service is busy; retry shortly"),
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        extra={"retry_after": RETRY_AFTER_SECONDS},
    )
    return problem_response(request, err)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        if isinstance(exc, TextRefused) and exc.oauth:  # POST /auth/token answers the RFC 6749 way
            fields = ", ".join(e["field"] for e in exc.errors or [])
            body = {"error": "invalid_request", "error_description": f"Control characters are not allowed: {fields}"}
            return JSONResponse(body, status_code=400, headers={"Cache-Control": "no-store"})
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errs = validation_errors(exc, wants_english(request))
        # The body failed its schema before the endpoint could raise a control-character refusal found for
        # the same request (app.core.text): one 422 names both.
        if (refusal := pending_refusal()) is not None:
            errs += [e for e in refusal.errors or [] if e not in errs]
        return problem_response(request, ValidationFailed(errors=errs))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        err: AppError
        if exc.status_code == 404:
            err = NotFound()
        elif exc.status_code == 405:
            err = MethodNotAllowed()
        elif exc.status_code == 413:
            err = PayloadTooLarge()
        elif exc.status_code == 415:
            err = UnsupportedMediaType()
        elif exc.status_code == 400:
            # Starlette's only 400 is a body it could not parse (e.g. bytes that are not UTF-8 JSON).
            err = ValidationFailed(
                errors=[{"field": "body", "code": "json_invalid", "message": "请求体不是有效的 JSON"}]
            )
        else:
            err = InternalError()
        resp = problem_response(request, err)
        if exc.status_code == 405 and exc.headers and "Allow" in exc.headers:
            resp.headers["Allow"] = exc.headers["Allow"]
        return resp

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(DBAPIError)
    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeout)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # The session dependency has rolled the transaction back before this runs: nothing half-written.
        if overloaded(exc):
            log.warning("database unavailable: %s: %s", type(exc).__name__, str(exc).splitlines()[0][:200])
            return unavailable_response(request)
        log.error("unhandled error", exc_info=exc)
        return problem_response(request, InternalError())

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        if overloaded(exc):
            return unavailable_response(request)
        log.error("unhandled error", exc_info=exc)
        return problem_response(request, InternalError())
