"""Accounts: farmers (phone + SMS), staff, agents, regulators and admins (password)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        Index(
            "uq_users_farmer_phone",
            "phone",
            unique=True,
            postgresql_where=Column("role") == "farmer",
            sqlite_where=Column("role") == "farmer",
        ),
    )

    id: uuid.UUID = id_field()
    role: str = Field(max_length=32, index=True)
    username: str | None = Field(default=None, max_length=64, unique=True)
    password_hash: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=16, index=True)
    real_name: str | None = Field(default=None, max_length=64)
    # Resident ID: AES-GCM ciphertext plus a keyed hash for look-ups (PIPL / JR/T 0171).
    id_number_enc: str | None = Field(default=None, max_length=255)
    id_number_hash: str | None = Field(default=None, max_length=64, index=True)
    village_code: str | None = Field(default=None, max_length=12)
    household_type: str | None = Field(default=None, max_length=32)
    bank_id: uuid.UUID | None = Field(default=None, foreign_key="banks.id", index=True)
    station_id: uuid.UUID | None = Field(default=None, index=True)
    region_code: str | None = Field(default=None, max_length=12)
    is_active: bool = Field(default=True)
    sms_second_factor: bool = Field(default=False)
    created_at: datetime = created_field()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RefreshToken(SQLModel, table=True):
    """One opaque refresh token (stored as a keyed hash); a login starts a family (`family_id` = the `sid`
    claim), every refresh spends the token and adds the next one to the same family (RFC 9700 rotation)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_user_family", "user_id", "family_id"),)

    id: uuid.UUID = id_field()
    token_hash: str = Field(max_length=64, unique=True)
    family_id: str = Field(max_length=32, index=True)
    user_id: uuid.UUID = Field(foreign_key="users.id")
    family_started_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)  # idle expiry of this token
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_field()


class ApiClient(SQLModel, table=True):
    """A bank system's client credentials; the secret is stored only as a keyed hash."""

    __tablename__ = "api_clients"
    __table_args__ = (Index("ix_api_clients_bank_created", "bank_id", "created_at", "id"),)

    id: uuid.UUID = id_field()
    bank_id: uuid.UUID = Field(foreign_key="banks.id")
    name: str = Field(max_length=64)
    client_id: str = Field(max_length=64, unique=True)
    secret_hash: str = Field(max_length=64)
    scopes: str = Field(max_length=255)  # space-separated
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = created_field()
    rotated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class EnterpriseProfile(SQLModel, table=True):
    """A small business owner's enterprise: the social credit code encrypted, with a keyed hash."""

    __tablename__ = "enterprise_profiles"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", unique=True)
    name: str = Field(max_length=128)
    uscc_enc: str = Field(max_length=255)
    uscc_hash: str = Field(max_length=64, index=True)
    created_at: datetime = created_field()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeletionRequest(SQLModel, table=True):
    """A farmer's request to erase their data (PIPL Art. 47): what was erased, what was kept and why."""

    __tablename__ = "deletion_requests"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    status: str = Field(max_length=16)  # completed | restricted
    erased: str = Field(max_length=2000)  # JSON list
    kept: str = Field(max_length=4000)  # JSON list of {"what","why"}
    created_at: datetime = created_field()


class Revocation(SQLModel, table=True):
    """The record of a revoked access token, session (refresh family) or account cut-off, kept for as long as
    an access token it concerns can live. PostgreSQL is the source of truth; the `{revoked}:*` keys in Redis
    are a cache of the live rows, rebuilt from here when Redis lost them (app.auth.revocation)."""

    __tablename__ = "revocations"
    __table_args__ = (Index("ix_revocations_kind_subject", "kind", "subject"),)

    id: uuid.UUID = id_field()
    kind: str = Field(max_length=8)  # jti | sid | user
    subject: str = Field(max_length=64)  # the jti, the sid, or the account's id (hex) for `user`
    # For `user`: every token of the account issued at or before this unix time is dead. 0 for jti/sid.
    not_before: int = Field(default=0, sa_type=BigInteger)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)  # after this, no token it concerns lives
    created_at: datetime = created_field()
