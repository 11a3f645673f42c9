from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntryPublic(BaseModel):
    id: uuid.UUID
    created_at: datetime
    actor_type: str
    actor_id: str
    actor_role: str
    action: str
    object_type: str
    object_id: str
    summary: dict[str, Any]
    request_id: str
    chain_seq: int | None
    hash: str | None
