"""Consents: what a household has agreed to share with which bank, on which wording, and when it withdrew."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field


class ConsentText(SQLModel, table=True):
    """Versioned consent wording; the newest `is_current` one is shown to farmers."""

    __tablename__ = "consent_texts"

    version: str = Field(max_length=32, primary_key=True)
    text: str = Field(max_length=4000)
    fields: list[str] = Field(default_factory=list, sa_type=JSON)
    purpose: str = Field(max_length=255)
    is_current: bool = Field(default=False, index=True)
    created_at: datetime = created_field()


class Consent(SQLModel, table=True):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_bank_household", "bank_id", "household_id"),)

    id: uuid.UUID = id_field()
    # Null for a household without an account that consented through a station agent (代办): the consent is
    # the household's, confirmed by an SMS code to its phone on record, with the agent as witness.
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id", index=True)
    household_id: uuid.UUID | None = Field(default=None, foreign_key="households.id")
    bank_id: uuid.UUID = Field(foreign_key="banks.id")
    fields: list[str] = Field(default_factory=list, sa_type=JSON)
    purpose: str = Field(max_length=255)
    wording_version: str = Field(max_length=32)
    source: str = Field(max_length=16)  # activation | offer
    source_id: uuid.UUID | None = Field(default=None)
    granted_at: datetime = created_field()
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The station agent before whom the household confirmed (with a code sent to its phone), if any.
    witness_agent_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
