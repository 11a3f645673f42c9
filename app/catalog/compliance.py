"""Automatic compliance checks. The limits are policy data (table `compliance_rules`, seeded by the migration
from DOMAIN.md's numbers), read at each check, so the regulator can change them without a release."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.catalog.models import ComplianceRule
from app.core.errors import ComplianceFailed


async def load_rules(session: AsyncSession) -> list[ComplianceRule]:
    rows = await session.execute(
        select(ComplianceRule).where(col(ComplianceRule.enabled).is_(True)).order_by(ComplianceRule.code)
    )
    return list(rows.scalars().all())


def evaluate(content: dict[str, Any], rules: Sequence[ComplianceRule]) -> list[dict[str, str]]:
    """Every failed rule as an error item whose `field` is the rule's name."""
    failed = []
    for rule in rules:
        if rule.kind != content.get("kind"):
            continue
        value = content.get(rule.field)
        ok = True
        if rule.check_type == "max":
            ok = value is None or rule.limit_value is None or int(value) <= rule.limit_value
        elif rule.check_type == "empty" or rule.check_type == "false":
            ok = not value
        if not ok:
            failed.append({"field": rule.code, "code": "compliance_rule", "message": rule.message})
    return failed


def enforce(content: dict[str, Any], rules: Sequence[ComplianceRule]) -> None:
    failed = evaluate(content, rules)
    if failed:
        raise ComplianceFailed(errors=failed)
