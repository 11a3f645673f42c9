"""Credit isolation: a village at 5%, a township at 3% (policy lines), lifting by itself, write-off not lifting."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from app.core.dates import china_today
from app.drawdowns import isolation
from app.drawdowns.models import Drawdown
from tests.builders.drawdowns import Lending


async def _village_with(lending: Lending, current: int, overdue: int, village: str | None = None) -> tuple[str, str]:
    """A village with `current` fen lent and `overdue` fen lent and reported overdue; returns (village, loan)."""
    a = await lending.borrower(village=village)
    village = a.village
    if current:
        await lending.loan(a, current)
    b = await lending.borrower(village=village, bank=a.bank)
    bad = await lending.loan(b, overdue)
    r = await lending.act(b, bad, "overdue")
    assert r.status_code == 200
    return village, bad


async def _quiet_village(lending: Lending) -> str:
    """A village whose township has a large healthy loan elsewhere, so only the village line can trip."""
    _, (v1, v2) = await lending.fresh_township(2)
    big = await lending.borrower(village=v2, limit_fen=10_000_000)
    await lending.loan(big, 9_000_000)
    return v1


async def _isolated(lending: Lending, session_factory, village: str) -> tuple[bool, bool]:
    async with session_factory() as s:
        return await isolation.isolation(s, village)


async def test_village_at_five_percent_is_isolated(lending: Lending, factory) -> None:
    _, (alone,) = await lending.fresh_township(1)  # alone in its township, whatever other tests left behind
    village, _ = await _village_with(lending, 95_000, 5_000, village=alone)
    assert await _isolated(lending, factory.session, village) == (True, True)  # alone in its township too
    c = await lending.borrower(village=village)
    r = await lending.submit(c, 1_000)
    assert r.status_code == 409 and r.json()["code"] == "area_isolated"
    assert "5.00%" in r.json()["detail"] and "信贷隔离" in r.json()["detail"]
    assert r.json()["area"]["code"] == village and r.json()["area"]["level"] == "village"


async def test_village_just_below_five_percent(lending: Lending, factory) -> None:
    # a township of its own, so only the village line is tested: a big healthy neighbour keeps it below 3%
    village, _ = await _village_with(lending, 95_001, 4_999, village=await _quiet_village(lending))
    assert await _isolated(lending, factory.session, village) == (False, False)
    c = await lending.borrower(village=village)
    assert (await lending.submit(c, 1_000)).status_code == 201


async def test_township_at_three_percent_and_just_below(lending: Lending, factory) -> None:
    township, (v1, v2, v3) = await lending.fresh_township(3)
    # v2: 60,001 healthy; v1: 100,000 lent, 4,800 of it overdue (4.8%, under the village line)
    healthy = await lending.borrower(village=v2, limit_fen=10_000_000)
    healthy_loan = await lending.loan(healthy, 60_001)
    await _village_with(lending, 95_200, 4_800, village=v1)
    # township 4,800 / 160,001 = 2.99998% < 3%
    assert await _isolated(lending, factory.session, v3) == (False, False)
    c = await lending.borrower(village=v3)
    assert (await lending.submit(c, 1_000)).status_code == 201
    # one fen repaid in v2: 4,800 / 160,000 = 3.00% exactly
    assert (await lending.repay(healthy, healthy_loan, 1)).status_code == 201
    assert await _isolated(lending, factory.session, v3) == (False, True)
    r = await lending.submit(c, 1_000)
    assert r.status_code == 409 and r.json()["code"] == "area_isolated"
    assert r.json()["area"]["level"] == "township" and "3.00%" in r.json()["detail"]
    assert r.json()["area"]["code"] == township


async def test_lifts_after_repayment_and_write_off_does_not(lending: Lending, factory) -> None:
    village, bad = await _village_with(lending, 95_000, 5_000, village=await _quiet_village(lending))
    c = await lending.borrower(village=village)
    assert (await lending.submit(c, 1_000)).json()["code"] == "area_isolated"
    figures = (await _figures(factory, village))[village]
    assert (figures.loan_balance_fen, figures.overdue_balance_fen) == (100_000, 5_000)
    # write-off keeps the balance counting
    b_headers = await _lender_headers(lending, factory, bad)
    r = await lending.client.post(f"/bank/drawdowns/{bad}/write-off", headers=b_headers)
    assert r.status_code == 200 and r.json()["status"] == "written_off"
    assert (await lending.submit(c, 1_000)).json()["code"] == "area_isolated"
    # recovery through repayments lifts the block once the ratio is below 5%
    r = await _repay(lending, b_headers, bad, 1)
    assert r.status_code == 201
    # 4,999 / 99,999 = 4.999% < 5%
    assert (await lending.submit(c, 1_000)).status_code == 201
    figures = (await _figures(factory, village))[village]
    assert (figures.loan_balance_fen, figures.overdue_balance_fen) == (99_999, 4_999)


async def test_past_due_counts_without_any_job(lending: Lending, factory) -> None:
    a = await lending.borrower(village=await _quiet_village(lending))
    await lending.loan(a, 95_000)
    b = await lending.borrower(village=a.village, bank=a.bank)
    late = await lending.loan(b, 5_000)
    c = await lending.borrower(village=a.village)
    assert (await lending.submit(c, 1_000)).status_code == 201
    await lending.set_dates(late, due_on=china_today() - timedelta(days=1))
    r = await lending.client.get(f"/me/drawdowns/{late}", headers=b.headers)
    assert r.json()["status"] == "overdue"
    assert (await lending.submit(c, 1_000)).json()["code"] == "area_isolated"
    # the worker's bookkeeping flips it to overdue without changing the figure
    from app.worker import sweep_drawdowns

    await sweep_drawdowns(factory.app.state.db, factory.app.state.redis)
    figures = (await _figures(factory, a.village))[a.village]
    assert (figures.loan_balance_fen, figures.overdue_balance_fen) == (100_000, 5_000)
    assert (await lending.submit(c, 1_000)).json()["code"] == "area_isolated"
    await lending.repay(b, late, 5_000)
    assert (await lending.submit(c, 1_000)).status_code == 201
    figs = await _figures(factory, a.village[:6])
    assert figs[a.village[:6]].loan_balance_fen >= 95_000


async def _figures(factory, code: str):
    async with factory.session() as s:
        return await isolation.area_loan_figures(s, [code])


async def _lender_headers(lending: Lending, factory, dd_id: str) -> dict[str, str]:
    (bank_id,) = await lending.all(select(Drawdown.bank_id).where(Drawdown.id == uuid.UUID(dd_id)))
    return factory.headers(await factory.user("bank_staff", bank_id=bank_id))


async def _repay(lending: Lending, headers: dict[str, str], dd_id: str, amount: int):
    return await lending.client.post(
        f"/bank/drawdowns/{dd_id}/repayments",
        json={"amount_fen": amount, "paid_on": china_today().isoformat()},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
