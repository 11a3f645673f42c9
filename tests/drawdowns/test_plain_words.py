"""Refusals on draw-downs speak the farmer's and the bank's words: statuses in Chinese, money in yuan."""

from __future__ import annotations

from tests.builders.drawdowns import Lending


async def test_a_wrong_state_is_named_in_chinese(lending: Lending) -> None:
    b = await lending.borrower()
    dd = (await lending.submit(b, 100_000)).json()["id"]
    assert (await lending.act(b, dd, "approve", {"annual_rate_bp": 500})).status_code == 200
    r = await lending.act(b, dd, "approve", {"annual_rate_bp": 500})
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    assert r.json()["detail"] == "当前状态为“已批准”，只有待审批的用信可以这样操作"
    en = await lending.client.post(
        f"/bank/drawdowns/{dd}/approve",
        json={"annual_rate_bp": 500},
        headers={**b.bank_headers, "Accept-Language": "en"},
    )
    assert en.json()["detail"] == "Not allowed while approved"


async def test_an_oversized_repayment_is_told_in_yuan(lending: Lending) -> None:
    b = await lending.borrower()
    dd = await lending.loan(b, 400_000)
    r = await lending.repay(b, dd, 400_001)
    assert r.status_code == 422 and r.json()["code"] == "repayment_invalid"
    assert r.json()["detail"] == "还款本金须大于0元，且不能超过未还本金 4,000.00 元"
    assert "分" not in r.json()["errors"][0]["message"]
