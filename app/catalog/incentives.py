"""守信激励 — better terms for better credit: a product's star discounts, who a product is for, and the rate a
household would get. The one place these rules live; catalog reads, `/me/credit`, offers and draw-down approvals
all call it.

Definitions (integer basis points throughout):

- `star_discounts_bp` maps stars "1"…"5" to basis points off the product's maximum rate; a missing star is 0.
  Each discount is at most `max_annual_rate_bp − min_annual_rate_bp` (the discounted maximum never falls below
  the product's minimum), and a higher star never gets less than a lower one.
- A household's stars are its rating's stars when it is a credit household, else 0 (no discount).
- Discounted maximum for a product = its ceiling − discount(stars), where the ceiling is
  `max_annual_rate_bp`, and for a certificate loan the lower of that and the certificate's `max_annual_rate_bp`.
- Discounted maximum for a certificate draw-down = the certificate's `max_annual_rate_bp` − the largest
  discount(the certificate's stars) among the lead bank's matching certificate-loan products (0 when none).
- A product matches a household when it is published and valid today at an active bank, serves the household's
  county, is for its target groups, and — for a certificate loan — the household holds a current certificate.
- Target groups: a household applicant is `farmer`, plus `registered_poor` when it is registered poor, plus the
  account's declared `household_type` (`new_agri_entity` or `small_business`); an enterprise applicant is
  `small_business`. A product with `targets` is for those groups; one without is for everyone, except the
  enterprise kinds (`sme_loan`, `poverty_enterprise_loan`), which are for `small_business` only.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Text, and_, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.banks.models import Bank
from app.catalog.models import TARGET_BITS, Product, ProductCounty, ProductKind, ProductStatus, Target
from app.core.money import percent_text

STARS = ("1", "2", "3", "4", "5")
ENTERPRISE_KINDS = frozenset({ProductKind.sme_loan.value, ProductKind.poverty_enterprise_loan.value})
MAX_MATCHING = 100


# ---- the discount table --------------------------------------------------------------------------------------


def pp(bp: int) -> str:
    """Basis points as percentage points in words: 50 → "0.5个百分点"."""
    return f"{percent_text(bp)}个百分点"


def check_discounts(discounts: Mapping[str, int], min_rate_bp: int | None, max_rate_bp: int | None) -> dict[str, int]:
    """The table in its stored form (keys ascending), or ValueError with the reason in plain words."""
    bad = [k for k in discounts if k not in STARS]
    if bad:
        raise ValueError(f"星级只能是 1–5（收到“{bad[0]}”）")
    out = {k: int(discounts[k]) for k in STARS if k in discounts}
    if min_rate_bp is not None and max_rate_bp is not None and max_rate_bp >= min_rate_bp:
        room = max_rate_bp - min_rate_bp
        for k, v in out.items():
            if v > room:
                raise ValueError(
                    f"{k}星优惠{pp(v)}超过了利率区间（最高 {percent_text(max_rate_bp)}% − 最低 "
                    f"{percent_text(min_rate_bp)}% = {pp(room)}），优惠后的利率不能低于产品最低利率"
                )
    previous = 0
    for k in STARS:
        v = out.get(k, 0)
        if v < previous:
            raise ValueError(f"星级越高优惠不能越少：{k}星优惠{pp(v)}，少于{int(k) - 1}星的{pp(previous)}")
        previous = v
    return out


def discount_for(discounts: Mapping[str, int] | str | None, stars: int) -> int:
    """`discounts` as the column holds it, or its JSON text (the matching query's rows: see `_COLUMNS`)."""
    if isinstance(discounts, str):
        discounts = _discounts_of(discounts)
    if stars <= 0 or not discounts:
        return 0
    return int(discounts.get(str(stars), 0))


@functools.lru_cache(maxsize=4096)
def _discounts_of(text: str) -> Mapping[str, int]:
    """The schedules repeat across a county's products: each distinct text is parsed once per process (the
    result is shared, so it is never mutated: `discount_for` only reads it)."""
    value = json.loads(text)
    return value if isinstance(value, dict) else {}


def household_stars(stars: int, is_credit_household: bool) -> int:
    return stars if is_credit_household else 0


@dataclass(frozen=True)
class Rate:
    """The rate a household would get on one product: the ceiling, the discount and what is left."""

    ceiling_bp: int
    discount_bp: int

    @property
    def max_bp(self) -> int:
        return self.ceiling_bp - self.discount_bp


def product_rate(
    kind: str, max_rate_bp: int, discounts: Mapping[str, int] | str | None, stars: int, certificate_cap_bp: int | None
) -> Rate:
    ceiling = max_rate_bp
    if kind == ProductKind.certificate_loan and certificate_cap_bp is not None:
        ceiling = min(ceiling, certificate_cap_bp)
    return Rate(ceiling, discount_for(discounts, stars))


def cap_text(rate: Rate, why: str, stars: int) -> str:
    """ "年利率不得超过 6.25%（授信证利率上限 6.75%，5星守信优惠 0.5个百分点）"."""
    if rate.discount_bp:
        return (
            f"年利率不得超过 {percent_text(rate.max_bp)}%（{why} {percent_text(rate.ceiling_bp)}%，"
            f"{stars}星守信优惠{pp(rate.discount_bp)}）"
        )
    return f"年利率不得超过{why} {percent_text(rate.ceiling_bp)}%"


@dataclass(frozen=True)
class Terms:
    """What a household's rates depend on (built by the credit domain; `NONE` without a linked household)."""

    stars: int = 0
    certificate_cap_bp: int | None = None
    county_code: str | None = None
    applicant_mask: int = 0


NONE = Terms()


# ---- who a product is for --------------------------------------------------------------------------------------


def applicant_targets(*, household: bool, registered_poor: bool, household_type: str | None) -> set[str]:
    targets: set[str] = set()
    if household:
        targets.add(Target.farmer.value)
        if registered_poor:
            targets.add(Target.registered_poor.value)
    else:
        targets.add(Target.small_business.value)
    if household_type in TARGET_BITS:
        targets.add(household_type)
    return targets


def household_mask(*, registered_poor: bool, household_type: str | None) -> int:
    return mask_of(applicant_targets(household=True, registered_poor=registered_poor, household_type=household_type))


def mask_of(targets: Iterable[str]) -> int:
    mask = 0
    for t in targets:
        mask |= TARGET_BITS.get(t, 0)
    return mask


def effective_target_mask(kind: str, target_mask: int) -> int:
    """The groups a product is for (0 = everyone)."""
    if target_mask:
        return target_mask
    if kind in ENTERPRISE_KINDS:
        return TARGET_BITS[Target.small_business.value]
    return 0


TARGET_ZH = {
    Target.farmer.value: "农户",
    Target.new_agri_entity.value: "新型农业经营主体",
    Target.registered_poor.value: "建档立卡贫困户",
    Target.small_business.value: "小微企业",
}


def targets_text(kind: str, target_mask: int) -> str:
    mask = effective_target_mask(kind, target_mask)
    if not mask:
        return "所有客户"
    return "、".join(zh for t, zh in TARGET_ZH.items() if mask & TARGET_BITS[t])


def serves(kind: str, target_mask: int, applicant_mask: int) -> bool:
    mask = effective_target_mask(kind, target_mask)
    return mask == 0 or bool(mask & applicant_mask)


# ---- reads ---------------------------------------------------------------------------------------------------


def _live(today: date) -> Any:
    return and_(
        Product.status == ProductStatus.published,
        col(Bank.is_active).is_(True),
        or_(col(Product.valid_from).is_(None), col(Product.valid_from) <= today),
        or_(col(Product.valid_until).is_(None), col(Product.valid_until) >= today),
    )


_COLUMNS = (
    Product.id,
    Product.name,
    Product.kind,
    Product.bank_id,
    Bank.name,
    Product.min_annual_rate_bp,
    Product.max_annual_rate_bp,
    # As text, parsed by `discount_for` once per distinct schedule: decoding the JSON of every matching product
    # on every /me/credit (hundreds in a county) was a fifth of its CPU.
    cast(Product.star_discounts_bp, Text).label("star_discounts_bp"),
    Product.target_mask,
)


async def matching_products(
    session: AsyncSession,
    *,
    county_code: str,
    applicant_mask: int,
    has_certificate: bool,
    today: date,
    bank_id: uuid.UUID | None = None,
    kind: str | None = None,
) -> list[Any]:
    """The live products matching a household (see the module's definition), rows of `_COLUMNS`."""
    stmt = (
        select(*_COLUMNS)
        .join(Bank, Bank.id == Product.bank_id)
        .where(
            col(Product.id).in_(select(ProductCounty.product_id).where(ProductCounty.county_code == county_code)),
            _live(today),
        )
        .order_by(Product.min_annual_rate_bp, Product.id)
    )
    if bank_id is not None:
        stmt = stmt.where(Product.bank_id == bank_id)
    if kind is not None:
        stmt = stmt.where(Product.kind == kind)
    rows = (await session.execute(stmt)).all()
    return [
        r
        for r in rows
        if serves(r.kind, r.target_mask, applicant_mask) and (has_certificate or r.kind != ProductKind.certificate_loan)
    ]


async def drawdown_cap(
    session: AsyncSession,
    *,
    certificate_cap_bp: int,
    lead_bank_id: uuid.UUID | None,
    county_code: str,
    applicant_mask: int,
    stars: int,
    today: date,
) -> Rate:
    """The most a lead bank may charge on a certificate draw-down: the certificate's cap less the largest discount
    for these stars among the lead bank's matching certificate-loan products."""
    discount = 0
    if stars > 0 and lead_bank_id is not None:
        rows = await matching_products(
            session,
            county_code=county_code,
            applicant_mask=applicant_mask,
            has_certificate=True,
            today=today,
            bank_id=lead_bank_id,
            kind=ProductKind.certificate_loan.value,
        )
        discount = max((discount_for(r.star_discounts_bp, stars) for r in rows), default=0)
    return Rate(certificate_cap_bp, discount)
