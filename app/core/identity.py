"""Validation and normalisation of Chinese identity numbers: mobile, resident ID, social credit code."""

from __future__ import annotations

import re
from datetime import date

_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(?:-\d{1,6})?$")
_SERVICE = re.compile(r"^(?:95\d{3,4}|96\d{3,4}|400-?\d{3}-?\d{4}|800-?\d{3}-?\d{4}|1\d{4})$")


def normalize_mobile(value: str) -> str | None:
    """`13912345678` / `+8613912345678` → `+8613912345678`; None when it is not a mainland mobile."""
    m = _MOBILE.match(value.strip().replace(" ", "").replace("-", ""))
    return f"+86{m.group(1)}" if m else None


def normalize_contact_phone(value: str) -> str | None:
    """A mobile (E.164), a landline (`0396-1234567`) or a service number (`95599`)."""
    value = value.strip()
    mobile = normalize_mobile(value)
    if mobile:
        return mobile
    if _LANDLINE.match(value) or _SERVICE.match(value):
        return value
    return None


_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"


def resident_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def valid_resident_id(value: str) -> bool:
    """GB 11643: 17 digits, a valid birth date, and the ISO 7064 MOD 11-2 check character."""
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > date.today():
        return False
    return value[17].upper() == resident_id_check_char(value[:17])


def normalize_resident_id(value: str) -> str | None:
    value = value.strip().upper()
    return value if valid_resident_id(value) else None


_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def valid_uscc(value: str) -> bool:
    """GB 32100 unified social credit code: 18 characters with a mod-31 check character."""
    value = value.upper()
    if len(value) != 18 or any(c not in _USCC_CHARS for c in value):
        return False
    return value[17] == uscc_check_char(value[:17])


def normalize_uscc(value: str) -> str | None:
    value = value.strip().upper()
    return value if valid_uscc(value) else None
