"""The application factory: lifespan (database, Redis, in-process worker), middleware, errors, routes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import text

from app import wiring as _wiring  # noqa: F401 - every cross-domain subscription
from app.api import api_router
from app.core.config import Settings, get_settings
from app.core.db import Database
from app.core.errors import ServiceUnavailable
from app.core.heap import freeze_startup_heap
from app.core.logging import configure_logging
from app.core.middleware import BodyLimitMiddleware, RequestContextMiddleware
from app.core.problems import install_handlers, problem_response
from app.core.redis import make_redis
from app.core.text import guard_endpoints


def _operation_id(route: APIRoute) -> str:
    return route.name


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.db = Database(
        settings.database_url,
        read_urls=settings.database_read_urls,
        read_max_lag_seconds=settings.database_read_max_lag_seconds,
        read_pin_seconds=settings.database_read_pin_seconds,
        read_check_seconds=settings.database_read_check_seconds,
        read_wait_seconds=settings.database_read_wait_seconds,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        pool_recycle=settings.db_pool_recycle_seconds,
        pool_pre_ping=settings.db_pool_pre_ping,
        prepared_statements=settings.db_prepared_statements,
    )
    app.state.redis = make_redis(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        pool_timeout=settings.redis_pool_timeout_seconds,
    )
    worker_task: asyncio.Task[Any] | None = None
    if settings.run_worker_in_process and app.state.start_worker:
        from app.worker import run_forever

        worker_task = asyncio.create_task(run_forever(app.state.db, app.state.redis))
    freeze_startup_heap()  # after start-up: see app/core/heap.py
    try:
        yield
    finally:
        if worker_task is not None:
            worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await worker_task
        with contextlib.suppress(Exception):
            await app.state.redis.aclose()
        await app.state.db.dispose()


def create_app(settings: Settings | None = None, *, start_worker: bool = True) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    app = FastAPI(
        title="普惠通 API",
        version="1.0.0",
        description="驻马店普惠金融服务平台后端：授信、用信、产品供给库与需求库。金额单位为分（`_fen`），利率单位为基点（`_bp`）。",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.start_worker = start_worker
    install_handlers(app)
    app.include_router(api_router)
    guard_endpoints(app.routes)  # control characters answer after the role checks (app.core.text)
    from app.catalog.media import media_app

    app.mount(settings.media_url_prefix.rstrip("/"), media_app(settings.media_root), name="media")

    @app.get("/healthz", tags=["ops"], summary="进程存活")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="数据库与 Redis 可用", responses={503: {"description": "不可用"}})
    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            async with request.app.state.db.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(text("SELECT 1")), 3)
            checks["database"] = "ok"
        except Exception:
            checks["database"] = "unavailable"
        try:
            await asyncio.wait_for(request.app.state.redis.ping(), 3)
            checks["redis"] = "ok"
        except Exception:
            checks["redis"] = "unavailable"
        if all(v == "ok" for v in checks.values()):
            return JSONResponse({"status": "ok", **checks})
        resp = problem_response(request, ServiceUnavailable())
        return resp

    from app.core.openapi import install_openapi

    install_openapi(app)
    from app.webhooks.openapi import register as register_webhook_docs

    register_webhook_docs(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-ID",
                "Accept-Language",
            ],
            expose_headers=["X-Request-ID", "Retry-After", "ETag", "Idempotent-Replayed"],
            max_age=600,
        )
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(RequestContextMiddleware)
    return app


app = create_app()
