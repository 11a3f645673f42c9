"""Webhook management bodies and answers, and the payload of every event type (also in the OpenAPI spec).

Other domains import the payload models to build what they pass to `app.events.service.emit(...)`:
`emit(session, type="drawdown.submitted", bank_id=..., data=DrawdownPayload(...).model_dump(mode="json"))`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.crypto import mask_name, mask_phone
from app.events.service import EVENT_TYPES


def _check_events(v: list[str] | None) -> list[str] | None:
    if v is None:
        return v
    if not v:
        raise ValueError("至少订阅一种事件类型")
    unknown = [e for e in v if e not in EVENT_TYPES]
    if unknown:
        raise ValueError("未知的事件类型：" + "、".join(unknown))
    return list(dict.fromkeys(v))  # de-duplicated, order kept


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048, description="https URL（开发环境可用 http 与内网地址）")
    events: list[str] = Field(min_length=1, max_length=len(EVENT_TYPES), description=f"订阅的事件：{EVENT_TYPES}")

    _events = field_validator("events")(_check_events)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[str] | None = Field(default=None, max_length=len(EVENT_TYPES))
    enabled: bool | None = None

    _events = field_validator("events")(_check_events)


class WebhookPublic(BaseModel):
    id: uuid.UUID
    url: str
    events: list[str]
    enabled: bool
    consecutive_failures: int = 0
    disabled_reason: str | None = None
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(description="签名密钥，仅在创建时显示一次")


class WebhookTestResult(BaseModel):
    event_id: uuid.UUID
    type: str = "webhook.test"


class DeliveryPublic(BaseModel):
    id: uuid.UUID
    event_id: uuid.UUID
    type: str
    status: str = Field(description="pending | delivered | failed")
    attempts: int
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime


# ---- event payloads (the `data` of each delivery) ---------------------------------------------------


class PersonView(BaseModel):
    """A person as the bank may see them: masked unless the bank holds the farmer's consent."""

    name: str | None = Field(description="姓名；无授权时脱敏（张**）")
    phone: str | None = Field(description="手机号；无授权时脱敏（+86 138****5678）")
    masked: bool


def person_view(name: str | None, phone: str | None, *, consent: bool) -> dict[str, Any]:
    """What a payload may carry about a person: full only with consent, else masked (API.md masks)."""
    if consent:
        return {"name": name, "phone": phone, "masked": False}
    return {"name": mask_name(name), "phone": mask_phone(phone), "masked": True}


class DrawdownPayload(BaseModel):
    """drawdown.submitted / drawdown.cancelled: to the lead bank."""

    drawdown_id: uuid.UUID
    household_id: uuid.UUID
    amount_fen: int
    term_months: int
    purpose: str
    status: str
    borrower: PersonView


class Applicant(BaseModel):
    name: str | None
    phone: str | None


class OfferAcceptedPayload(BaseModel):
    """offer.accepted: accepting is the farmer's consent, so the applicant is in full."""

    demand_id: uuid.UUID
    offer_id: uuid.UUID
    applicant: Applicant


class ConsentWithdrawnPayload(BaseModel):
    consent_id: uuid.UUID
    household_id: uuid.UUID


class DemandCreatedPayload(BaseModel):
    """demand.created: to every bank serving the county; the applicant is masked."""

    demand_id: uuid.UUID
    county_code: str
    village_code: str
    amount_fen: int
    term_months: int
    purpose: str
    applicant: PersonView


class CertificateChangedPayload(BaseModel):
    certificate_id: uuid.UUID
    household_id: uuid.UUID
    status: str
    limit_fen: int
    change: str = Field(description="如 frozen、unfrozen、revoked、limit_changed、lead_bank_changed")


class ProductReviewedPayload(BaseModel):
    """product.approved / product.rejected."""

    product_id: uuid.UUID
    external_id: str | None
    status: str
    reasons: list[str] = Field(default_factory=list)


class WebhookTestPayload(BaseModel):
    webhook_id: uuid.UUID


class CompensationClaimPayload(BaseModel):
    """compensation_claim.paid / compensation_claim.rejected: to the bank that filed the claim."""

    claim_id: uuid.UUID
    drawdown_id: uuid.UUID
    county_code: str
    status: str
    loss_fen: int
    fund_share_fen: int
    reason: str | None = None


class BridgeLoanPayload(BaseModel):
    """bridge_loan.approved: to the bank that requested it."""

    bridge_loan_id: uuid.UUID
    county_code: str
    enterprise_name: str
    loan_reference: str
    amount_fen: int
    days: int
    due_on: date | None
    status: str


PAYLOADS: dict[str, type[BaseModel]] = {
    "drawdown.submitted": DrawdownPayload,
    "drawdown.cancelled": DrawdownPayload,
    "offer.accepted": OfferAcceptedPayload,
    "consent.withdrawn": ConsentWithdrawnPayload,
    "demand.created": DemandCreatedPayload,
    "certificate.changed": CertificateChangedPayload,
    "product.approved": ProductReviewedPayload,
    "product.rejected": ProductReviewedPayload,
    "webhook.test": WebhookTestPayload,
    "compensation_claim.paid": CompensationClaimPayload,
    "compensation_claim.rejected": CompensationClaimPayload,
    "bridge_loan.approved": BridgeLoanPayload,
}
