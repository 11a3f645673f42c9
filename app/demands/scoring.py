"""How a demand is ranked for banks, and which of a bank's products can serve it.

The match score (0–100) is computed once from the demand's stored columns when it is posted (and again when the
household's stars change), so `GET /bank/demands` is an index range scan in score order:

| part | points |
|---|---|
| the household's stars | 8 per star (0–40) |
| a credit household (≥ 1★) | 10 |
| the amount fits the certificate limit its stars earn (policy table) | 15 |
| collateral on offer | 15 |
| a description of at least 20 characters | 10 |
| identity verified through a rated household (not an enterprise profile alone) | 10 |

Among equal scores a key enterprise's demand (app.enterprises list of its county) ranks first; an unrated
applicant (no household: 未评级) earns no star, credit or verified points.

Bank-specific fit is not part of the score (it would defeat the index): it is shown as `matching_products`
and a reason line, for each demand of the page, from the bank's products fetched once per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.catalog.service import TARGET_BITS, ProductKind

STAR_POINTS = 8
CREDIT_POINTS = 10
WITHIN_LIMIT_POINTS = 15
COLLATERAL_POINTS = 15
DESCRIPTION_POINTS = 10
DESCRIPTION_MIN_CHARS = 20
VERIFIED_POINTS = 10

PURPOSE_ZH = {
    "planting": "种植",
    "livestock": "养殖",
    "farm_machinery": "农机购置",
    "processing": "加工",
    "commerce": "商贸经营",
    "housing": "建房",
    "education": "教育",
    "medical": "医疗",
    "other": "其他",
}
COLLATERAL_ZH = {
    "machinery": "农机具",
    "vehicle": "车辆",
    "workshop": "厂房",
    "livestock": "活体畜禽",
    "movable_pledge": "动产质押",
    "warehouse_receipt": "仓单",
    "receivables": "应收账款",
    "insurance_policy": "保单",
    "real_estate": "不动产",
}


@dataclass(frozen=True)
class Basis:
    stars: int
    amount_fen: int
    collateral_types: Sequence[str]
    description: str
    verified: bool
    star_limit_fen: int  # the certificate limit the stars earn (0 for none)


def base_score(b: Basis) -> int:
    score = b.stars * STAR_POINTS
    if b.stars >= 1:
        score += CREDIT_POINTS
        if b.star_limit_fen and b.amount_fen <= b.star_limit_fen:
            score += WITHIN_LIMIT_POINTS
    if b.collateral_types:
        score += COLLATERAL_POINTS
    if len(b.description.strip()) >= DESCRIPTION_MIN_CHARS:
        score += DESCRIPTION_POINTS
    if b.verified:
        score += VERIFIED_POINTS
    return min(100, score)


def reasons(
    *,
    stars: int,
    collateral_types: Sequence[str],
    description: str,
    verified: bool,
    matching: int,
    certificate_covers: bool,
    rated: bool = True,
    key_enterprise: bool = False,
) -> list[str]:
    out = []
    if not rated:
        out.append("未评级（尚无信用评级信息）")
    elif stars >= 1:
        out.append(f"{stars}星信用户")
    else:
        out.append("非信用户")
    if key_enterprise:
        out.append("重点支持企业（已列入县区名录库）")
    if certificate_covers:
        out.append("授信证可用额度覆盖需求金额")
    if collateral_types:
        out.append("可提供抵质押物：" + "、".join(COLLATERAL_ZH.get(c, c) for c in collateral_types))
    if len(description.strip()) >= DESCRIPTION_MIN_CHARS:
        out.append("用途说明详细")
    if verified:
        out.append("身份已通过农户信息核验")
    out.append(f"本行有 {matching} 款产品可匹配" if matching else "本行暂无金额、期限完全匹配的产品")
    return out


def target_mask(targets: Iterable[str]) -> int:
    mask = 0
    for t in targets:
        mask |= TARGET_BITS.get(t, 0)
    return mask


@dataclass(frozen=True)
class ProductFacts:
    kind: str
    min_amount_fen: int
    max_amount_fen: int
    min_term_months: int
    max_term_months: int
    collateral_types: Sequence[str]
    target_mask: int
    county_codes: Sequence[str]
    valid_from: date | None
    valid_until: date | None


def product_fits(
    p: ProductFacts,
    *,
    county_code: str,
    amount_fen: int,
    term_months: int,
    collateral_types: Sequence[str],
    demand_targets: int,
    certificate_available_fen: int | None,
    today: date,
) -> bool:
    """A product serves the demand: county, amount and term inside its ranges, a target group the applicant is
    in (no targets = everyone), collateral it accepts (collateral-free products accept anything), valid today;
    a certificate loan also needs an active certificate whose available amount covers the demand."""
    if county_code not in p.county_codes:
        return False
    if not (
        p.min_amount_fen <= amount_fen <= p.max_amount_fen and p.min_term_months <= term_months <= p.max_term_months
    ):
        return False
    if p.target_mask and not (p.target_mask & demand_targets):
        return False
    if p.collateral_types and not set(p.collateral_types) & set(collateral_types):
        return False
    if (p.valid_from and p.valid_from > today) or (p.valid_until and p.valid_until < today):
        return False
    if p.kind == ProductKind.certificate_loan:
        return certificate_available_fen is not None and certificate_available_fen >= amount_fen
    return True


class Matcher:
    """`product_fits` for many demands against one list of products (a page of the bank feed), the same rules:
    each product's facts are prepared once — grouped by the counties it serves, its collateral as a set, the
    validity dates checked once for `today` — so that a demand only walks the products of its county. The
    items come back in the order given."""

    def __init__(self, products: Iterable[tuple[Any, ProductFacts]], today: date) -> None:
        self._by_county: dict[str, list[tuple[Any, ...]]] = {}
        for item, p in products:
            if (p.valid_from and p.valid_from > today) or (p.valid_until and p.valid_until < today):
                continue
            row = (
                item,
                p.min_amount_fen,
                p.max_amount_fen,
                p.min_term_months,
                p.max_term_months,
                p.target_mask,
                frozenset(p.collateral_types),
                p.kind == ProductKind.certificate_loan,
            )
            for county in dict.fromkeys(p.county_codes):
                self._by_county.setdefault(county, []).append(row)

    def fits(
        self,
        *,
        county_code: str,
        amount_fen: int,
        term_months: int,
        collateral_types: Sequence[str],
        demand_targets: int,
        certificate_available_fen: int | None,
    ) -> list[Any]:
        offered = frozenset(collateral_types)
        covered = certificate_available_fen is not None and certificate_available_fen >= amount_fen
        return [
            item
            for item, lo_amount, hi_amount, lo_term, hi_term, targets, accepted, certificate in self._by_county.get(
                county_code, ()
            )
            if lo_amount <= amount_fen <= hi_amount
            and lo_term <= term_months <= hi_term
            and (not targets or targets & demand_targets)
            and (not accepted or not accepted.isdisjoint(offered))
            and (covered or not certificate)
        ]


def rescore(d: Any, stars: int, star_limit_fen: int) -> int:
    """The match score of a stored demand (app.demands.models.Demand) with these stars, from its own columns."""
    return base_score(
        Basis(
            stars=stars,
            amount_fen=d.amount_fen,
            collateral_types=d.collateral_types,
            description=d.description,
            verified=d.household_id is not None,
            star_limit_fen=star_limit_fen,
        )
    )
