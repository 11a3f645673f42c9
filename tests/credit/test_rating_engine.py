"""The rating engine's seed numbers: 70/30 weighting, half-up to one decimal, the star bands, vetoes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.credit.rating_engine import composite_score, is_credit_area, parse_score, rate, stars_for

D = Decimal


@pytest.mark.parametrize(
    ("score", "rounded", "stars"),
    [
        ("95.95", "96.0", 5),
        ("95.94", "95.9", 4),
        ("100", "100.0", 5),
        ("90.95", "91.0", 4),
        ("90.94", "90.9", 3),
        ("85.95", "86.0", 3),
        ("85.94", "85.9", 2),
        ("80.95", "81.0", 2),
        ("80.94", "80.9", 1),
        ("75.95", "76.0", 1),
        ("75.94", "75.9", 0),
        ("0", "0.0", 0),
    ],
)
def test_band_edges(score: str, rounded: str, stars: int) -> None:
    r = rate(D(score), D(score))
    assert r.composite == D(rounded) and r.stars == stars
    assert r.is_credit_household is (stars > 0)


def test_seventy_thirty_weighting() -> None:
    assert composite_score(D(100), D(0)) == D("70.0")
    assert composite_score(D(0), D(100)) == D("30.0")
    # 0.7 × 97 + 0.3 × 90 = 94.9 (4★), while swapped weights would give 92.1
    assert composite_score(D(97), D(90)) == D("94.9")
    assert composite_score(D("95.93"), D("96.1")) == D("96.0")  # 67.151 + 28.83 = 95.981 → 96.0
    assert stars_for(D("96.0")) == 5 and stars_for(D("95.9")) == 4


def test_half_up_not_banker() -> None:
    # 0.7 × 86.25 + 0.3 × 86.25 = 86.25 → 86.3 (banker's rounding would also give 86.2)
    assert composite_score(D("86.25"), D("86.25")) == D("86.3")
    assert composite_score(D("86.05"), D("86.05")) == D("86.1")


def test_any_veto_means_no_stars() -> None:
    r = rate(D(100), D(100), ["criminal_record"])
    assert r.stars == 0 and r.vetoed and not r.is_credit_household


@pytest.mark.parametrize("bad", ["-0.01", "100.01", "95.955", "abc", None, True, "NaN"])
def test_parse_score_rejects(bad: object) -> None:
    assert parse_score(bad) is None


def test_parse_score_accepts() -> None:
    assert parse_score("95.95") == D("95.95") and parse_score(80) == D("80.00") and parse_score(75.5) == D("75.50")


def test_area_thresholds() -> None:
    assert is_credit_area(7, 10, D("0.70")) and not is_credit_area(69, 100, D("0.70"))
    assert is_credit_area(13, 20, D("0.65")) and not is_credit_area(12, 20, D("0.65"))
    assert not is_credit_area(0, 0, D("0.70"))
