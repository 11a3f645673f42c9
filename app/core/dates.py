"""Calendar rules of API.md: dates are China dates; adding months clamps to the month's end."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

# China Standard Time has had no daylight saving since 1991: a fixed offset needs no tz database.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def china_today() -> date:
    return datetime.now(UTC).astimezone(CHINA).date()


def china_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def add_months(d: date, months: int) -> date:
    """Jan 31 + 1 month = Feb 28 (or 29)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))
