"""Product bodies (API.md "Request bodies → Product") and the answers for banks, regulators and farmers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from app.catalog import incentives
from app.catalog.models import CollateralType, ProductKind, RepaymentMethod, Target
from app.core.identity import normalize_contact_phone

Fen = Annotated[int, Field(ge=0, le=100_000_000_000)]
Months = Annotated[int, Field(ge=1, le=360)]
Bp = Annotated[int, Field(ge=0, le=10_000)]
County = Annotated[str, Field(pattern=r"^\d{6}$")]
Doc = Annotated[str, Field(min_length=1, max_length=64)]
Discounts = dict[str, Annotated[int, Field(ge=0, le=10_000)]]
DISCOUNTS_DOC = (
    '守信激励：按星级在最高利率上优惠的基点，如 {"5": 50, "4": 25}；星级 1–5，每项不超过最高与最低利率之差，'
    "星级越高优惠不少于星级低的；null 或 {} 表示没有优惠"
)
ExternalId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]

CONTENT_FIELDS = (
    "name",
    "kind",
    "description",
    "min_amount_fen",
    "max_amount_fen",
    "min_term_months",
    "max_term_months",
    "min_annual_rate_bp",
    "max_annual_rate_bp",
    "repayment_methods",
    "collateral_types",
    "guarantee_required",
    "targets",
    "county_codes",
    "required_documents",
    "contact_phone",
    "valid_from",
    "valid_until",
    "star_discounts_bp",
)


def _dedup(v: list[Any]) -> list[Any]:
    return list(dict.fromkeys(v))


def _phone(v: str | None) -> str | None:
    if v is None:
        return None
    out = normalize_contact_phone(v)
    if out is None:
        raise ValueError("联系电话格式不正确（手机、座机如 0396-1234567 或服务号如 95599）")
    return out


def check_ranges(p: Any) -> list[tuple[str, str]]:
    """(field, message) for every range whose ends are the wrong way round."""
    errs = []
    for lo, hi, label in (
        ("min_amount_fen", "max_amount_fen", "金额"),
        ("min_term_months", "max_term_months", "期限"),
        ("min_annual_rate_bp", "max_annual_rate_bp", "利率"),
        ("valid_from", "valid_until", "有效期"),
    ):
        a, b = getattr(p, lo), getattr(p, hi)
        if a is not None and b is not None and a > b:
            errs.append((hi, f"{label}上限不能小于下限"))
    return errs


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=64)
    kind: ProductKind
    description: str = Field(default="", max_length=2000)
    min_amount_fen: Fen
    max_amount_fen: Fen
    min_term_months: Months
    max_term_months: Months
    min_annual_rate_bp: Bp
    max_annual_rate_bp: Bp
    repayment_methods: list[RepaymentMethod] = Field(default_factory=list, max_length=4)
    collateral_types: list[CollateralType] = Field(default_factory=list, max_length=9)
    guarantee_required: bool = False
    targets: list[Target] = Field(default_factory=list, max_length=4)
    county_codes: list[County] = Field(min_length=1, max_length=20)
    required_documents: list[Doc] = Field(default_factory=list, max_length=20)
    contact_phone: str | None = Field(default=None, max_length=32)
    valid_from: date | None = None
    valid_until: date | None = None
    # After the rates: its check reads them.
    star_discounts_bp: Discounts = Field(default_factory=dict, max_length=5, description=DISCOUNTS_DOC)

    _dedup_lists = field_validator(
        "repayment_methods", "collateral_types", "targets", "county_codes", "required_documents"
    )(_dedup)
    _contact = field_validator("contact_phone")(_phone)

    @field_validator("star_discounts_bp", mode="before")
    @classmethod
    def _no_discounts(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("star_discounts_bp")
    @classmethod
    def _discounts(cls, v: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        return incentives.check_discounts(v, info.data.get("min_annual_rate_bp"), info.data.get("max_annual_rate_bp"))

    @model_validator(mode="after")
    def _ranges(self) -> ProductCreate:
        errs = check_ranges(self)
        if errs:
            raise ValueError("；".join(m for _, m in errs))
        return self

    def content(self) -> dict[str, Any]:
        """The stored form (JSON-ready, enums as strings): what revisions and idempotent PUTs compare."""
        return self.model_dump(mode="json")


class ProductUpdate(BaseModel):
    """Every field optional; the merged result is validated as a whole."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=2, max_length=64)
    kind: ProductKind | None = None
    description: str | None = Field(default=None, max_length=2000)
    min_amount_fen: Fen | None = None
    max_amount_fen: Fen | None = None
    min_term_months: Months | None = None
    max_term_months: Months | None = None
    min_annual_rate_bp: Bp | None = None
    max_annual_rate_bp: Bp | None = None
    repayment_methods: list[RepaymentMethod] | None = Field(default=None, max_length=4)
    collateral_types: list[CollateralType] | None = Field(default=None, max_length=9)
    guarantee_required: bool | None = None
    targets: list[Target] | None = Field(default=None, max_length=4)
    county_codes: list[County] | None = Field(default=None, min_length=1, max_length=20)
    required_documents: list[Doc] | None = Field(default=None, max_length=20)
    contact_phone: str | None = Field(default=None, max_length=32)
    valid_from: date | None = None
    valid_until: date | None = None
    star_discounts_bp: Discounts | None = Field(default=None, max_length=5, description=DISCOUNTS_DOC)

    _contact = field_validator("contact_phone")(_phone)


class PartnerProductIn(ProductCreate):
    """`PUT /partner/products/{external_id}`: the product body."""


class PartnerBatchItem(ProductCreate):
    external_id: ExternalId


class PartnerBatch(BaseModel):
    """Items are validated one by one in the service, so one bad item never refuses the whole batch."""

    model_config = ConfigDict(extra="forbid")

    items: list[Any] = Field(min_length=1, max_length=500)


class BatchItemResult(BaseModel):
    external_id: str | None
    ok: bool
    id: uuid.UUID | None = None
    status: str | None = None
    errors: list[dict[str, str]] | None = None


class BatchResult(BaseModel):
    items: list[BatchItemResult]


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=500)


class ImagePublic(BaseModel):
    id: uuid.UUID
    thumbnail_url: str
    url: str


class ReviewPublic(BaseModel):
    actor_type: str
    actor_id: str
    actor_role: str
    decision: str
    revision: bool
    reasons: list[str]
    at: datetime


class ProductContent(BaseModel):
    name: str
    kind: str
    description: str
    min_amount_fen: int
    max_amount_fen: int
    min_term_months: int
    max_term_months: int
    min_annual_rate_bp: int
    max_annual_rate_bp: int
    repayment_methods: list[str]
    collateral_types: list[str]
    collateral_free: bool
    guarantee_required: bool
    targets: list[str]
    county_codes: list[str]
    required_documents: list[str]
    contact_phone: str | None
    valid_from: date | None
    valid_until: date | None
    star_discounts_bp: dict[str, int] = Field(default_factory=dict, description=DISCOUNTS_DOC)


class RevisionPublic(ProductContent):
    status: str
    reject_reason: str | None


class BankProductPublic(ProductContent):
    """What the owning bank (and the reviewing regulator) sees."""

    id: uuid.UUID
    bank_id: uuid.UUID
    external_id: str | None
    status: str
    reject_reason: str | None
    revision: RevisionPublic | None
    submitted_at: datetime | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    images: list[ImagePublic]
    reviews: list[ReviewPublic]


class BankBrief(BaseModel):
    id: uuid.UUID
    name: str


class CatalogItem(BaseModel):
    """A small list item for slow phone networks."""

    id: uuid.UUID
    name: str
    kind: str
    bank: BankBrief
    min_amount_fen: int
    max_amount_fen: int
    min_term_months: int
    max_term_months: int
    min_annual_rate_bp: int
    max_annual_rate_bp: int
    collateral_free: bool
    guarantee_required: bool
    targets: list[str]
    star_discounts_bp: dict[str, int] = Field(default_factory=dict, description=DISCOUNTS_DOC)


class CatalogItemForMe(CatalogItem):
    """`GET /products?for_me=true`: the item with the rate this household would get."""

    my_rate_bp: int = Field(
        description="本户在该产品上可获得的最高年利率（最高利率 − 星级优惠；授信证贷款先取产品与授信证上限中较低者）"
    )
    my_discount_bp: int = Field(description="本户的星级优惠（基点）")


class CatalogProduct(ProductContent):
    id: uuid.UUID
    bank: BankBrief
    published_at: datetime | None
    images: list[ImagePublic]
