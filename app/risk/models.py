"""Risk control (风险防控体系): the counties' compensation and bridge funds with their ledgers, loss-sharing
schemes, compensation claims on written-off loans, bridge loans, and the risk policy as data.

Money moves only through conditional UPDATEs on the fund row (`balance_fen >= x`), in the transaction that
writes the ledger entry and its audit entry; the CHECK constraint is the last line against a negative balance.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field, money_field


class FundKind(StrEnum):
    compensation = "compensation"  # 风险补偿金
    bridge = "bridge"  # 还贷应急周转金


class EntryKind(StrEnum):
    deposit = "deposit"
    withdrawal = "withdrawal"
    compensation = "compensation"
    recovery = "recovery"
    bridge_out = "bridge_out"
    bridge_back = "bridge_back"


# Entries that take money out of the fund (the others put it in).
OUTFLOWS = (EntryKind.withdrawal, EntryKind.compensation, EntryKind.bridge_out)


class ClaimStatus(StrEnum):
    submitted = "submitted"
    paid = "paid"
    rejected = "rejected"


class BridgeStatus(StrEnum):
    requested = "requested"
    lent = "lent"
    overdue = "overdue"
    repaid = "repaid"
    rejected = "rejected"


class RiskFund(SQLModel, table=True):
    __tablename__ = "risk_funds"
    __table_args__ = (
        UniqueConstraint("county_code", "kind", name="uq_risk_funds_county_kind"),
        CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
        CheckConstraint("minimum_fen >= 0 AND paid_out_fen >= 0 AND recovered_fen >= 0", name="figures_positive"),
    )

    id: uuid.UUID = id_field()
    county_code: str = Field(max_length=6)
    kind: str = Field(max_length=16)
    balance_fen: int = money_field(default=0)
    minimum_fen: int = money_field()
    # Running totals of compensation entries paid out and recovery entries returned.
    paid_out_fen: int = money_field(default=0)
    recovered_fen: int = money_field(default=0)
    created_at: datetime = created_field()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FundEntry(SQLModel, table=True):
    """The ledger: one row per change of a fund's balance, with the balance after it."""

    __tablename__ = "risk_fund_entries"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("balance_after_fen >= 0", name="balance_after_not_negative"),
        # the ledger, newest first
        Index("ix_risk_fund_entries_fund_created", "fund_id", "created_at", "id"),
        # one recovery per repayment
        Index("uq_risk_fund_entries_repayment", "repayment_id", unique=True),
    )

    id: uuid.UUID = id_field()
    fund_id: uuid.UUID = Field(foreign_key="risk_funds.id")
    kind: str = Field(max_length=16)
    amount_fen: int = money_field()
    balance_after_fen: int = money_field()
    note: str | None = Field(default=None, max_length=200)
    claim_id: uuid.UUID | None = Field(default=None, foreign_key="compensation_claims.id")
    repayment_id: uuid.UUID | None = Field(default=None, foreign_key="drawdown_repayments.id")
    bridge_loan_id: uuid.UUID | None = Field(default=None, foreign_key="bridge_loans.id", index=True)
    created_at: datetime = created_field()


class SharingScheme(SQLModel, table=True):
    """A county's loss-sharing ratios from `created_at` on; a change adds a row (the history stays)."""

    __tablename__ = "risk_sharing_schemes"
    __table_args__ = (
        CheckConstraint(
            "government_bp >= 0 AND bank_bp >= 0 AND insurer_bp >= 0 AND guarantor_bp >= 0", name="bp_not_negative"
        ),
        CheckConstraint("government_bp + bank_bp + insurer_bp + guarantor_bp = 10000", name="bp_sum"),
        Index("ix_risk_sharing_schemes_fund_created", "fund_id", "created_at", "id"),
    )

    id: uuid.UUID = id_field()
    fund_id: uuid.UUID = Field(foreign_key="risk_funds.id")
    government_bp: int
    bank_bp: int
    insurer_bp: int
    guarantor_bp: int
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = created_field()


class CompensationClaim(SQLModel, table=True):
    __tablename__ = "compensation_claims"
    __table_args__ = (
        UniqueConstraint("drawdown_id", name="uq_compensation_claims_drawdown"),
        CheckConstraint(
            "loss_fen > 0 AND fund_share_fen + bank_share_fen + insurer_share_fen + guarantor_share_fen = loss_fen",
            name="shares_add_up",
        ),
        CheckConstraint("returned_fen >= 0 AND returned_fen <= fund_share_fen", name="returned_in_range"),
        Index("ix_compensation_claims_bank_created", "bank_id", "created_at", "id"),
        Index("ix_compensation_claims_county_status_created", "county_code", "status", "created_at", "id"),
        Index("ix_compensation_claims_status_created", "status", "created_at", "id"),
    )

    id: uuid.UUID = id_field()
    drawdown_id: uuid.UUID = Field(foreign_key="drawdowns.id")
    bank_id: uuid.UUID = Field(foreign_key="banks.id")
    county_code: str = Field(max_length=6)
    fund_id: uuid.UUID = Field(foreign_key="risk_funds.id")
    # The scheme in force when the claim was filed, copied so that a later change never touches it.
    scheme_id: uuid.UUID = Field(foreign_key="risk_sharing_schemes.id")
    government_bp: int
    bank_bp: int
    insurer_bp: int
    guarantor_bp: int
    status: str = Field(max_length=16)
    loss_fen: int = money_field()
    fund_share_fen: int = money_field()
    bank_share_fen: int = money_field()
    insurer_share_fen: int = money_field()
    guarantor_share_fen: int = money_field()
    # Principal repaid on the loan since the claim was paid, and the part of it returned to the fund.
    recovered_fen: int = money_field(default=0)
    returned_fen: int = money_field(default=0)
    reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_field()
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BridgeLoan(SQLModel, table=True):
    """A short bridge for an enterprise repaying one loan before its renewal (还贷应急周转)."""

    __tablename__ = "bridge_loans"
    __table_args__ = (
        CheckConstraint("amount_fen > 0 AND days > 0 AND fee_fen >= 0", name="figures_positive"),
        Index("ix_bridge_loans_bank_created", "bank_id", "created_at", "id"),
        Index("ix_bridge_loans_county_status_created", "county_code", "status", "created_at", "id"),
        Index("ix_bridge_loans_status_due", "status", "due_on"),
    )

    id: uuid.UUID = id_field()
    bank_id: uuid.UUID = Field(foreign_key="banks.id")
    county_code: str = Field(max_length=6)
    # The enterprise's code, encrypted at rest (JR/T 0171); shown to the bank that filed it and the regulator.
    uscc_enc: str = Field(max_length=255)
    enterprise_name: str = Field(max_length=100)
    loan_reference: str = Field(max_length=64)
    amount_fen: int = money_field()
    days: int
    # The policy's daily fee rate when the bridge was requested (basis points of the principal per day).
    daily_fee_bp: int
    status: str = Field(max_length=16)
    fee_fen: int = money_field(default=0)
    lent_on: date | None = Field(default=None)
    due_on: date | None = Field(default=None)
    repaid_on: date | None = Field(default=None)
    reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_field()
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RiskPolicy(SQLModel, table=True):
    """Risk policy as data: one row, id 1; these defaults apply when it is absent.

    Minimums are the seed's (30,000,000 and 20,000,000 yuan, in fen); the bridge's maximum days and daily fee
    are policy defaults (DOMAIN.md)."""

    __tablename__ = "risk_policy"

    id: int = Field(default=1, primary_key=True)
    compensation_minimum_fen: int = money_field(default=3_000_000_000)
    bridge_minimum_fen: int = money_field(default=2_000_000_000)
    bridge_max_days: int = Field(default=30)
    # 万分之二 per day of the principal, rounded down.
    bridge_daily_fee_bp: int = Field(default=2)
    updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
