"""The one router registry. Routes are authenticated unless they are put on the public router."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app.agents import router as agents
from app.auditlog import router as auditlog
from app.auth import me_router, staff_router
from app.auth import router as auth
from app.auth.dependencies import get_principal
from app.banks import router as banks
from app.catalog import router as catalog
from app.consents import router as consents
from app.core.text import defer_control_characters, refuse_control_characters
from app.credit import router as credit
from app.demands import router as demands
from app.drawdowns import router as drawdowns
from app.enterprises import router as enterprises
from app.notifications import router as notifications
from app.regions import router as regions
from app.risk import router as risk
from app.stations import router as stations
from app.supervision import router as supervision
from app.webhooks import router as webhooks

PROBLEM = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}

COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "请求无效 (otp_invalid, otp_expired, idempotency_key_required)", **PROBLEM},
    422: {"description": "请求参数有误 (validation_failed)", **PROBLEM},
    500: {"description": "服务器内部错误 (internal_error)", **PROBLEM},
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "未登录或令牌无效 (token_invalid)", **PROBLEM},
    403: {"description": "无权访问 (forbidden, step_up_required)", **PROBLEM},
    404: {"description": "对象不存在或不属于您 (not_found)", **PROBLEM},
    409: {"description": "与当前状态冲突", **PROBLEM},
    429: {"description": "请求过于频繁 (rate_limited)", **PROBLEM},
}

# Every string of every request refuses NUL and control characters (app.core.text), after authentication.
public_router = APIRouter(
    dependencies=[Depends(refuse_control_characters)],
    responses={**COMMON_ERRORS, 404: AUTH_ERRORS[404], 429: AUTH_ERRORS[429]},
)
protected_router = APIRouter(
    dependencies=[Depends(get_principal), Depends(defer_control_characters)],
    responses={**COMMON_ERRORS, **AUTH_ERRORS},
)

public_router.include_router(regions.public_router)
public_router.include_router(auth.public_router)
protected_router.include_router(regions.router)
protected_router.include_router(webhooks.router)
protected_router.include_router(credit.router)
protected_router.include_router(consents.router)
public_router.include_router(consents.public_router)
protected_router.include_router(auth.router)
protected_router.include_router(me_router.router)
protected_router.include_router(staff_router.router)
public_router.include_router(banks.public_router)
protected_router.include_router(banks.router)
public_router.include_router(catalog.public_router)
protected_router.include_router(catalog.bank_router)
protected_router.include_router(catalog.partner_router)
protected_router.include_router(catalog.admin_router)
protected_router.include_router(drawdowns.router)
protected_router.include_router(demands.router)
public_router.include_router(stations.public_router)
protected_router.include_router(stations.router)
protected_router.include_router(notifications.router)
protected_router.include_router(auditlog.router)
protected_router.include_router(agents.router)
protected_router.include_router(supervision.router)
protected_router.include_router(risk.router)
protected_router.include_router(enterprises.router)

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(public_router)
api_router.include_router(protected_router)
