"""Who is calling: the access token becomes a `Principal`; routes declare who may call them.

Check order (API.md): authentication 401 → role or scope 403 → step-up 403 → Idempotency-Key 400 → body 422.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import revocation
from app.core.audit import actor_var
from app.core.deps import get_redis
from app.core.errors import Forbidden, StepUpRequired, TokenInvalid
from app.core.principal import BANK_ROLES, Principal, Role
from app.core.security import decode_access_token

bearer = HTTPBearer(
    auto_error=False, description="Access token from /auth/sessions, /auth/password-sessions or /auth/token"
)


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
    # A logged-out token or session, or an account cut off after this token was issued (app.auth.revocation);
    # on a step-up route the step-up mark is read in the same round trip (`require_step_up` answers from it).
    step_up_key = f"stepup:{p.sid}" if p.sid and _wants_step_up(request) else None
    revoked, stepped_up = await revocation.is_revoked(
        request.app.state.db, get_redis(request), jti=p.jti, subject=p.id.hex, sid=p.sid, iat=p.iat, also=step_up_key
    )
    if revoked:
        raise TokenInvalid()
    if step_up_key is not None:
        request.state.stepped_up = stepped_up
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
    stepped_up = getattr(request.state, "stepped_up", None)  # read with the revocation keys (get_principal)
    if stepped_up is None:
        stepped_up = bool(p.sid) and bool(await get_redis(request).exists(f"stepup:{p.sid}"))
    if not stepped_up:
        raise StepUpRequired()
    return p


def _depends_on(dependant: Any, call: Any) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in getattr(dependant, "dependencies", ()))


def _wants_step_up(request: Request) -> bool:
    """Whether the route being answered depends on `require_step_up` (found once per route, then kept on it)."""
    route = request.scope.get("route")
    if route is None:
        return False
    wants = route.__dict__.get("_wants_step_up")
    if wants is None:
        wants = _depends_on(getattr(route, "dependant", None), require_step_up)
        route._wants_step_up = wants
    return bool(wants)


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
