"""The rules' arithmetic: shares, recovery, the bridge fee — integer fen at the rounding edges."""

from __future__ import annotations

from datetime import date

import pytest

from app.risk.bridges import days_used, fee
from app.risk.claims import recovery_share, shares


@pytest.mark.parametrize(
    ("loss", "bp", "expected"),
    [
        # 1 fen: every party's share rounds down to 0, the fund takes the fen
        (1, (5000, 3000, 2000, 0), (1, 0, 0, 0)),
        # 3 fen at 3333 bp each: 0 + 0 + 0, the fund takes all 3
        (3, (3334, 3333, 3333, 0), (3, 0, 0, 0)),
        # 10 fen: bank and insurer 3.333 → 3 each, the fund 10 - 6 = 4
        (10, (3334, 3333, 3333, 0), (4, 3, 3, 0)),
        # 四位一体, 7 fen: bank 2.1→2, insurer 1.4→1, guarantor 0.7→0, the fund 7-3 = 4
        (7, (4000, 3000, 2000, 1000), (4, 2, 1, 0)),
        # 1 bp shares on a fen amount
        (9999, (9997, 1, 1, 1), (9999, 0, 0, 0)),
        (10_000, (9997, 1, 1, 1), (9997, 1, 1, 1)),
        # large: 9,999,999,999,999 fen at 3333 bp is exact in integers (a float would not be)
        (9_999_999_999_999, (3334, 3333, 3333, 0), (3_334_000_000_001, 3_332_999_999_999, 3_332_999_999_999, 0)),
        # no bank share (the fund carries everything but the insurer's)
        (5_000_000, (8000, 0, 2000, 0), (4_000_000, 0, 1_000_000, 0)),
    ],
)
def test_shares_round_down_and_the_fund_takes_the_rest(
    loss: int, bp: tuple[int, int, int, int], expected: tuple[int, int, int, int]
) -> None:
    got = shares(loss, *bp)
    assert tuple(got) == expected
    assert sum(got) == loss


def test_shares_refuse_a_scheme_not_summing_to_10000() -> None:
    with pytest.raises(AssertionError):
        shares(100, 5000, 3000, 1000, 0)


@pytest.mark.parametrize(
    ("amount", "gov_bp", "fund_share", "returned", "expected"),
    [
        (1, 5000, 100, 0, 0),  # 0.5 fen rounds down
        (3, 3333, 100, 0, 0),  # 0.9999 fen rounds down
        (300, 3333, 100, 0, 99),
        (200_000, 5000, 500_000, 0, 100_000),
        (200_000, 5000, 500_000, 450_000, 50_000),  # capped at what is left of the fund's share
        (200_000, 5000, 500_000, 500_000, 0),  # all back already
        (10**15, 10000, 10**15, 0, 10**15),
    ],
)
def test_recovery_share(amount: int, gov_bp: int, fund_share: int, returned: int, expected: int) -> None:
    assert recovery_share(amount, gov_bp, fund_share, returned) == expected


def test_bridge_fee_and_days_used() -> None:
    assert days_used(date(2026, 1, 1), date(2026, 1, 1)) == 1  # the same day counts as one
    assert days_used(date(2026, 1, 1), date(2026, 1, 31)) == 30
    assert days_used(date(2026, 2, 20), date(2026, 3, 2)) == 10
    assert fee(1_000_000, 2, 10) == 2_000  # 10,000 yuan × 0.02 % × 10 days = 20 yuan
    assert fee(4_999, 2, 1) == 0  # 0.9998 fen rounds down
    assert fee(5_000, 2, 1) == 1
    assert fee(10**15, 2, 30) == 6 * 10**12  # exact in integers
