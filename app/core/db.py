"""The async data layer: engine, sessions, column types shared by every domain, and read replicas.

One transaction per request: `get_session` yields a session, the handler's service works in it (flush, never
commit), and the dependency commits before the response is sent (scope="function") or rolls back on error.

Read replicas (`DATABASE_READ_URLS`): routes whose reads tolerate a little lag take `ReadSessionDep` instead of
`SessionDep`. Without replicas it is the very same primary session. With replicas it is a session on a healthy
replica (round robin), unless
- the caller wrote within `DATABASE_READ_PIN_SECONDS` (read-your-writes: every committed non-GET request of a
  principal sets a marker in Redis, so the pin holds across API processes), or
- no replica is healthy: a replica is healthy when it answers, is still in recovery, and has replayed the WAL
  the primary had written at most `DATABASE_READ_MAX_LAG_SECONDS` ago. Lag is measured by LSN, not by
  `now() - pg_last_xact_replay_timestamp()` (which grows without bound on an idle primary): each check samples
  the primary's `pg_current_wal_lsn()`, and a replica's lag is the age of the newest sample its
  `pg_last_wal_replay_lsn()` has reached (0 when it has reached the current one). One check per process serves
  for `DATABASE_READ_CHECK_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import BigInteger, DateTime, MetaData, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def id_field() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def created_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def money_field(**kw: Any) -> Any:
    """Integer fen in a 64-bit column."""
    return Field(sa_type=BigInteger, **kw)


def async_url(url: str) -> str:
    """Plain `postgresql://` and `sqlite:///` URLs get the app's async drivers."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kw: Any) -> AsyncEngine:
    url = async_url(url)
    if is_sqlite(url):
        # One connection: SQLite has one writer, and a single connection serialises requests instead of
        # failing them with "database is locked".
        engine = create_async_engine(
            url, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0, pool_timeout=60, **kw
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # No pre-ping by default: it costs a round trip on every checkout. Connections are recycled after
    # pool_recycle seconds instead, and a connection found dead mid-request is invalidated by SQLAlchemy and the
    # request answered 503 (app.core.problems), so a database restart costs one retry per pooled connection.
    if not kw.pop("prepared_statements", True):
        # PgBouncer in transaction mode hands each transaction any server connection: a statement prepared on one
        # is missing on the next ("prepared statement __asyncpg_stmt_N__ does not exist"). Both caches off.
        kw["connect_args"] = {
            **kw.get("connect_args", {}),
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
        }
    opts: dict[str, Any] = {
        "pool_size": 20,
        "max_overflow": 10,
        "pool_timeout": 30,
        "pool_recycle": 1800,
        "pool_pre_ping": False,
        **kw,
    }
    return create_async_engine(url, **opts)


log = logging.getLogger("app.db")


def parse_lsn(value: str) -> int:
    """`16/B374D848` → a comparable integer."""
    high, low = value.split("/")
    return (int(high, 16) << 32) | int(low, 16)


class Replica:
    """One streaming replica: its engine and what the last health check found."""

    def __init__(self, url: str, **engine_kw: Any) -> None:
        self.url = async_url(url)
        # A replica that does not answer must not hold a request for the primary's pool timeout.
        engine_kw.setdefault("connect_args", {"timeout": 2, "command_timeout": 10})
        self.engine = make_engine(url, **engine_kw)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.healthy = False
        self.lag: float | None = None  # seconds; None when unknown (down, promoted)
        self.error: str | None = None

    def __repr__(self) -> str:
        return f"Replica({self.engine.url.render_as_string(hide_password=True)}, healthy={self.healthy})"


class Database:
    """Holds the engine and session factory for the app's lifetime (and the read replicas, if any)."""

    def __init__(
        self,
        url: str,
        *,
        read_urls: Sequence[str] = (),
        read_max_lag_seconds: float = 5.0,
        read_pin_seconds: float = 10.0,
        read_check_seconds: float = 1.0,
        read_wait_seconds: float = 0.0,
        **engine_kw: Any,
    ) -> None:
        self.url = async_url(url)
        self.engine = make_engine(url, **({} if is_sqlite(self.url) else engine_kw))
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # Replicas only behind PostgreSQL; SQLite has none.
        self.replicas = [] if self.sqlite else [Replica(u, **engine_kw) for u in read_urls]
        self.read_max_lag_seconds = read_max_lag_seconds
        self.read_pin_seconds = read_pin_seconds
        self.read_check_seconds = read_check_seconds
        self.read_wait_seconds = read_wait_seconds
        self._turn = itertools.count()
        self._checked_at = float("-inf")
        self._check_lock = asyncio.Lock()
        self._samples: deque[tuple[float, int]] = deque()  # (monotonic time, primary LSN), oldest first

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.url)

    async def dispose(self) -> None:
        await self.engine.dispose()
        for r in self.replicas:
            await r.engine.dispose()

    # ---- replica health ------------------------------------------------------------------------------------

    async def primary_lsn(self) -> int:
        async with self.engine.connect() as conn:
            return parse_lsn(str((await conn.execute(text("SELECT pg_current_wal_lsn()::text"))).scalar_one()))

    async def _probe(self, r: Replica) -> tuple[bool, int | None]:
        async with r.engine.connect() as conn:
            row = (await conn.execute(text("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text"))).one()
        return bool(row[0]), (parse_lsn(str(row[1])) if row[1] is not None else None)

    def _lag_of(self, replayed: int, now: float) -> float | None:
        """Seconds since the primary was last seen at an LSN the replica has replayed; None: not within the
        samples kept (further behind than anything tolerated)."""
        for at, lsn in reversed(self._samples):
            if lsn <= replayed:
                return 0.0 if at == self._samples[-1][0] else now - at
        return None

    async def check_replicas(self) -> None:
        """Refresh every replica's health (at most once per `read_check_seconds` unless forced by tests)."""
        now = time.monotonic()
        try:
            current = await asyncio.wait_for(self.primary_lsn(), 3)
        except Exception as exc:  # the primary itself is in trouble: its own requests will say so
            log.warning("replica check: primary LSN unavailable", extra={"fields": {"error": repr(exc)}})
            for r in self.replicas:
                r.healthy, r.lag, r.error = False, None, "primary unavailable"
            return
        self._samples.append((now, current))
        keep = self.read_max_lag_seconds + 2 * self.read_check_seconds + 1
        while len(self._samples) > 1 and self._samples[0][0] < now - keep:
            self._samples.popleft()
        results = await asyncio.gather(
            *(asyncio.wait_for(self._probe(r), 3) for r in self.replicas), return_exceptions=True
        )
        for r, res in zip(self.replicas, results, strict=True):
            was = r.healthy
            if isinstance(res, BaseException):
                r.healthy, r.lag, r.error = False, None, f"unreachable: {type(res).__name__}"
            else:
                in_recovery, replayed = res
                if not in_recovery or replayed is None:
                    r.healthy, r.lag, r.error = False, None, "not a standby"
                else:
                    r.lag = self._lag_of(replayed, now)
                    r.healthy = r.lag is not None and r.lag <= self.read_max_lag_seconds
                    r.error = None if r.healthy else "lagging"
            if was != r.healthy:
                log.warning(
                    "replica %s",
                    "back in service" if r.healthy else "skipped",
                    extra={"fields": {"replica": repr(r), "lag": r.lag, "reason": r.error}},
                )
        self._checked_at = time.monotonic()

    async def healthy_replica(self) -> Replica | None:
        if not self.replicas:
            return None
        if time.monotonic() - self._checked_at >= self.read_check_seconds and not self._check_lock.locked():
            async with self._check_lock:  # one check at a time; concurrent readers use the last result
                if time.monotonic() - self._checked_at >= self.read_check_seconds:
                    await self.check_replicas()
        healthy = [r for r in self.replicas if r.healthy]
        if not healthy:
            return None
        return healthy[next(self._turn) % len(healthy)]

    def mark_down(self, r: Replica, exc: BaseException) -> None:
        """A replica that failed mid-request is skipped until the next check finds it well again."""
        r.healthy, r.lag, r.error = False, None, f"failed: {type(exc).__name__}"
        self._checked_at = time.monotonic()

    async def caught_up(self, session: AsyncSession, target: int, within: float) -> bool:
        """Wait (in the replica session) until it has replayed `target`; False after `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            raw = (await session.execute(text("SELECT pg_last_wal_replay_lsn()::text"))).scalar_one()
            if raw is not None and parse_lsn(str(raw)) >= target:
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)

    # ---- read-your-writes ----------------------------------------------------------------------------------

    @staticmethod
    def _pin_key(caller: str) -> str:
        return f"db:pin:{caller}"

    async def pin(self, redis: Any, caller: str) -> None:
        """After `caller` committed a write: its reads stay on the primary for `read_pin_seconds`."""
        await redis.set(self._pin_key(caller), "1", px=max(1, int(self.read_pin_seconds * 1000)))

    async def pinned(self, redis: Any, caller: str) -> bool:
        return bool(await redis.exists(self._pin_key(caller)))


async def session_scope(db: Database) -> AsyncIterator[AsyncSession]:
    session = db.sessionmaker()
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()


def _connection_failure(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, (InterfaceError, OperationalError))
    return isinstance(exc, (OSError, TimeoutError))


async def note_write(request: Request) -> None:
    """Called after a request's transaction committed: pin its caller to the primary (read-your-writes).
    Nothing to do without replicas, for reads, or for anonymous callers."""
    db: Database = request.app.state.db
    if not db.replicas or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return
    try:
        await db.pin(request.app.state.redis, principal.caller_key)
    except Exception as exc:  # the write is committed; a missed pin costs at most a stale read
        log.warning("read-your-writes pin failed", extra={"fields": {"error": repr(exc)}})


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for lag-tolerant reads: a healthy replica's, else the primary's (see the module docstring).

    Declare it after the route's principal dependency (`p: BankUser, session: ReadSessionDep`): the pin is
    looked up for `request.state.principal`, which that dependency sets (tests check the order)."""
    db: Database = request.app.state.db
    replica = await db.healthy_replica() if db.replicas else None
    if replica is not None:
        principal = getattr(request.state, "principal", None)
        try:
            if principal is not None and await db.pinned(request.app.state.redis, principal.caller_key):
                replica = None
        except Exception:  # Redis unreachable: the primary is always correct
            replica = None
    target: int | None = None
    if replica is not None and db.read_wait_seconds > 0:
        target = await db.primary_lsn()
    if replica is None:
        request.state.db_role = "primary"
        async for session in session_scope(db):
            yield session
        return
    session = replica.sessionmaker()
    try:
        if target is not None and not await db.caught_up(session, target, db.read_wait_seconds):
            await session.close()
            request.state.db_role = "primary"
            async for primary in session_scope(db):
                yield primary
            return
        request.state.db_role = "replica"
        yield session
    except Exception as exc:
        if _connection_failure(exc):
            db.mark_down(replica, exc)
        raise
    finally:
        with contextlib.suppress(Exception):
            await session.close()


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


__all__ = [
    "BigInteger",
    "Database",
    "ReadSessionDep",
    "UTCDateTime",
    "async_url",
    "created_field",
    "id_field",
    "metadata",
    "money_field",
    "session_scope",
    "utcnow",
]
