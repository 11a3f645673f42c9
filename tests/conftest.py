"""Test harness: one migrated database per run (SQLite by default, or TEST_DATABASE_URL), Redis in-process or
TEST_REDIS_URL, the real app over ASGI, and factories that mint tokens for any role.

Tests do not share a transaction; they isolate themselves by creating their own data (their own phones, banks,
villages from the real tree), so the same tests run unchanged on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

_tmp = Path(tempfile.mkdtemp(prefix="puhuitong-test-"))
os.environ.update(
    {
        "APP_ENV": "test",
        "DATABASE_URL": os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{_tmp / 'test.db'}",
        "REDIS_URL": os.environ.get("TEST_REDIS_URL") or f"memory://test-{uuid.uuid4().hex}",
        "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
        "SMS_BACKEND": "file",
        "SMS_OUTBOX_PATH": str(_tmp / "sms-outbox.jsonl"),
        "MEDIA_ROOT": str(_tmp / "media"),
        "AUDIT_CHECKPOINT_PATH": str(_tmp / "audit-checkpoints.jsonl"),
        "WORKER_IN_PROCESS": "false",
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_TIME_COST": "1",
        "ARGON2_PARALLELISM": "1",
        "SMS_IP_PER_HOUR": "1000000",
        "SMS_GLOBAL_PER_HOUR": "1000000",
        "LOG_LEVEL": "WARNING",
        # The concurrency tests send 50 requests at once over 15 connections: on a loaded machine the default 5 s
        # wait for a connection would turn a refusal the test counts into a 503.
        "DB_POOL_TIMEOUT_SECONDS": "30",
        # Read replicas (the scale pass of .ci/run): lag-tolerant routes read from them, and each such read
        # first waits for the replica to replay what the primary had committed, so every test sees its writes.
        "DATABASE_READ_URLS": os.environ.get("TEST_DATABASE_READ_URLS", ""),
        "DATABASE_READ_WAIT_SECONDS": "10" if os.environ.get("TEST_DATABASE_READ_URLS") else "0",
    }
)

from collections.abc import AsyncIterator, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402
from alembic.config import Config  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from alembic import command  # noqa: E402
from app.core.config import ROOT, get_settings  # noqa: E402
from tests.factories import Factory  # noqa: E402
from tests.problem_check import check_problem  # noqa: E402

pytest_plugins = ["tests.fixtures_core"]


@pytest.fixture(scope="session", autouse=True)
def migrated() -> Iterator[None]:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["skip_logging"] = True
    command.upgrade(cfg, "head")
    yield


@pytest.fixture(scope="session")
async def app(migrated: None) -> AsyncIterator[FastAPI]:
    from app.main import create_app
    from app.seed import seed_regions

    application = create_app(get_settings(), start_worker=False)
    async with application.router.lifespan_context(application):
        redis = application.state.redis
        await redis.flushdb()
        async with application.state.db.sessionmaker() as s:
            await seed_regions(s)
            await s.commit()
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    hooks: dict[str, list[Any]] = {"response": [check_problem]}  # every problem the suite sees is checked
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1", event_hooks=hooks) as c:
        yield c


@pytest.fixture
async def session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking data directly; commits at the end of the test."""
    async with app.state.db.sessionmaker() as s:
        yield s
        await s.commit()


@pytest.fixture(scope="session")
def factory(app: FastAPI) -> Factory:
    return Factory(app)


@pytest.fixture
def redis(app: FastAPI) -> Any:
    return app.state.redis
