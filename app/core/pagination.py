"""Keyset (cursor) pagination: `?limit=` 1–100 (default 20) and an opaque `?cursor=`."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import and_, or_
from sqlalchemy.sql import ColumnElement

from app.core.errors import ValidationFailed, field_error

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=100, description="每页条数 1–100")]
Cursor = Annotated[str | None, Query(max_length=512, description="上一页返回的 next_cursor")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _plain(v: Any) -> Any:
    if isinstance(v, uuid.UUID):
        return v.hex
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return v


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_plain(v) for v in values], separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed(errors=[field_error("cursor", "cursor_invalid", "分页游标无效")])


def decode_cursor(cursor: str, types: Sequence[Callable[[Any], Any]]) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError
        return [None if v is None else t(v) for t, v in zip(types, values, strict=True)]
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc


def parse_dt(v: Any) -> datetime:
    return datetime.fromisoformat(str(v))


def parse_uuid(v: Any) -> uuid.UUID:
    return uuid.UUID(str(v))


def after(columns: Sequence[tuple[Any, bool]], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order of `columns` ((column, descending) pairs)."""
    clauses = []
    for i, (col, desc) in enumerate(columns):
        eqs = [c == v for (c, _), v in zip(columns[:i], values[:i], strict=True)]
        step = col < values[i] if desc else col > values[i]
        clauses.append(and_(*eqs, step))
    return or_(*clauses)


def order_by(columns: Sequence[tuple[Any, bool]]) -> list[Any]:
    return [c.desc() if desc else c.asc() for c, desc in columns]


def page_of(rows: Sequence[T], limit: int, key: Callable[[T], Sequence[Any]]) -> tuple[list[T], str | None]:
    """Given up to limit+1 rows, the page and the cursor for the next one."""
    items = list(rows[:limit])
    nxt = encode_cursor(key(items[-1])) if len(rows) > limit and items else None
    return items, nxt
