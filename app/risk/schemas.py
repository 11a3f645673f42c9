"""Request bodies and answers of risk control (API.md "Risk control")."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.risk.models import BridgeStatus, ClaimStatus, EntryKind, FundKind

MAX_FEN = 10**15  # far above any fund, far below a 64-bit overflow
CountyCode = Annotated[str, Field(pattern=r"^\d{6}$", description="县区代码（6 位），如确山县 411725")]


class FundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    county_code: CountyCode
    kind: FundKind = Field(description="compensation 风险补偿金 · bridge 还贷应急周转金")
    minimum_fen: int | None = Field(
        default=None, ge=0, le=MAX_FEN, description="最低规模（分）；默认风险补偿金 3,000 万元、周转金 2,000 万元"
    )


class SharingPublic(BaseModel):
    id: uuid.UUID
    government_bp: int = Field(description="政府风险补偿金分担比例（基点）")
    bank_bp: int
    insurer_bp: int
    guarantor_bp: int
    scheme: Literal["三位一体", "四位一体"] = Field(description="无担保机构分担为三位一体，有则四位一体")
    effective_from: datetime


class FundPublic(BaseModel):
    id: uuid.UUID
    county_code: str
    kind: FundKind
    balance_fen: int
    minimum_fen: int
    below_minimum: bool = Field(description="余额低于最低规模")
    paid_out_fen: int = Field(description="累计代偿支出（分）")
    recovered_fen: int = Field(description="累计追偿冲回（分）")
    sharing: SharingPublic | None = Field(description="现行风险分担比例（仅风险补偿金）")
    created_at: datetime


class ManualEntryKind(StrEnum):
    deposit = "deposit"
    withdrawal = "withdrawal"


class EntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ManualEntryKind = Field(description="deposit 注资 · withdrawal 支取")
    amount_fen: int = Field(gt=0, le=MAX_FEN, description="金额（分）")
    note: str | None = Field(default=None, max_length=200)


class EntryPublic(BaseModel):
    id: uuid.UUID
    kind: EntryKind
    amount_fen: int
    balance_after_fen: int
    created_at: datetime
    note: str | None
    claim_id: uuid.UUID | None = None
    repayment_id: uuid.UUID | None = None
    bridge_loan_id: uuid.UUID | None = None


class SharingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    government_bp: int = Field(ge=0, le=10000, description="政府风险补偿金（基点）")
    bank_bp: int = Field(ge=0, le=10000, description="银行（基点）")
    insurer_bp: int = Field(ge=0, le=10000, description="保险机构（基点）")
    guarantor_bp: int = Field(default=0, ge=0, le=10000, description="担保机构（基点）；0 即三位一体")


class ClaimCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    drawdown_id: uuid.UUID = Field(description="本行已核销的用信")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class ClaimPublic(BaseModel):
    id: uuid.UUID
    drawdown_id: uuid.UUID
    bank_id: uuid.UUID
    county_code: str
    fund_id: uuid.UUID
    status: ClaimStatus
    loss_fen: int = Field(description="核销时的未还本金（分）")
    fund_share_fen: int = Field(description="风险补偿金承担（分），含各方向下取整后余下的零头")
    bank_share_fen: int
    insurer_share_fen: int
    guarantor_share_fen: int
    recovered_fen: int = Field(description="代偿后收回的本金（分）")
    returned_fen: int = Field(description="已冲回风险补偿金（分），不超过 fund_share_fen")
    government_bp: int = Field(description="申请时的分担比例")
    bank_bp: int
    insurer_bp: int
    guarantor_bp: int
    reason: str | None
    created_at: datetime
    decided_at: datetime | None


class BridgeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unified_social_credit_code: str = Field(min_length=18, max_length=18, description="企业统一社会信用代码")
    enterprise_name: str = Field(min_length=1, max_length=100)
    county_code: CountyCode
    amount_fen: int = Field(gt=0, le=MAX_FEN, description="周转金额（分）")
    days: int = Field(gt=0, le=3660, description="周转天数，不超过政策上限（默认 30 天）")
    loan_reference: str = Field(min_length=1, max_length=64, description="待续贷的原贷款编号")


class BridgeRepay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: int = Field(gt=0, le=MAX_FEN, description="归还的本金（分），须等于周转金额")


class BridgePublic(BaseModel):
    id: uuid.UUID
    bank_id: uuid.UUID
    county_code: str
    unified_social_credit_code: str
    enterprise_name: str
    loan_reference: str
    amount_fen: int
    days: int
    daily_fee_bp: int = Field(description="日费率（基点/日）")
    status: BridgeStatus = Field(description="requested · lent · overdue（已过 due_on 未还）· repaid · rejected")
    fee_fen: int = Field(description="资金占用费（分）= 本金 × 日费率 × 实际使用天数（至少 1 天），向下取整")
    lent_on: date | None
    due_on: date | None
    repaid_on: date | None
    reason: str | None
    created_at: datetime
