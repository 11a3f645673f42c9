"""Who is calling: the access token becomes a `Principal`; routes declare who may call them.

Check order (API.md): authentication 401 → role or scope 403 → step-up 403 → Idempotency-Key 400 → body 422.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.models import BANK_ROLES, Role
from app.core.audit import Actor, actor_var
from app.core.deps import get_redis
from app.core.errors import Forbidden, StepUpRequired, TokenInvalid
from app.core.security import decode_access_token

bearer = HTTPBearer(
    auto_error=False, description="Access token from /auth/sessions, /auth/password-sessions or /auth/token"
)


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


def revocation_keys(p: Principal) -> list[str]:
    keys = [f"revoked:jti:{p.jti}", f"revoked:user:{p.id.hex}"]
    if p.sid:
        keys.append(f"revoked:sid:{p.sid}")
    return keys


async def get_principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise TokenInvalid(("缺少访问令牌", "Missing access token"))
    claims = decode_access_token(creds.credentials)
    if claims is None:
        raise TokenInvalid()
    try:
        p = Principal(
            kind="client" if claims["role"] == Role.bank_system else "user",
            id=uuid.UUID(str(claims["sub"])),
            role=str(claims["role"]),
            jti=str(claims["jti"]),
            sid=claims.get("sid"),
            bank_id=uuid.UUID(claims["bank"]) if claims.get("bank") else None,
            region_code=claims.get("region"),
            station_id=uuid.UUID(claims["station"]) if claims.get("station") else None,
            scopes=frozenset(str(claims.get("scope", "")).split()),
            exp=int(claims["exp"]),
            iat=int(claims["iat"]),
        )
    except (ValueError, TypeError) as exc:
        raise TokenInvalid() from exc
    if p.role not in Role.__members__:
        raise TokenInvalid()
    if p.role in BANK_ROLES and p.bank_id is None:
        raise TokenInvalid()
    redis = get_redis(request)
    # One round trip, and cluster-safe: the keys live in different slots, so not MGET but a non-transactional
    # pipeline (a Redis Cluster client splits it per node).
    async with redis.pipeline(transaction=False) as pipe:
        for key in revocation_keys(p):
            pipe.get(key)
        revoked = await pipe.execute()
    # revoked:jti / revoked:sid mark a logged-out token or family; revoked:user holds a unix time before
    # which every token of that account is dead (disabled account, phone change).
    if revoked[0] or (len(revoked) > 2 and revoked[2]):
        raise TokenInvalid()
    if revoked[1] and p.iat <= int(revoked[1]):
        raise TokenInvalid()
    actor_var.set(p.actor())
    request.state.principal = p
    return p


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require(*roles: str, scopes: tuple[str, ...] = ()) -> Any:
    """Allow these user roles, and bank systems holding any of these scopes; 403 for everyone else."""
    allowed = set(roles)

    async def _check(p: CurrentPrincipal) -> Principal:
        if p.is_client:
            if scopes and p.scopes.intersection(scopes):
                return p
            raise Forbidden()
        if p.role in allowed:
            return p
        raise Forbidden()

    _check.__name__ = "require_" + "_".join(sorted(allowed) + [s.replace(":", "_") for s in scopes])
    return Depends(_check)


async def require_step_up(request: Request, p: CurrentPrincipal) -> Principal:
    if not p.sid or not await get_redis(request).exists(f"stepup:{p.sid}"):
        raise StepUpRequired()
    return p


Farmer = Annotated[Principal, require(Role.farmer)]
BankUser = Annotated[Principal, require(Role.bank_staff, Role.bank_admin)]
BankAdmin = Annotated[Principal, require(Role.bank_admin)]
Agent = Annotated[Principal, require(Role.station_agent)]
Regulator = Annotated[Principal, require(Role.regulator, Role.admin)]
Admin = Annotated[Principal, require(Role.admin)]
StepUp = Annotated[Principal, Depends(require_step_up)]


def bank_scope(scope: str) -> Any:
    """Bank staff and admins, or the bank's systems holding `scope`."""
    return Annotated[Principal, require(Role.bank_staff, Role.bank_admin, scopes=(scope,))]


PartnerProducts = Annotated[Principal, require(scopes=("products:write",))]
BankLoans = bank_scope("loans:write")
BankDemands = bank_scope("demands:write")
BankProducts = bank_scope("products:write")
