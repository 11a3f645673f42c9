"""`/bank/webhooks`: a bank admin manages its bank's endpoints (API.md "Webhooks to bank systems").

`POST /bank/webhooks` takes no Idempotency-Key on purpose: its answer carries the signing secret, and a stored
replay would keep that secret in clear in the idempotency table.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from app.auth.dependencies import BankAdmin
from app.core.deps import SessionDep
from app.core.pagination import Cursor, Limit, Page
from app.webhooks import service
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import (
    DeliveryPublic,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhookTestResult,
    WebhookUpdate,
)

router = APIRouter(prefix="/bank/webhooks", tags=["webhooks"])


def _public(e: WebhookEndpoint) -> WebhookPublic:
    return WebhookPublic(
        id=e.id,
        url=e.url,
        events=list(e.events),
        enabled=e.enabled,
        consecutive_failures=e.consecutive_failures,
        disabled_reason=e.disabled_reason,
        created_at=e.created_at,
    )


def _delivery(d: WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic(
        id=d.id,
        event_id=d.event_id,
        type=d.event_type,
        status=d.status,
        attempts=d.attempts,
        last_status=d.last_status,
        last_error=d.last_error,
        delivered_at=d.delivered_at,
        next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
        created_at=d.created_at,
    )


@router.post("", status_code=201, response_model=WebhookCreated, summary="注册 webhook（密钥仅显示一次）")
async def create_webhook(p: BankAdmin, body: WebhookCreate, session: SessionDep) -> WebhookCreated:
    endpoint, secret = await service.create(session, p.bank_id, body)
    return WebhookCreated(**_public(endpoint).model_dump(), secret=secret)


@router.get("", response_model=Page[WebhookPublic], summary="本行的 webhook 列表")
async def list_webhooks(
    p: BankAdmin, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[WebhookPublic]:
    items, nxt = await service.list_endpoints(session, p.bank_id, limit, cursor)
    return Page[WebhookPublic](items=[_public(e) for e in items], next_cursor=nxt)


@router.patch("/{webhook_id}", response_model=WebhookPublic, summary="修改 webhook（enabled=false 停用）")
async def update_webhook(
    p: BankAdmin, body: WebhookUpdate, session: SessionDep, webhook_id: uuid.UUID
) -> WebhookPublic:
    return _public(await service.update(session, p.bank_id, webhook_id, body))


@router.delete("/{webhook_id}", status_code=204, summary="删除 webhook")
async def delete_webhook(p: BankAdmin, session: SessionDep, webhook_id: uuid.UUID) -> Response:
    await service.remove(session, p.bank_id, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/test", status_code=202, response_model=WebhookTestResult, summary="发送 webhook.test 测试事件"
)
async def test_webhook(p: BankAdmin, session: SessionDep, webhook_id: uuid.UUID) -> WebhookTestResult:
    event_id = await service.send_test(session, p.bank_id, webhook_id)
    return WebhookTestResult(event_id=event_id)


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryPublic], summary="webhook 投递记录")
async def list_deliveries(
    p: BankAdmin, session: SessionDep, webhook_id: uuid.UUID, limit: Limit = 20, cursor: Cursor = None
) -> Page[DeliveryPublic]:
    items, nxt = await service.deliveries(session, p.bank_id, webhook_id, limit, cursor)
    return Page[DeliveryPublic](items=[_delivery(d) for d in items], next_cursor=nxt)
