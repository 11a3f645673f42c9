"""The `drawdown.repayment` audit entry says what the principal was before the repayment and after it."""

from __future__ import annotations

from sqlalchemy import select

from app.core.audit import AuditEntry
from tests.builders.drawdowns import Lending


async def test_repayment_entry_before_and_after(lending: Lending) -> None:
    b = await lending.borrower()
    dd = await lending.loan(b, 1_000_000)
    for amount in (400_000, 600_000):
        r = await lending.repay(b, dd, amount)
        assert r.status_code == 201, r.text
    entries = await lending.all(
        select(AuditEntry.summary)
        .where(AuditEntry.object_id == dd, AuditEntry.action == "drawdown.repayment")
        .order_by(AuditEntry.created_at)
    )
    outstanding = [(e["before"]["outstanding_fen"], e["after"]["outstanding_fen"], e["amount_fen"]) for e in entries]
    assert outstanding == [(1_000_000, 600_000, 400_000), (600_000, 0, 600_000)]
    assert [e["before"]["status"] for e in entries] == ["disbursed", "disbursed"]
    assert entries[-1]["after"]["status"] == "repaid"
