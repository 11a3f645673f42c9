from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class ConsentTextPublic(BaseModel):
    version: str
    text: str
    fields: list[str]
    purpose: str


class ConsentBank(BaseModel):
    id: uuid.UUID
    name: str


class ConsentPublic(BaseModel):
    id: uuid.UUID
    bank: ConsentBank
    fields: list[str]
    purpose: str
    wording_version: str
    source: str
    granted_at: datetime
    withdrawn_at: datetime | None
    active: bool
