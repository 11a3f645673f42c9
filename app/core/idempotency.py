"""`Idempotency-Key` handling (API.md "Idempotency"; Stripe's design).

The record lives in the same database transaction as the effect, so a retry can never pay twice: a Redis
lock only marks the first request as in flight, and a unique constraint on (caller, key) is the last line.
Only answers of requests that reached the business step are stored (2xx and 409/422 business refusals).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, get_args, get_origin

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import JSON, Index, Row, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from app.core.db import created_field, id_field, utcnow
from app.core.deps import get_redis
from app.core.errors import (
    AppError,
    IdempotencyKeyInFlight,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    ValidationFailed,
    field_error,
)
from app.core.principal import Principal
from app.core.problems import PROBLEM_JSON, problem_body

log = logging.getLogger("app.idempotency")

TTL = timedelta(hours=24)
LOCK_MS = 60_000


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_records"
    __table_args__ = (Index("uq_idempotency_records_caller_key", "caller", "key", unique=True),)

    id: uuid.UUID = id_field()
    caller: str = Field(max_length=80)
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    status_code: int
    media_type: str = Field(max_length=64)
    body: Any = Field(sa_type=JSON)
    created_at: datetime = created_field()


_RECORD_COLUMNS = (
    IdempotencyRecord.id,
    IdempotencyRecord.fingerprint,
    IdempotencyRecord.status_code,
    IdempotencyRecord.media_type,
    IdempotencyRecord.body,
    IdempotencyRecord.created_at,
)


def _json(payload: Any) -> Any:
    """What `jsonable_encoder` returns (a model: its JSON-mode dump by alias), without walking the dump again."""
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json", by_alias=True)
    return jsonable_encoder(payload)


def _valid_key(key: str) -> bool:
    return 1 <= len(key) <= 255 and all(32 < ord(c) < 127 for c in key)


class Idempotency:
    def __init__(self, request: Request, principal: Principal, key: str | None) -> None:
        self.request = request
        self.principal = principal
        self.key = key
        self.lock_key: str | None = None
        self.stored = False  # the record is written in this request's transaction

    def fingerprint(self, body: Any) -> str:
        # A model dumped in JSON mode is already what `jsonable_encoder` would return.
        data = (
            body.model_dump(mode="json", exclude_unset=True) if isinstance(body, BaseModel) else jsonable_encoder(body)
        )
        canon = json.dumps(
            {"method": self.request.method, "path": self.request.url.path, "body": data},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canon.encode()).hexdigest()

    async def _find(self, session: AsyncSession) -> Row[Any] | None:
        # Plain columns, not an ORM object: a record is only read to be replayed.
        rec = (
            await session.execute(
                select(*_RECORD_COLUMNS).where(
                    IdempotencyRecord.caller == self.principal.caller_key, IdempotencyRecord.key == self.key
                )
            )
        ).one_or_none()
        if rec is not None and rec.created_at < utcnow() - TTL:
            await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == rec.id))
            return None
        return rec

    def _replay(self, rec: Row[Any], fp: str) -> Response:
        if rec.fingerprint != fp:
            raise IdempotencyKeyReused()
        return JSONResponse(
            rec.body,
            status_code=rec.status_code,
            media_type=rec.media_type,
            headers={"Idempotent-Replayed": "true", "Cache-Control": "no-store"},
        )

    async def run(
        self,
        session: AsyncSession,
        body: Any,
        work: Callable[[], Awaitable[tuple[int, Any]]],
    ) -> Response:
        """Do `work` once per (caller, key); `work` returns (status, payload)."""
        if self.key is None:
            status, payload = await work()
            return JSONResponse(_json(payload), status_code=status)
        fp = self.fingerprint(body)
        redis = get_redis(self.request)
        lock_key = f"idem:{self.principal.caller_key}:{hashlib.sha256(self.key.encode()).hexdigest()}"
        got = await redis.set(lock_key, "1", nx=True, px=LOCK_MS)
        if got:
            self.lock_key = lock_key
        existing = await self._find(session)
        if existing is not None:
            return self._replay(existing, fp)
        if not got:
            raise IdempotencyKeyInFlight()
        media_type = "application/json"
        try:
            async with session.begin_nested():
                status, payload = await work()
                body_json = _json(payload)
        except AppError as err:
            if err.status not in (409, 422) or isinstance(err, ValidationFailed):
                raise
            status, body_json, media_type = err.status, problem_body(self.request, err), PROBLEM_JSON
        # A Core insert (no unit of work, no savepoint): a unique violation here means another request with
        # this key committed first, and the 409 rolls this whole transaction back (the session dependency).
        try:
            await session.execute(
                insert(IdempotencyRecord).values(
                    id=uuid.uuid4(),
                    caller=self.principal.caller_key,
                    key=self.key,
                    fingerprint=fp,
                    status_code=status,
                    media_type=media_type,
                    body=body_json,
                    created_at=utcnow(),
                )
            )
        except IntegrityError as exc:
            raise IdempotencyKeyInFlight() from exc
        self.stored = True
        headers = {"Cache-Control": "no-store"}
        return JSONResponse(body_json, status_code=status, media_type=media_type, headers=headers)

    async def release(self) -> None:
        """Runs after the response was sent: a Redis error here can no longer change the answer, so it is logged
        once and swallowed (the lock expires by itself after LOCK_MS).

        When the record was committed the lock is left to expire: every later request with the key finds the
        record (the unique key on (caller, key) is what holds) and replays it, so deleting the lock would only
        cost a round trip. It is deleted when nothing was stored, so that a retry need not wait for it."""
        if not self.lock_key:
            return
        key, self.lock_key = self.lock_key, None
        if self.stored:
            return
        try:
            await get_redis(self.request).delete(key)
        except Exception:
            log.warning("idempotency lock not released (it expires in %d s)", LOCK_MS // 1000, exc_info=True)


def _caller(request: Request) -> Principal:
    """Keys are per caller: the principal the authentication dependency (which runs first, on the protected
    router) put on the request."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise RuntimeError("Idempotency-Key on a route without authentication")
    return principal


def _key_from_header(value: str | None) -> str | None:
    if value is None:
        return None
    if not _valid_key(value):
        raise ValidationFailed(
            errors=[
                field_error(
                    "Idempotency-Key",
                    "idempotency_key_invalid",
                    "Idempotency-Key 须为 1–255 个可打印 ASCII 字符",
                )
            ]
        )
    return value


@contextlib.asynccontextmanager
async def _released(idem: Idempotency) -> AsyncIterator[None]:
    try:
        yield
    except BaseException:
        idem.stored = False  # the transaction (and the record with it) did not commit
        raise
    finally:
        await idem.release()


async def optional_idempotency(
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    idem = Idempotency(request, _caller(request), _key_from_header(idempotency_key))
    async with _released(idem):
        yield idem


async def required_idempotency(
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    if idempotency_key is None:
        raise IdempotencyKeyRequired()
    idem = Idempotency(request, _caller(request), _key_from_header(idempotency_key))
    async with _released(idem):
        yield idem


# The lock is released after the response is sent (scope="request"), i.e. after the transaction committed.
IdempotencyOptional = Annotated[Idempotency, Depends(optional_idempotency, scope="request")]
IdempotencyRequired = Annotated[Idempotency, Depends(required_idempotency, scope="request")]


def _after_principals(params: list[inspect.Parameter]) -> int:
    """Where the key's dependency goes: right after the route's last principal dependency (authentication, role,
    step-up), so that API.md's order holds (… step-up 403 → Idempotency-Key 400 → body 422)."""
    pos = 0
    for i, param in enumerate(params):
        if get_origin(param.annotation) is Annotated and get_args(param.annotation)[0] is Principal:
            pos = i + 1
    return pos


def idempotent(
    *, required: bool = False
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Response]]]:
    """The idempotent route, once: the endpoint returns its payload and `Idempotency.run` does it once per
    (caller, key), storing the answer (the route's `status_code`) with the effect and replaying it.

    The endpoint must take `session` (the request's transaction) and `body` (what the key's fingerprint covers);
    the `Idempotency-Key` header (required or optional) is added to its signature after its principal
    dependencies. Use it under the route decorator: `@router.post(...)` then `@idempotent(required=True)`."""
    dependency = IdempotencyRequired if required else IdempotencyOptional

    def decorate(endpoint: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Response]]:
        sig = inspect.signature(endpoint, eval_str=True)
        params = list(sig.parameters.values())
        names = {p.name for p in params}
        if not {"session", "body"} <= names or "idem" in names:
            raise TypeError(f"{endpoint.__name__}: an idempotent route takes `session` and `body` (and no `idem`)")
        params.insert(
            _after_principals(params),
            inspect.Parameter("idem", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=dependency),
        )

        @functools.wraps(endpoint)
        async def route(idem: Idempotency, **values: Any) -> Response:
            async def work() -> tuple[int, Any]:
                payload = await endpoint(**values)
                return getattr(idem.request.scope.get("route"), "status_code", None) or 200, payload

            return await idem.run(values["session"], values["body"], work)

        route.__signature__ = sig.replace(parameters=params, return_annotation=Response)  # type: ignore[attr-defined]
        return route

    return decorate
