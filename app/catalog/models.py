"""The product supply library: products (with a draft revision beside a published one), their review history,
images, compliance policy, and the side tables the catalog queries use (counties served, search bigrams)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Index
from sqlmodel import Field, SQLModel

from app.core.db import UTCDateTime, created_field, id_field, money_field


class ProductKind(StrEnum):
    certificate_loan = "certificate_loan"
    poverty_microcredit = "poverty_microcredit"
    credit_loan = "credit_loan"
    machinery_mortgage = "machinery_mortgage"
    livestock_mortgage = "livestock_mortgage"
    warehouse_receipt_pledge = "warehouse_receipt_pledge"
    receivables_pledge = "receivables_pledge"
    insurance_policy_loan = "insurance_policy_loan"
    sme_loan = "sme_loan"
    poverty_enterprise_loan = "poverty_enterprise_loan"


class RepaymentMethod(StrEnum):
    equal_installment = "equal_installment"
    equal_principal = "equal_principal"
    interest_first = "interest_first"
    lump_sum = "lump_sum"


class CollateralType(StrEnum):
    machinery = "machinery"
    vehicle = "vehicle"
    workshop = "workshop"
    livestock = "livestock"
    movable_pledge = "movable_pledge"
    warehouse_receipt = "warehouse_receipt"
    receivables = "receivables"
    insurance_policy = "insurance_policy"
    real_estate = "real_estate"


class Target(StrEnum):
    farmer = "farmer"
    new_agri_entity = "new_agri_entity"
    registered_poor = "registered_poor"
    small_business = "small_business"


TARGET_BITS = {t.value: 1 << i for i, t in enumerate(Target)}


class ProductStatus(StrEnum):
    draft = "draft"
    pending_review = "pending_review"
    published = "published"
    withdrawn = "withdrawn"
    rejected = "rejected"


class Product(SQLModel, table=True):
    """The row holds the product's main version (the published one once published). Edits to a published
    product go to `revision` (the full content as JSON) until a regulator approves it and the two swap."""

    __tablename__ = "products"
    __table_args__ = (
        Index("uq_products_bank_external", "bank_id", "external_id", unique=True),
        Index("ix_products_catalog_newest", "status", "published_at", "id"),
        Index("ix_products_catalog_rate", "status", "min_annual_rate_bp", "id"),
        Index("ix_products_review_queue", "review_status", "submitted_at", "id"),
        Index("ix_products_bank_list", "bank_id", "created_at", "id"),
    )

    id: uuid.UUID = id_field()
    bank_id: uuid.UUID = Field(foreign_key="banks.id")
    external_id: str | None = Field(default=None, max_length=128)
    status: str = Field(default=ProductStatus.draft, max_length=16)
    # What the review queue looks at: pending_review when the main version or the revision awaits review.
    review_status: str | None = Field(default=None, max_length=16)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reject_reason: str | None = Field(default=None, max_length=500)

    name: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    description: str = Field(default="", max_length=2000)
    min_amount_fen: int = money_field()
    max_amount_fen: int = money_field()
    min_term_months: int
    max_term_months: int
    min_annual_rate_bp: int
    max_annual_rate_bp: int
    repayment_methods: list[str] = Field(default_factory=list, sa_type=JSON)
    collateral_types: list[str] = Field(default_factory=list, sa_type=JSON)
    collateral_free: bool = Field(default=True)
    guarantee_required: bool = Field(default=False)
    targets: list[str] = Field(default_factory=list, sa_type=JSON)
    target_mask: int = Field(default=0)
    county_codes: list[str] = Field(default_factory=list, sa_type=JSON)
    required_documents: list[str] = Field(default_factory=list, sa_type=JSON)
    contact_phone: str | None = Field(default=None, max_length=32)
    valid_from: date | None = None
    valid_until: date | None = None
    # 守信激励: basis points off the maximum rate by stars, {"5": 50, "4": 25} (app.catalog.incentives).
    star_discounts_bp: dict[str, int] = Field(default_factory=dict, sa_type=JSON)

    revision: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    revision_status: str | None = Field(default=None, max_length=16)
    revision_reject_reason: str | None = Field(default=None, max_length=500)

    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ProductCounty(SQLModel, table=True):
    """The counties a product's main version serves (catalog filter, regulator's region)."""

    __tablename__ = "product_counties"
    __table_args__ = (Index("ix_product_counties_county", "county_code", "product_id"),)

    product_id: uuid.UUID = Field(foreign_key="products.id", primary_key=True, ondelete="CASCADE")
    county_code: str = Field(max_length=6, primary_key=True)


class ProductTerm(SQLModel, table=True):
    """Character bigrams of the main version's name and description: a search index that serves Chinese
    on every backend (pg_trgm indexes nothing for CJK in a C-ctype database)."""

    __tablename__ = "product_terms"
    __table_args__ = (Index("ix_product_terms_product", "product_id"),)

    term: str = Field(max_length=2, primary_key=True)
    product_id: uuid.UUID = Field(foreign_key="products.id", primary_key=True, ondelete="CASCADE")


class ProductReview(SQLModel, table=True):
    __tablename__ = "product_reviews"
    __table_args__ = (Index("ix_product_reviews_product", "product_id", "created_at"),)

    id: uuid.UUID = id_field()
    product_id: uuid.UUID = Field(foreign_key="products.id", ondelete="CASCADE")
    actor_type: str = Field(max_length=16)
    actor_id: str = Field(max_length=64)
    actor_role: str = Field(max_length=32)
    decision: str = Field(max_length=16)  # submitted, approved, rejected, withdrawn
    revision: bool = Field(default=False)
    reasons: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = created_field()


class ProductImage(SQLModel, table=True):
    __tablename__ = "product_images"
    __table_args__ = (Index("ix_product_images_product", "product_id", "created_at"),)

    id: uuid.UUID = id_field()
    product_id: uuid.UUID = Field(foreign_key="products.id", ondelete="CASCADE")
    detail_name: str = Field(max_length=128)
    thumbnail_name: str = Field(max_length=128)
    width: int
    height: int
    created_at: datetime = created_field()


class ComplianceRule(SQLModel, table=True):
    """Policy data (DOMAIN.md "Automatic compliance checks"): one row per rule, editable without a release.
    check_type: `max` (field ≤ limit_value), `empty` (list field empty), `false` (flag off)."""

    __tablename__ = "compliance_rules"

    code: str = Field(max_length=64, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    field: str = Field(max_length=32)
    check_type: str = Field(max_length=8)
    limit_value: int | None = Field(default=None, sa_type=BigInteger)
    message: str = Field(max_length=200)
    enabled: bool = Field(default=True)
