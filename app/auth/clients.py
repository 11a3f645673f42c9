"""Bank systems' API clients: client credentials with scopes, secret shown once and stored as a keyed hash."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import sessions
from app.auth.models import ApiClient
from app.core import audit, hooks
from app.core.errors import NotFound
from app.core.pagination import after, decode_cursor, order_by, page_of, parse_dt, parse_uuid
from app.core.principal import Role
from app.core.security import constant_time_equal, create_access_token, keyed_hash, new_token

SCOPES = ("products:write", "loans:write", "demands:write")


def _secret_hash(secret: str) -> str:
    return keyed_hash(secret, "api-client-secret")


@dataclass
class Issued:
    client: ApiClient
    secret: str


async def create(
    session: AsyncSession,
    *,
    bank_id: uuid.UUID,
    name: str,
    scopes: list[str],
    created_by: uuid.UUID | None,
    demo_credentials: tuple[str, str] | None = None,
) -> Issued:
    """`demo_credentials` (client_id, secret): fixed published values, for the demo seed only."""
    client_id, secret = demo_credentials or ("pht_" + uuid.uuid4().hex, new_token(32))
    client = ApiClient(
        bank_id=bank_id,
        name=name,
        client_id=client_id,
        secret_hash=_secret_hash(secret),
        scopes=" ".join(sorted(set(scopes))),
        created_by=created_by,
    )
    session.add(client)
    await session.flush()
    await audit.record(
        session,
        action="api_client.create",
        object_type="api_client",
        object_id=client.id,
        after={"scopes": client.scopes, "bank_id": str(bank_id)},
    )
    return Issued(client, secret)


async def list_for_bank(
    session: AsyncSession, bank_id: uuid.UUID, limit: int, cursor: str | None
) -> tuple[list[ApiClient], str | None]:
    cols = [(ApiClient.created_at, True), (ApiClient.id, True)]
    q = select(ApiClient).where(ApiClient.bank_id == bank_id)
    if cursor:
        q = q.where(after(cols, decode_cursor(cursor, [parse_dt, parse_uuid])))
    rows = (await session.execute(q.order_by(*order_by(cols)).limit(limit + 1))).scalars().all()
    return page_of(rows, limit, lambda c: (c.created_at, c.id))


async def _own(session: AsyncSession, bank_id: uuid.UUID, client_id: uuid.UUID) -> ApiClient:
    client = (
        await session.execute(
            select(ApiClient).where(ApiClient.id == client_id, ApiClient.bank_id == bank_id).with_for_update()
        )
    ).scalar_one_or_none()
    if client is None:
        raise NotFound()
    return client


async def revoke(session: AsyncSession, redis: Any, *, bank_id: uuid.UUID, client_id: uuid.UUID) -> None:
    client = await _own(session, bank_id, client_id)
    if client.revoked_at is None:
        client.revoked_at = datetime.now(UTC)
        session.add(client)
        await sessions.deny_user_tokens(session, redis, client.id)
        await audit.record(
            session, action="api_client.revoke", object_type="api_client", object_id=client.id, after={"revoked": True}
        )


async def rotate(session: AsyncSession, redis: Any, *, bank_id: uuid.UUID, client_id: uuid.UUID) -> Issued:
    """A new secret; the old one and every token issued with it stop working now."""
    client = await _own(session, bank_id, client_id)
    if client.revoked_at is not None:
        raise NotFound()
    secret = new_token(32)
    client.secret_hash = _secret_hash(secret)
    client.rotated_at = datetime.now(UTC)
    session.add(client)
    await sessions.deny_user_tokens(session, redis, client.id)
    await audit.record(session, action="api_client.rotate", object_type="api_client", object_id=client.id)
    return Issued(client, secret)


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        self.status, self.error, self.description = status, error, description
        super().__init__(error)


_DUMMY = _secret_hash("no-such-client")


async def client_credentials(session: AsyncSession, client_id: str, secret: str, scope: str | None) -> dict[str, Any]:
    """RFC 6749 §4.4: a scoped access token for a live client of an active bank."""
    client = (
        await session.execute(select(ApiClient).where(ApiClient.client_id == client_id[:64]))
    ).scalar_one_or_none()
    matches = constant_time_equal(_secret_hash(secret), client.secret_hash if client else _DUMMY)
    if client is None or not matches or client.revoked_at is not None:
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    if await hooks.ask("auth.bank_active", session, bank_id=client.bank_id) is not True:  # app.banks answers
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    granted = set(client.scopes.split())
    if scope is not None and scope.strip():
        wanted = set(scope.split())
        if not wanted <= granted:
            raise OAuthError(400, "invalid_scope", "The requested scope exceeds the client's scopes")
        granted = wanted
    scope_str = " ".join(sorted(granted))
    token, _, ttl = create_access_token(
        sub=str(client.id), role=Role.bank_system, extra={"bank": str(client.bank_id), "scope": scope_str}
    )
    return {"access_token": token, "token_type": "bearer", "expires_in": ttl, "scope": scope_str}
