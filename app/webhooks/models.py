"""Webhook endpoints a bank registers, and one delivery row per endpoint × event (the delivery log)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_bank_created", "bank_id", "created_at", "id"),)

    id: uuid.UUID = id_field()
    bank_id: uuid.UUID = Field(foreign_key="banks.id")
    url: str = Field(max_length=2048)
    events: list[str] = Field(default_factory=list, sa_type=JSON)
    # AES-GCM ciphertext of the signing secret: it is needed in clear to sign, so it is encrypted, not hashed.
    secret_enc: str = Field(max_length=255)
    enabled: bool = Field(default=True)
    consecutive_failures: int = Field(default=0)
    disabled_reason: str | None = Field(default=None, max_length=64)
    created_at: datetime = created_field()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """status: pending (due at next_attempt_at) | delivered | failed (gave up after the retry window)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        # the claim query: pending rows by endpoint in event order (head of each endpoint's queue)
        Index("ix_webhook_deliveries_endpoint_pending", "endpoint_id", "status", "event_created_at", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: uuid.UUID = id_field()
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoints.id", ondelete="CASCADE")
    event_id: uuid.UUID = Field(foreign_key="events.id")
    event_type: str = Field(max_length=64)
    event_created_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    last_status: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=300)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    # A claim: the worker holding lease_id owns the row until lease_until; a crashed worker's lease expires.
    lease_id: uuid.UUID | None = Field(default=None)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_field()
