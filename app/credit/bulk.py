"""Many new rows into one of credit's tables at once, in the session's transaction.

On PostgreSQL (asyncpg) the rows go in by `COPY … FROM STDIN` (binary): no statement to build, parse or plan,
~10× less client and server CPU than multi-row INSERTs. Values pass through the columns' own bind processors
first (JSON serialised, UTC timestamps checked), so they are stored exactly as an INSERT would store them, and
constraints and foreign keys hold as for an INSERT. Elsewhere (SQLite) the same rows go in as Core
`INSERT … VALUES` in chunks. Callers give every row the same keys: the table's columns they set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

CHUNK = 1000


async def insert_rows(session: AsyncSession, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (dicts keyed by column name) into `table` (a model class or a `Table`)."""
    if not rows:
        return
    table = table if isinstance(table, Table) else table.__table__
    conn = await session.connection()
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "asyncpg":
        await _copy(conn, table, rows)
        return
    for i in range(0, len(rows), CHUNK):
        await conn.execute(insert(table), list(rows[i : i + CHUNK]))


async def _copy(conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    columns = [c for c in table.columns if c.key in rows[0]]
    records = _records(rows, [c.key for c in columns], [c.type._cached_bind_processor(conn.dialect) for c in columns])
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")  # SQLAlchemy opens its transaction lazily, on the first statement
    try:
        await driver.copy_records_to_table(table.name, records=records, columns=[c.name for c in columns])
    except Exception as exc:
        raise await _as_sqlalchemy_error(conn, raw.dbapi_connection, table, exc) from exc


async def _as_sqlalchemy_error(conn: AsyncConnection, adapted: Any, table: Table, exc: Exception) -> Exception:
    """The error an INSERT would have raised: the driver's exception translated by SQLAlchemy's adapter and
    wrapped (`IntegrityError`, a lock or serialization failure the app answers 503), a dead connection
    invalidated so the pool drops it."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        adapted._handle_exception(exc)  # SQLAlchemy's own translation (it raises); marks a closed connection
    except dbapi.Error as translated:
        invalidated = conn.dialect.is_disconnect(translated, adapted, None)
        if invalidated:
            await conn.invalidate(translated)
        return DBAPIError.instance(
            f"COPY {table.name}",
            None,
            translated,
            dbapi.Error,
            connection_invalidated=invalidated,
            dialect=conn.dialect,
        )
    except Exception as other:
        return other
    return exc


def _records(rows: Sequence[Mapping[str, Any]], keys: list[str], processors: list[Any]) -> list[tuple[Any, ...]]:
    """Each row as a tuple in `keys` order, through the columns' bind processors (None: the value as it is)."""
    take = itemgetter(*keys) if len(keys) > 1 else (lambda r: (r[keys[0]],))
    converted = [(i, p) for i, p in enumerate(processors) if p is not None]
    if not converted:
        return [take(r) for r in rows]
    records = []
    for r in rows:
        values = list(take(r))
        for i, p in converted:
            values[i] = p(values[i])
        records.append(tuple(values))
    return records
