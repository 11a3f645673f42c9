from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.catalog.service import CollateralType
from app.drawdowns.schemas import Purpose

MIN_AMOUNT_FEN = 100_000  # 1,000 yuan
MAX_AMOUNT_FEN = 1_000_000_000  # 10,000,000 yuan
DESCRIPTION_MAX = 500


class DemandCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: int = Field(ge=MIN_AMOUNT_FEN, le=MAX_AMOUNT_FEN, description="需求金额（分）：1,000–10,000,000 元")
    term_months: int = Field(ge=1, le=120, description="期限（月）1–120")
    purpose: Purpose
    description: str = Field(default="", max_length=DESCRIPTION_MAX, description="用途说明，不超过 500 字")
    collateral_types: list[CollateralType] = Field(
        default_factory=list, max_length=len(CollateralType), description="可提供的抵质押物；空 = 无"
    )


class OfferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: uuid.UUID
    amount_fen: int = Field(gt=0, le=MAX_AMOUNT_FEN)
    annual_rate_bp: int = Field(gt=0, le=100_000, description="年利率（基点）")
    term_months: int = Field(ge=1, le=120)
    note: str = Field(default="", max_length=500)


class RegionRef(BaseModel):
    code: str
    name: str


class BankRef(BaseModel):
    id: uuid.UUID
    name: str


class ProductRef(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    bank: BankRef | None = None
    min_amount_fen: int
    max_amount_fen: int
    min_term_months: int
    max_term_months: int
    min_annual_rate_bp: int
    max_annual_rate_bp: int
    collateral_types: list[str]


class OfferPublic(BaseModel):
    id: uuid.UUID
    demand_id: uuid.UUID
    bank: BankRef
    product: ProductRef
    amount_fen: int
    annual_rate_bp: int
    term_months: int
    note: str
    status: str = Field(description="pending | accepted | declined | withdrawn | closed")
    created_at: datetime
    updated_at: datetime


class ApplicantView(BaseModel):
    name: str | None
    phone: str | None
    id_number: str | None
    masked: bool = Field(description="true：未获该农户对本行的授权，个人信息已脱敏")


class Audience(BaseModel):
    """One class of bank and exactly what it sees of the applicant, where, and on what basis."""

    audience: Literal["county_banks", "lead_bank", "accepted_bank"] = Field(
        description="county_banks：服务本县（或已报价）的银行，在需求库中；lead_bank：主办银行，办理授信贷款（用信）时；"
        "accepted_bank：您接受了其报价的银行，在本需求中"
    )
    banks: list[BankRef]
    where: Literal["demand", "lending"] = Field(description="demand：本融资需求；lending：授信贷款（用信）的审批与贷后")
    applicant: ApplicantView = Field(description="该类银行看到的申请人信息，与银行接口返回的完全一致")
    also: list[str] = Field(description="同时看到的其他信息")
    consent_id: uuid.UUID | None = Field(description="依据的授权记录（GET /me/consents）；null：无须授权的脱敏信息")
    summary: str = Field(description="一句话说明")


class SharedView(BaseModel):
    """What banks see: the flat fields are what every bank serving the county sees of this demand (masked);
    `audiences` lists each class of bank and exactly what it sees (serving banks, the lead bank for lending, the
    bank whose offer was accepted while that consent stands)."""

    applicant_name: str | None = Field(description="脱敏姓名（张**）")
    phone: str | None = Field(description="脱敏手机号")
    id_number: str | None = Field(description="脱敏身份证号（4117**********123X）；企业为 null")
    village: RegionRef
    stars: int | None = Field(description="信用星级；未评级为 null")
    rated: bool = Field(description="false：未评级")
    key_enterprise: bool
    amount_fen: int
    term_months: int
    purpose: str
    description: str
    collateral_types: list[str]
    banks: list[BankRef] = Field(description="服务本县、可以看到该需求的银行")
    audiences: list[Audience]


class DemandPublic(BaseModel):
    id: uuid.UUID
    status: str = Field(description="open | accepted | withdrawn | expired")
    applicant_kind: str = Field(description="household | enterprise")
    amount_fen: int
    term_months: int
    purpose: str
    description: str
    collateral_types: list[str]
    village: RegionRef
    county_code: str
    stars: int | None = Field(description="信用星级；未评级（尚无农户信用档案，或企业）为 null")
    rated: bool = Field(description="false：未评级")
    key_enterprise: bool = Field(description="申请企业已列入县区重点支持企业名录")
    expires_on: date
    accepted_offer_id: uuid.UUID | None
    filed_by_agent: bool
    offers: list[OfferPublic]
    suggested_products: list[ProductRef]
    shared_with_banks: SharedView
    created_at: datetime
    updated_at: datetime


class BankDemandPublic(BaseModel):
    id: uuid.UUID
    status: str
    applicant_kind: str
    applicant: ApplicantView
    amount_fen: int
    term_months: int
    purpose: str
    description: str
    collateral_types: list[str]
    county_code: str
    township_code: str
    village: RegionRef
    stars: int | None = Field(description="信用星级；未评级为 null")
    rated: bool = Field(description="false：未评级")
    key_enterprise: bool = Field(description="申请企业已列入县区重点支持企业名录（同分时排在前面）")
    match_score: Decimal = Field(description="0–100，见 README 的排序说明")
    match_reasons: list[str]
    matching_products: list[ProductRef]
    my_offer: OfferPublic | None
    expires_on: date
    created_at: datetime
