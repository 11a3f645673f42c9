"""The event payloads as OpenAPI webhooks (`webhooks` in the spec): one documented POST per event type."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI, Header
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, create_model

from app.core.openapi import EXTRA_HOOKS
from app.webhooks.schemas import PAYLOADS

DESCRIPTION = (
    "普惠通向银行登记的 URL 发送的事件。请求头 `X-Puhuitong-Event-Id`（同一事件重试时不变，用于去重）、"
    '`X-Puhuitong-Signature: t=<unix 秒>,v1=<HMAC-SHA256(secret, "<t>.<原始请求体>") 的十六进制>`。'
    "接收方应校验签名并拒绝时间戳过旧（如 5 分钟以上）的请求；返回 2xx 表示已收到，其他状态（含 3xx）"
    "或超时将按指数退避重试 24 小时。同一 webhook 的事件按发生顺序投递，前一事件未送达前不发送后一事件。"
)


def _envelope(event_type: str, payload: type[BaseModel]) -> type[BaseModel]:
    name = "".join(part.capitalize() for part in event_type.replace(".", "_").split("_")) + "Event"
    model: type[BaseModel] = create_model(
        name,
        id=(str, Field(description="事件 id（与 X-Puhuitong-Event-Id 相同）")),
        type=(Literal[event_type], ...),
        created_at=(datetime, ...),
        data=(payload, ...),
    )
    return model


def register(app: FastAPI) -> None:
    for event_type, payload in PAYLOADS.items():
        envelope = _envelope(event_type, payload)

        async def receiver(
            body: Any,
            x_puhuitong_event_id: str = Header(description="事件 id，重试时不变"),
            x_puhuitong_signature: str = Header(description="t=<unix 秒>,v1=<十六进制 HMAC-SHA256>"),
        ) -> None:
            """Documentation only: the bank system implements this."""

        receiver.__annotations__["body"] = envelope
        app.webhooks.add_api_route(
            event_type,
            receiver,
            methods=["POST"],
            name=f"webhook_{event_type.replace('.', '_')}",
            summary=f"事件 {event_type}",
            description=DESCRIPTION,
            tags=["webhooks"],
            status_code=200,
            responses={200: {"description": "2xx 表示已收到"}},
            generate_unique_id_function=_route_name,
        )
    if _strip_receiver_422 not in EXTRA_HOOKS:
        EXTRA_HOOKS.append(_strip_receiver_422)


def _route_name(route: APIRoute) -> str:
    return route.name


def _strip_receiver_422(schema: dict[str, Any]) -> None:
    """FastAPI adds a 422 to every operation with a body; a bank's receiver has no such contract, and its
    HTTPValidationError schema is removed from the spec."""
    for item in schema.get("webhooks", {}).values():
        for op in item.values():
            if isinstance(op, dict):
                op.get("responses", {}).pop("422", None)
