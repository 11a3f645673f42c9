"""Money and rates as text for people (notifications, SMS, problem details), in integer arithmetic only."""

from __future__ import annotations


def yuan_text(fen: int, *, always_cents: bool = False) -> str:
    """5000000 → "50,000"; 123456 → "1,234.56"; never through a float."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    if cents == 0 and not always_cents:
        return f"{sign}{whole:,}"
    return f"{sign}{whole:,}.{cents:02d}"


def percent_text(bp: int) -> str:
    """Basis points as a percentage without trailing zeros: 675 → "6.75", 500 → "5", 480 → "4.8"."""
    sign = "-" if bp < 0 else ""
    whole, frac = divmod(abs(bp), 100)
    return f"{sign}{whole}" if frac == 0 else f"{sign}{whole}.{frac:02d}".rstrip("0")
