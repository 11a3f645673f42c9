"""Password policy (ASVS 5.0 §6.2): 10–128 characters, not a common password, not the username."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

COMMON = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"


@lru_cache
def common_passwords() -> frozenset[str]:
    if not COMMON.exists():
        return frozenset()
    return frozenset(line.strip().lower() for line in COMMON.read_text(encoding="utf-8").splitlines() if line.strip())


def check_password_policy(password: str, username: str | None = None) -> str | None:
    """A Chinese reason the password is refused, or None."""
    if len(password) < 10:
        return "密码至少 10 个字符"
    if len(password) > 128:
        return "密码不超过 128 个字符"
    lowered = password.lower()
    if lowered in common_passwords():
        return "密码过于常见，请换一个"
    if username and username.lower() in lowered:
        return "密码不能包含用户名"
    return None
