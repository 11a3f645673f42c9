"""Who is acting: the caller's identity as a plain value (no FastAPI), and the roles it can hold.

`app.auth.dependencies` turns an access token into a `Principal`; services take it as an argument. It lives in
core so that every domain can receive it without importing the auth domain.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from app.core.audit import Actor


class Role(StrEnum):
    farmer = "farmer"
    bank_staff = "bank_staff"
    bank_admin = "bank_admin"
    station_agent = "station_agent"
    regulator = "regulator"
    admin = "admin"
    bank_system = "bank_system"  # a bank's API client, never a user


STAFF_ROLES = {Role.bank_staff, Role.bank_admin, Role.station_agent, Role.regulator, Role.admin}
BANK_ROLES = {Role.bank_staff, Role.bank_admin}


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" or "client"
    id: uuid.UUID
    role: str
    jti: str
    sid: str | None = None  # refresh family (session) id; None for bank-system tokens
    bank_id: uuid.UUID | None = None
    region_code: str | None = None
    station_id: uuid.UUID | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    exp: int = 0
    iat: int = 0

    @property
    def is_client(self) -> bool:
        return self.kind == "client"

    @property
    def caller_key(self) -> str:
        """Stable per-caller key (idempotency records, rate limits)."""
        return f"{self.kind}:{self.id.hex}"

    def actor(self) -> Actor:
        return Actor(self.kind, str(self.id), self.role)
