from __future__ import annotations

from datetime import date

import pytest

from app.core.dates import add_months
from app.drawdowns.schedule import plan


@pytest.mark.parametrize(
    ("d", "n", "want"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2025, 11, 15), 3, date(2026, 2, 15)),
        (date(2025, 12, 31), 12, date(2026, 12, 31)),
    ],
)
def test_add_months_clamps(d: date, n: int, want: date) -> None:
    assert add_months(d, n) == want


@pytest.mark.parametrize("amount", [1, 99, 1_000_000, 5_000_000, 3_333_333])
@pytest.mark.parametrize("months", [1, 7, 12, 36])
@pytest.mark.parametrize("method", ["equal_installment", "interest_first"])
def test_principal_adds_up_exactly(amount: int, months: int, method: str) -> None:
    items = plan(method, amount, 675, months, date(2025, 1, 31))
    assert len(items) == months
    assert sum(i.principal_fen for i in items) == amount
    assert all(i.principal_fen >= 0 and i.interest_fen >= 0 for i in items)
    assert items[0].due_on == date(2025, 2, 28)


def test_equal_installment_known_values() -> None:
    # 10,000 yuan, 12 months, 6% a year: payment 860.66 yuan (standard annuity table)
    items = plan("equal_installment", 1_000_000, 600, 12, date(2025, 1, 1))
    assert items[0].payment_fen == 86_066 and items[0].interest_fen == 5_000
    assert all(i.payment_fen == 86_066 for i in items[:-1])
    # the last period absorbs the rounding of the others (a few fen at most)
    assert abs(items[-1].payment_fen - 86_066) <= 12


def test_interest_first() -> None:
    items = plan("interest_first", 1_000_000, 675, 3, date(2025, 1, 1))
    # 1,000,000 × 0.0675 / 12 = 5,625 fen a month
    assert [(i.principal_fen, i.interest_fen) for i in items] == [(0, 5625), (0, 5625), (1_000_000, 5625)]


def test_half_up_rounding() -> None:
    # 1 fen at 6% a month-rate 0.005: interest 0.005 fen rounds half-up to 0; 100 fen → 0.5 → 1
    assert plan("interest_first", 100, 600, 1, date(2025, 1, 1))[0].interest_fen == 1
