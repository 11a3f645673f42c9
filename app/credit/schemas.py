from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# Scores travel as JSON numbers; they are computed in Decimal and have at most two decimals.
Score = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class ImportRow(BaseModel):
    line: int
    ok: bool
    errors: list[dict[str, str]] = []


class ImportResult(BaseModel):
    created: int
    updated: int
    rejected: int
    rows: list[ImportRow]


class RatingFactorPublic(BaseModel):
    code: str
    kind: str
    label: str


class FactorExplained(BaseModel):
    code: str
    label: str


class RatingComponents(BaseModel):
    provincial_score: Score | None
    provincial_weight: Score
    village_score: Score | None
    village_weight: Score
    composite_score: Score | None


class RatingFactors(BaseModel):
    components: RatingComponents
    positives: list[FactorExplained]
    negatives: list[FactorExplained]
    vetoes: list[FactorExplained]
    explanation: str


class RatingPublic(BaseModel):
    stars: int
    composite_score: Score | None
    provincial_score: Score | None
    village_score: Score | None
    is_credit_household: bool
    vetoed: bool
    factors: RatingFactors
    rated_at: datetime | None


class LeadBank(BaseModel):
    id: uuid.UUID
    name: str


class CertificatePublic(BaseModel):
    id: uuid.UUID
    number: str
    color: str
    stars: int
    limit_fen: int
    outstanding_fen: int
    pending_fen: int
    available_fen: int
    status: str
    lead_bank: LeadBank | None
    max_annual_rate_bp: int
    issued_on: date
    expires_on: date


class VillagePublic(BaseModel):
    code: str
    name: str
    is_credit_village: bool
    isolated: bool


class TownshipPublic(BaseModel):
    code: str
    name: str
    is_credit_township: bool
    isolated: bool


class BlockedReason(BaseModel):
    code: str = Field(
        description="household_not_linked, no_certificate, certificate_not_activated, certificate_frozen, "
        "certificate_revoked, certificate_expired, overdue_loan, village_isolated, township_isolated, limit_used_up"
    )
    message: str


class DrawdownRate(BaseModel):
    """守信激励 on certificate draw-downs: the lead bank may approve at most `best_rate_bp`."""

    certificate_cap_bp: int
    star_discount_bp: int
    best_rate_bp: int


class BankRef(BaseModel):
    id: uuid.UUID
    name: str


class MatchingProduct(BaseModel):
    """A live product serving my county and open to my groups, with the best rate I would get on it."""

    product_id: uuid.UUID
    name: str
    kind: str
    bank: BankRef
    min_annual_rate_bp: int
    max_annual_rate_bp: int
    star_discount_bp: int
    best_rate_bp: int


class MyCredit(BaseModel):
    rating: RatingPublic | None
    certificate: CertificatePublic | None
    village: VillagePublic | None
    township: TownshipPublic | None
    can_draw: bool = Field(description="true exactly when a draw-down of the smallest amount would be admitted now")
    blocked_reasons: list[BlockedReason] = Field(description="why not, in the order a draw-down meets them")
    drawdown_rate: DrawdownRate | None = Field(description="null without a certificate")
    matching_products: list[MatchingProduct] = Field(description="best rate first (at most 100)")


class ActivationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lead_bank_id: uuid.UUID


class RatingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provincial_score: Decimal = Field(ge=0, le=100, decimal_places=2)
    village_score: Decimal = Field(ge=0, le=100, decimal_places=2)
    positives: list[str] = Field(default_factory=list, max_length=50)
    negatives: list[str] = Field(default_factory=list, max_length=50)
    vetoes: list[str] = Field(default_factory=list, max_length=50)
    is_registered_poor: bool | None = None


class VillageScoreUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    village_score: Decimal = Field(ge=0, le=100, decimal_places=2)


class CertificateSummary(BaseModel):
    id: uuid.UUID
    number: str
    color: str
    stars: int
    limit_fen: int
    outstanding_fen: int
    pending_fen: int
    status: str
    lead_bank_id: uuid.UUID | None
    expires_on: date


class HouseholdPublic(BaseModel):
    """Staff view: personal data masked."""

    id: uuid.UUID
    real_name: str | None
    phone: str | None
    id_number: str | None
    village_code: str
    township_code: str
    county_code: str
    is_registered_poor: bool
    provincial_score: Score | None
    village_score: Score | None
    composite_score: Score | None
    stars: int
    is_credit_household: bool
    vetoed: bool
    positives: list[str]
    negatives: list[str]
    vetoes: list[str]
    rated_at: datetime | None
    linked: bool
    certificate: CertificateSummary | None


class RatingChangePublic(BaseModel):
    id: uuid.UUID
    source: str
    actor_type: str
    actor_id: str
    actor_role: str
    before: dict[str, object] | None
    after: dict[str, object]
    created_at: datetime


class LedgerEntryPublic(BaseModel):
    id: uuid.UUID
    certificate_id: uuid.UUID
    kind: str
    old_limit_fen: int
    new_limit_fen: int
    old_status: str | None
    new_status: str
    reason: str
    created_at: datetime


class HouseholdDetail(HouseholdPublic):
    history: list[RatingChangePublic]
    ledger: list[LedgerEntryPublic]


class ObjectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)


class ObjectionResolve(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: str = Field(min_length=1, max_length=1000)
    outcome: Literal["upheld", "dismissed"] = "dismissed"


class ObjectionPublic(BaseModel):
    id: uuid.UUID
    household_id: uuid.UUID | None
    village_code: str | None
    reason: str
    status: str
    outcome: str | None
    resolution: str | None
    resolved_at: datetime | None
    created_at: datetime


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=255)


class CertificateAdminPublic(CertificateSummary):
    household_id: uuid.UUID
    status_reason: str | None
