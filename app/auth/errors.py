"""Account errors that are also ValueErrors, so the CLI can print them."""

from __future__ import annotations

from app.core.errors import Conflict, ValidationFailed


class PasswordRejected(ValidationFailed, ValueError):
    def __str__(self) -> str:
        return self.errors[0]["message"] if self.errors else self.detail[0]


class UsernameTaken(Conflict, ValueError):
    def __init__(self) -> None:
        super().__init__(("用户名已存在", "This username is already taken"))

    def __str__(self) -> str:
        return "username already exists"
