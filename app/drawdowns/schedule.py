"""Repayment plans in integer fen.

Convention (documented in the README): interest accrues monthly at annual_rate_bp / 12 on the principal still
owed; every amount is computed with Decimal and rounded half-up to the fen once per period; the last period
takes the remaining principal, so the principal parts always add up to the amount exactly.

- `equal_installment` 等额本息: the same payment every month, P = A·r·(1+r)^n / ((1+r)^n − 1), rounded to the
  fen; each period's interest is the rounded interest on the balance and its principal the rest.
- `interest_first` 先息后本: the interest on the whole amount each month, the principal in the last month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from app.core.dates import add_months

FEN = Decimal(1)


@dataclass(frozen=True)
class Installment:
    period: int
    due_on: date
    principal_fen: int
    interest_fen: int

    @property
    def payment_fen(self) -> int:
        return self.principal_fen + self.interest_fen


def _fen(x: Decimal) -> int:
    return int(x.quantize(FEN, rounding=ROUND_HALF_UP))


def plan(method: str, amount_fen: int, annual_rate_bp: int, months: int, start: date) -> list[Installment]:
    if months < 1 or amount_fen <= 0:
        return []
    with localcontext() as ctx:
        ctx.prec = 50
        r = Decimal(annual_rate_bp) / Decimal(120000)
        out: list[Installment] = []
        balance = amount_fen
        if method == "interest_first":
            for k in range(1, months + 1):
                principal = amount_fen if k == months else 0
                out.append(Installment(k, add_months(start, k), principal, _fen(Decimal(amount_fen) * r)))
            return out
        if r == 0:
            payment = Decimal(amount_fen) / months
        else:
            g = (1 + r) ** months
            payment = Decimal(amount_fen) * r * g / (g - 1)
        pay = _fen(payment)
        for k in range(1, months + 1):
            interest = _fen(Decimal(balance) * r)
            principal = balance if k == months else min(balance, max(0, pay - interest))
            balance -= principal
            out.append(Installment(k, add_months(start, k), principal, interest))
        return out
