"""`/me/credit` says why a household cannot draw (issue 14 item 11), and it agrees with `POST /me/drawdowns`:
`can_draw` is true exactly when a 1-fen draw-down is admitted; otherwise the draw-down is refused with the
first reason's code and words."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from app.core.dates import china_today
from app.credit.models import Certificate, Household
from tests.builders.drawdowns import Borrower, Lending
from tests.factories import Factory

ERROR_OF = {
    "household_not_linked": "certificate_inactive",
    "no_certificate": "certificate_inactive",
    "certificate_not_activated": "certificate_inactive",
    "certificate_frozen": "certificate_inactive",
    "certificate_revoked": "certificate_inactive",
    "certificate_expired": "certificate_inactive",
    "overdue_loan": "certificate_inactive",
    "village_isolated": "area_isolated",
    "township_isolated": "area_isolated",
    "limit_used_up": "limit_exceeded",
}


async def credit_of(client: httpx.AsyncClient, headers: dict[str, str], **kw: Any) -> dict[str, Any]:
    r = await client.get("/me/credit", headers={**headers, **kw})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def agrees(lending: Lending, b: Borrower) -> dict[str, Any]:
    """/me/credit's verdict, checked against a real minimum draw-down (cancelled again when admitted)."""
    me = await credit_of(lending.client, b.headers)
    r = await lending.submit(b, 1)
    if me["can_draw"]:
        assert me["blocked_reasons"] == []
        assert r.status_code == 201, r.text
        c = await lending.client.post(f"/me/drawdowns/{r.json()['id']}/cancel", headers=b.headers)
        assert c.status_code == 200
    else:
        first = me["blocked_reasons"][0]
        assert r.status_code == 409, r.text
        assert r.json()["code"] == ERROR_OF[first["code"]]
        if first["code"] != "limit_used_up":  # the refusal names the amount asked for
            assert r.json()["detail"] == first["message"]
    return me


async def _set_cert(b: Borrower, factory: Factory, **values: Any) -> None:
    async with factory.session() as s:
        await s.execute(update(Certificate).where(Certificate.id == b.certificate.id).values(**values))
        await s.commit()


async def test_an_active_certificate_can_draw(lending: Lending) -> None:
    b = await lending.borrower()
    me = await agrees(lending, b)
    assert me["can_draw"] is True and me["blocked_reasons"] == []


async def test_an_account_without_household(lending: Lending, factory: Factory) -> None:
    user = await factory.user("farmer")
    headers = factory.headers(user)
    await factory.step_up(headers)
    me = await credit_of(lending.client, headers)
    assert me["can_draw"] is False
    assert me["blocked_reasons"] == [
        {"code": "household_not_linked", "message": "您的账号尚未关联农户信息，暂不能用信"}
    ]
    assert me["drawdown_rate"] is None and me["matching_products"] == []
    body = {"amount_fen": 1, "term_months": 12, "purpose": "planting"}
    r = await lending.client.post("/me/drawdowns", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 409 and r.json()["detail"] == me["blocked_reasons"][0]["message"]


@pytest.mark.parametrize(
    ("values", "code", "message"),
    [
        ({"status": "issued", "lead_bank_id": None}, "certificate_not_activated", "授信证尚未启用（请先选择主办银行启信），暂不能用信"),
        ({"status": "frozen"}, "certificate_frozen", "授信证已冻结，暂不能用信"),
        ({"status": "revoked"}, "certificate_revoked", "授信证已撤销，暂不能用信"),
        ({"expires_on": china_today() - timedelta(days=1)}, "certificate_expired", "授信证已过期，暂不能用信"),
        ({"is_current": False}, "no_certificate", "您还没有普惠金融授信证"),
    ],
)  # fmt: skip
async def test_certificate_states(
    lending: Lending, factory: Factory, values: dict[str, Any], code: str, message: str
) -> None:
    b = await lending.borrower()
    await _set_cert(b, factory, **values)
    me = await agrees(lending, b)
    assert me["can_draw"] is False
    assert me["blocked_reasons"] == [{"code": code, "message": message}]


async def test_an_overdue_loan(lending: Lending, factory: Factory) -> None:
    # A township of its own with a large healthy neighbour keeps the area below its isolation lines.
    _, (v1, v2) = await lending.fresh_township(2)
    big = await lending.borrower(village=v2, limit_fen=100_000_000)
    await lending.loan(big, 99_000_000)
    neighbour = await lending.borrower(village=v1, limit_fen=100_000_000)
    await lending.loan(neighbour, 99_000_000)
    b = await lending.borrower(village=v1)
    dd = await lending.loan(b, 100_000)
    await lending.set_dates(dd, due_on=china_today() - timedelta(days=1))
    me = await agrees(lending, b)
    assert me["certificate"]["status"] == "active" and me["certificate"]["available_fen"] > 0
    assert me["blocked_reasons"] == [
        {"code": "overdue_loan", "message": "您有逾期或已核销未结清的贷款，结清后方可再次用信"}
    ]


async def test_an_isolated_village_and_township(lending: Lending) -> None:
    _, (village,) = await lending.fresh_township(1)
    bad = await lending.borrower(village=village)
    dd = await lending.loan(bad, 100_000)
    assert (await lending.act(bad, dd, "overdue")).status_code == 200
    b = await lending.borrower(village=village, bank=bad.bank)
    me = await agrees(lending, b)
    codes = [x["code"] for x in me["blocked_reasons"]]
    assert codes == ["village_isolated", "township_isolated"]
    assert "信贷隔离线" in me["blocked_reasons"][0]["message"]
    assert me["village"]["isolated"] is True and me["township"]["isolated"] is True
    # the village is named by its short form, as everywhere else
    assert me["village"]["name"] in me["blocked_reasons"][0]["message"]
    assert "委员会" not in me["blocked_reasons"][0]["message"]


async def test_the_limit_used_up(lending: Lending) -> None:
    b = await lending.borrower(limit_fen=200_000)
    assert (await lending.submit(b, 200_000)).status_code == 201
    me = await agrees(lending, b)
    assert me["blocked_reasons"] == [
        {
            "code": "limit_used_up",
            "message": "授信额度 2,000.00 元已用完（未还本金 0.00 元，审批中 2,000.00 元），还款后额度自动恢复",
        }
    ]


async def test_a_lapsed_approval_no_longer_uses_the_limit(lending: Lending) -> None:
    """Approvals past their validity are released by the draw-down itself; /me/credit already counts them out."""
    b = await lending.borrower(limit_fen=200_000)
    r = await lending.submit(b, 200_000)
    dd = r.json()["id"]
    assert (await lending.act(b, dd, "approve", {"annual_rate_bp": 600})).status_code == 200
    await lending.set_dates(dd, approved_on=china_today() - timedelta(days=30))
    me = await agrees(lending, b)
    assert me["can_draw"] is True


async def test_several_reasons_in_order_and_in_english(lending: Lending, factory: Factory) -> None:
    b = await lending.borrower(limit_fen=100_000)
    await lending.loan(b, 100_000)
    await _set_cert(b, factory, status="frozen")
    me = await agrees(lending, b)
    assert [x["code"] for x in me["blocked_reasons"]] == ["certificate_frozen", "limit_used_up"]
    en = await credit_of(lending.client, b.headers, **{"Accept-Language": "en"})
    assert en["blocked_reasons"][0]["message"] == "The certificate is frozen"


async def test_unlinking_removes_the_household(lending: Lending, factory: Factory) -> None:
    b = await lending.borrower()
    async with factory.session() as s:
        await s.execute(update(Household).where(Household.id == b.household.id).values(user_id=None))
        await s.commit()
    me = await agrees(lending, b)
    assert [x["code"] for x in me["blocked_reasons"]] == ["household_not_linked"]
