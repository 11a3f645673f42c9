"""The bank feed's Matcher answers what `product_fits` answers, product by product, in the same order."""

from __future__ import annotations

import random
from datetime import date, timedelta

from app.catalog.models import ProductKind
from app.demands.scoring import Matcher, ProductFacts, product_fits

COUNTIES = ["411702", "411721", "411722", "411723"]
COLLATERAL = ["machinery", "vehicle", "workshop", "livestock"]


def _facts(rng: random.Random, today: date) -> ProductFacts:
    lo, lo_term = rng.choice([0, 1_000_000, 5_000_000]), rng.choice([1, 6, 12])
    return ProductFacts(
        kind=rng.choice([ProductKind.certificate_loan, ProductKind.credit_loan, ProductKind.machinery_mortgage]),
        min_amount_fen=lo,
        max_amount_fen=lo + rng.choice([1_000_000, 10_000_000]),
        min_term_months=lo_term,
        max_term_months=lo_term + rng.choice([0, 12, 24]),
        collateral_types=rng.sample(COLLATERAL, rng.choice([0, 0, 1, 2])),
        target_mask=rng.choice([0, 0, 1, 2, 3, 4]),
        county_codes=rng.sample(COUNTIES, rng.randint(0, 3)) + ([COUNTIES[0]] if rng.random() < 0.1 else []),
        valid_from=rng.choice([None, today - timedelta(days=3), today, today + timedelta(days=1)]),
        valid_until=rng.choice([None, today + timedelta(days=3), today, today - timedelta(days=1)]),
    )


def test_the_matcher_is_product_fits_for_every_pair() -> None:
    rng = random.Random(2026)
    today = date(2026, 12, 2)
    products = [_facts(rng, today) for _ in range(120)]
    matcher = Matcher(enumerate(products), today)
    matched = 0
    for _ in range(400):
        demand = {
            "county_code": rng.choice([*COUNTIES, "419999"]),
            "amount_fen": rng.choice([0, 500_000, 1_000_000, 3_000_000, 6_000_000, 11_000_000]),
            "term_months": rng.choice([1, 6, 12, 24, 36]),
            "collateral_types": rng.sample(COLLATERAL, rng.choice([0, 1, 2])),
            "demand_targets": rng.choice([0, 1, 2, 4, 7]),
            "certificate_available_fen": rng.choice([None, 0, 2_000_000, 20_000_000]),
        }
        expected = [i for i, p in enumerate(products) if product_fits(p, **demand, today=today)]
        assert matcher.fits(**demand) == expected
        matched += len(expected)
    assert matched > 400  # the inputs do match products, not only miss them
