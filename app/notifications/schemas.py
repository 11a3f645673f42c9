from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NotificationPublic(BaseModel):
    id: uuid.UUID
    kind: str
    title: str
    body: str
    data: dict[str, Any]
    read: bool
    read_at: datetime | None
    created_at: datetime


class NotificationPage(BaseModel):
    items: list[NotificationPublic]
    next_cursor: str | None = None
    unread_count: int


class NotificationRead(BaseModel):
    """`{"ids": [...]}` marks those (only the caller's own count); `{}` or `{"all": true}` marks all."""

    model_config = ConfigDict(extra="forbid")

    ids: list[uuid.UUID] | None = Field(default=None, max_length=100)
    all: bool | None = None


class NotificationReadResult(BaseModel):
    marked: int
    unread_count: int
