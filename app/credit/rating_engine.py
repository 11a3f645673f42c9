"""The rating engine: pure functions in `Decimal` (DOMAIN.md "Credit information", seed numbers).

composite = 0.7 × provincial + 0.3 × village, rounded half-up to one decimal; stars by the seed's bands on the
rounded composite; any veto → not a credit household. Positives and negatives are recorded and explained, never
added: the village group weighs them in its 30 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

PROVINCIAL_WEIGHT = Decimal("0.7")  # seed
VILLAGE_WEIGHT = Decimal("0.3")  # seed
ONE_DECIMAL = Decimal("0.1")
TWO_DECIMALS = Decimal("0.01")
MIN_SCORE, MAX_SCORE = Decimal(0), Decimal(100)
# (threshold, stars), highest first — seed: 96–100 → 5★, 91–95 → 4★, 86–90 → 3★, 81–85 → 2★, 76–80 → 1★.
STAR_BANDS: tuple[tuple[Decimal, int], ...] = (
    (Decimal(96), 5),
    (Decimal(91), 4),
    (Decimal(86), 3),
    (Decimal(81), 2),
    (Decimal(76), 1),
)


@dataclass(frozen=True)
class Rating:
    composite: Decimal
    stars: int
    is_credit_household: bool
    vetoed: bool


def parse_score(value: object) -> Decimal | None:
    """A score 0–100 with at most two decimals, or None when it is not one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite() or d < MIN_SCORE or d > MAX_SCORE:
        return None
    if d != d.quantize(TWO_DECIMALS):
        return None
    return d.quantize(TWO_DECIMALS)


def composite_score(provincial: Decimal, village: Decimal) -> Decimal:
    raw = PROVINCIAL_WEIGHT * provincial + VILLAGE_WEIGHT * village
    return raw.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def stars_for(composite: Decimal) -> int:
    for threshold, stars in STAR_BANDS:
        if composite >= threshold:
            return stars
    return 0


def rate(provincial: Decimal, village: Decimal, vetoes: list[str] | tuple[str, ...] = ()) -> Rating:
    composite = composite_score(provincial, village)
    vetoed = bool(vetoes)
    stars = 0 if vetoed else stars_for(composite)
    return Rating(composite=composite, stars=stars, is_credit_household=stars > 0, vetoed=vetoed)


def is_credit_area(part: int, whole: int, ratio: Decimal) -> bool:
    """part / whole ≥ ratio, exactly (no floats); an empty area is not a credit area."""
    return whole > 0 and Decimal(part) >= ratio * Decimal(whole)
