from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.drawdowns.models import DrawdownStatus

MAX_FEN = 10**15  # far above any limit, far below a 64-bit overflow


class Purpose(StrEnum):
    planting = "planting"
    livestock = "livestock"
    farm_machinery = "farm_machinery"
    processing = "processing"
    commerce = "commerce"
    housing = "housing"
    education = "education"
    medical = "medical"
    other = "other"


class DrawdownRepaymentMethod(StrEnum):
    equal_installment = "equal_installment"
    interest_first = "interest_first"


# A name of its own in the OpenAPI document (the catalog has a wider RepaymentMethod): clients generate both.
RepaymentMethod = DrawdownRepaymentMethod


class DrawdownCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: int = Field(gt=0, le=MAX_FEN, description="金额（分）")
    term_months: int = Field(description="期限（月），政策范围内（默认 1–36）")
    purpose: Purpose
    repayment_method: RepaymentMethod = RepaymentMethod.equal_installment


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    annual_rate_bp: int = Field(gt=0, le=100000, description="年利率（基点），不超过授信证上限")


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


class DisburseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disbursed_on: date | None = Field(default=None, description="放款日（中国日期），默认今天，不得晚于今天")


class RepaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: int = Field(description="归还本金（分）")
    paid_on: date


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    months: int = Field(ge=1, le=120)


class RenewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    term_months: int


class RepaymentPublic(BaseModel):
    amount_fen: int
    paid_on: date


class InstallmentPublic(BaseModel):
    period: int
    due_on: date
    principal_fen: int
    interest_fen: int
    payment_fen: int


class SchedulePublic(BaseModel):
    method: RepaymentMethod
    annual_rate_bp: int
    # True before approval (the certificate's cap stands in for the rate) and before disbursement (dates from
    # today).
    estimated: bool
    total_principal_fen: int
    total_interest_fen: int
    items: list[InstallmentPublic]


class DrawdownPublic(BaseModel):
    id: uuid.UUID
    status: DrawdownStatus
    amount_fen: int
    outstanding_fen: int
    annual_rate_bp: int | None
    term_months: int
    purpose: Purpose
    repayment_method: RepaymentMethod
    submitted_on: date
    approved_on: date | None
    approval_expires_on: date | None
    disbursed_on: date | None
    due_on: date | None
    extended_months: int
    renewed_from_id: uuid.UUID | None
    renewed_to_id: uuid.UUID | None
    reason: str | None
    repayments: list[RepaymentPublic]
    schedule: SchedulePublic
    created_at: datetime
    updated_at: datetime | None


class BorrowerPublic(BaseModel):
    household_id: uuid.UUID
    # Choosing the lead bank (启信) is the household's consent for it to see its identity for lending (DOMAIN.md):
    # name, resident ID and phone in full while that consent stands; masked once it is withdrawn.
    real_name: str = Field(description="姓名；授权撤回后脱敏")
    phone: str | None
    id_number: str | None = Field(description="身份证号：启信授权有效时完整显示，否则脱敏")
    village_code: str
    is_registered_poor: bool
    stars: int
    masked: bool = Field(description="true：该农户对本行的启信授权已撤回（或不在），身份信息已脱敏")
    consent_id: uuid.UUID | None = Field(description="依据的启信授权记录")


class DrawdownCertificateSummary(BaseModel):
    id: uuid.UUID
    number: str
    color: str
    stars: int
    limit_fen: int
    outstanding_fen: int
    pending_fen: int
    available_fen: int
    status: str
    max_annual_rate_bp: int
    expires_on: date


# A name of its own in the OpenAPI document (app.credit has another CertificateSummary).
CertificateSummary = DrawdownCertificateSummary


class BankDrawdownPublic(DrawdownPublic):
    borrower: BorrowerPublic
    certificate: CertificateSummary
