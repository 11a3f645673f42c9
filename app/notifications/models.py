"""In-app notifications; an SMS copy of the important ones is sent after commit by the worker."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_created", "user_id", "created_at"),
        Index("ix_notifications_bank_created", "bank_id", "created_at"),
        Index("ix_notifications_sms_pending", "sms_status"),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    bank_id: uuid.UUID | None = Field(default=None, foreign_key="banks.id")
    kind: str = Field(max_length=64)
    title: str = Field(max_length=128)
    body: str = Field(max_length=1000)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # none | pending | sent | failed: an SMS copy waiting for the worker
    sms_status: str = Field(default="none", max_length=16)
    sms_phone: str | None = Field(default=None, max_length=16)
    created_at: datetime = created_field()
