"""Business events for bank systems (the webhook outbox), written in the transaction of the change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.core.db import created_field, id_field


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_bank_created", "bank_id", "created_at"),)

    id: uuid.UUID = id_field()
    type: str = Field(max_length=64)
    bank_id: uuid.UUID = Field(foreign_key="banks.id")
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = created_field()
    # Set when the worker has fanned the event out to the bank's endpoints.
    dispatched: bool = Field(default=False, index=True)
