"""The whole cycle through HTTP, available_fen arithmetic, refusals, rate cap, date and repayment rules."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.core.audit import AuditEntry
from app.core.dates import add_months, china_today
from app.events.models import Event
from app.notifications.models import Notification
from tests.builders.drawdowns import Lending, system_headers


def avail(c) -> int:
    return max(0, c.limit_fen - c.outstanding_fen - c.pending_fen)


async def test_whole_cycle(client, lending: Lending) -> None:
    b = await lending.borrower(limit_fen=5_000_000)
    r = await lending.submit(b, 1_000_000, term=12)
    assert r.status_code == 201, r.text
    dd = r.json()
    assert dd["status"] == "submitted" and dd["amount_fen"] == 1_000_000 and dd["outstanding_fen"] == 0
    assert dd["schedule"]["estimated"] is True and dd["schedule"]["total_principal_fen"] == 1_000_000
    c = await lending.certificate(b)
    assert (c.pending_fen, c.outstanding_fen, avail(c)) == (1_000_000, 0, 4_000_000)

    # the lead bank sees it in its queue with the borrower's identity, stars and certificate
    r = await client.get("/bank/drawdowns", params={"status": "submitted"}, headers=b.bank_headers)
    assert r.status_code == 200
    item = next(i for i in r.json()["items"] if i["id"] == dd["id"])
    assert item["borrower"]["real_name"] == "张三丰" and item["borrower"]["stars"] == 5
    # the activation consent covers identity for lending: the resident ID in full
    assert item["borrower"]["id_number"] == b.resident_id and item["borrower"]["masked"] is False
    assert item["certificate"]["available_fen"] == 4_000_000

    r = await lending.act(b, dd["id"], "approve", {"annual_rate_bp": 675})
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["annual_rate_bp"] == 675
    r = await lending.act(b, dd["id"], "disburse", {})
    assert r.status_code == 200, r.text
    body = r.json()
    today = china_today()
    assert body["status"] == "disbursed" and body["disbursed_on"] == today.isoformat()
    assert body["due_on"] == add_months(today, 12).isoformat()
    assert body["outstanding_fen"] == 1_000_000 and body["schedule"]["estimated"] is False
    c = await lending.certificate(b)
    assert (c.pending_fen, c.outstanding_fen, avail(c)) == (0, 1_000_000, 4_000_000)

    r = await lending.repay(b, dd["id"], 400_000)
    assert r.status_code == 201, r.text
    assert r.json()["outstanding_fen"] == 600_000 and r.json()["status"] == "disbursed"
    c = await lending.certificate(b)
    assert (c.outstanding_fen, avail(c)) == (600_000, 4_400_000)
    r = await lending.repay(b, dd["id"], 600_000)
    assert r.json()["status"] == "repaid" and r.json()["outstanding_fen"] == 0
    c = await lending.certificate(b)
    assert (c.outstanding_fen, c.pending_fen, avail(c)) == (0, 0, 5_000_000)

    r = await client.get(f"/me/drawdowns/{dd['id']}", headers=b.headers)
    assert r.status_code == 200
    assert [x["amount_fen"] for x in r.json()["repayments"]] == [400_000, 600_000]
    r = await client.get("/me/drawdowns", headers=b.headers)
    assert [i["id"] for i in r.json()["items"]] == [dd["id"]]

    # every state change is audited and the farmer told; the lead bank got the event
    actions = await lending.all(select(AuditEntry.action).where(AuditEntry.object_id == dd["id"]))
    assert sorted(actions) == sorted(
        ["drawdown.submit", "drawdown.approve", "drawdown.disburse", "drawdown.repayment", "drawdown.repayment"]
    )
    notes = await lending.all(select(func.count()).select_from(Notification).where(Notification.user_id == b.user.id))
    assert notes == [5]
    ev = await lending.all(select(Event).where(Event.bank_id == b.bank.id))
    assert [e.type for e in ev] == ["drawdown.submitted"]
    assert ev[0].data["borrower"]["name"] == "张**"


async def test_revolving_available_arithmetic(lending: Lending) -> None:
    b = await lending.borrower(limit_fen=100_000)
    d1 = await lending.loan(b, 60_000)
    r = await lending.submit(b, 30_000)
    assert r.status_code == 201
    r = await lending.submit(b, 10_001)
    assert r.status_code == 409 and r.json()["code"] == "limit_exceeded"
    assert r.json()["available_fen"] == 10_000
    r = await lending.submit(b, 10_000)
    assert r.status_code == 201
    c = await lending.certificate(b)
    assert (c.outstanding_fen, c.pending_fen, avail(c)) == (60_000, 40_000, 0)
    await lending.repay(b, d1, 1)
    r = await lending.submit(b, 1)
    assert r.status_code == 201
    r = await lending.submit(b, 1)
    assert r.status_code == 409 and r.json()["available_fen"] == 0


async def test_cancel_releases_pending_and_only_while_submitted(client, lending: Lending) -> None:
    b = await lending.borrower(limit_fen=100_000)
    dd = (await lending.submit(b, 70_000)).json()["id"]
    r = await client.post(f"/me/drawdowns/{dd}/cancel", headers=b.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await lending.certificate(b)).pending_fen == 0
    r = await client.post(f"/me/drawdowns/{dd}/cancel", headers=b.headers)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    ev = await lending.all(select(Event.type).where(Event.bank_id == b.bank.id))
    assert "drawdown.cancelled" in ev
    dd2 = (await lending.submit(b, 50_000)).json()["id"]
    await lending.act(b, dd2, "approve", {"annual_rate_bp": 500})
    r = await client.post(f"/me/drawdowns/{dd2}/cancel", headers=b.headers)
    assert r.status_code == 409
    # the bank cancels an approved one (with a reason); a submitted one it rejects
    r = await lending.act(b, dd2, "cancel", {"reason": "客户不再需要"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["reason"] == "客户不再需要"
    dd3 = (await lending.submit(b, 20_000)).json()["id"]
    assert (await lending.act(b, dd3, "cancel", {"reason": "x"})).status_code == 409
    r = await lending.act(b, dd3, "reject", {"reason": "资料不全"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert (await lending.act(b, dd3, "approve", {"annual_rate_bp": 500})).status_code == 409
    assert (await lending.certificate(b)).pending_fen == 0


@pytest.mark.parametrize("status", ["issued", "frozen", "revoked", "expired"])
async def test_certificate_not_active(lending: Lending, status: str) -> None:
    b = await lending.borrower(status=status)
    r = await lending.submit(b, 10_000)
    assert r.status_code == 409 and r.json()["code"] == "certificate_inactive"


async def test_no_household_or_certificate(client, factory) -> None:
    u = await factory.user("farmer")
    h = factory.headers(u)
    await factory.step_up(h)
    r = await client.post(
        "/me/drawdowns",
        json={"amount_fen": 100, "term_months": 3, "purpose": "planting"},
        headers={**h, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert r.status_code == 409 and r.json()["code"] == "certificate_inactive"


async def test_overdue_loan_blocks_new_draws(lending: Lending) -> None:
    b = await lending.borrower()
    dd = await lending.loan(b, 10_000)
    assert (await lending.submit(b, 10_000)).status_code == 201
    await lending.set_dates(dd, due_on=china_today() - timedelta(days=1))  # passed due date, no job ran
    r = await lending.client.get("/bank/drawdowns", params={"status": "overdue"}, headers=b.bank_headers)
    assert [i["id"] for i in r.json()["items"]] == [dd]
    r = await lending.client.get("/bank/drawdowns", params={"status": "disbursed"}, headers=b.bank_headers)
    assert r.json()["items"] == []
    r = await lending.submit(b, 10_000)
    assert r.status_code == 409 and r.json()["code"] == "certificate_inactive"
    await lending.repay(b, dd, 10_000)
    assert (await lending.submit(b, 10_000)).status_code == 201


async def test_written_off_blocks_new_draws(lending: Lending) -> None:
    b = await lending.borrower()
    dd = await lending.loan(b, 10_000)
    assert (await lending.act(b, dd, "write-off")).json()["status"] == "written_off"
    r = await lending.submit(b, 10_000)
    assert r.status_code == 409 and r.json()["code"] == "certificate_inactive"


@pytest.mark.parametrize("term", [0, 37, -1, 120])
async def test_term_outside_policy(lending: Lending, term: int) -> None:
    b = await lending.borrower()
    r = await lending.submit(b, 10_000, term=term)
    assert r.status_code == 422 and r.json()["code"] == "term_not_allowed"


@pytest.mark.parametrize("term", [1, 36])
async def test_term_bounds_allowed(lending: Lending, term: int) -> None:
    b = await lending.borrower()
    assert (await lending.submit(b, 10_000, term=term)).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"amount_fen": 0, "term_months": 3, "purpose": "planting"},
        {"amount_fen": -5, "term_months": 3, "purpose": "planting"},
        {"amount_fen": 100, "term_months": 3, "purpose": "gambling"},
        {"amount_fen": 100, "term_months": 3, "purpose": "planting", "status": "approved"},
        {"amount_fen": "1.5", "term_months": 3, "purpose": "planting"},
    ],
)
async def test_bad_body_is_422(client, lending: Lending, body) -> None:
    b = await lending.borrower()
    r = await client.post("/me/drawdowns", json=body, headers={**b.headers, "Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 422 and r.json()["code"] == "validation_failed" and r.json()["errors"]


async def test_check_order_auth_stepup_key(client, lending: Lending, factory) -> None:
    b = await lending.borrower()
    body = {"amount_fen": 100, "term_months": 3, "purpose": "planting"}
    assert (await client.post("/me/drawdowns", json=body)).status_code == 401
    r = await client.post("/me/drawdowns", json=body, headers={**b.bank_headers, "Idempotency-Key": "k"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    fresh = factory.headers(b.user)  # a session not confirmed by SMS
    r = await client.post("/me/drawdowns", json=body, headers={**fresh, "Idempotency-Key": "k"})
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"
    r = await client.post("/me/drawdowns", json={"bad": 1}, headers=b.headers)
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required"
    assert (await lending.certificate(b)).pending_fen == 0


async def test_daily_cap(lending: Lending, monkeypatch) -> None:
    from app.core.config import get_settings

    monkeypatch.setattr(get_settings(), "drawdowns_per_day", 2)
    b = await lending.borrower()
    assert (await lending.submit(b, 100)).status_code == 201
    assert (await lending.submit(b, 100)).status_code == 201
    r = await lending.submit(b, 100)
    assert r.status_code == 429 and r.json()["code"] == "rate_limited" and "retry-after" in r.headers
    assert (await lending.certificate(b)).pending_fen == 200


async def test_rate_cap(lending: Lending) -> None:
    b = await lending.borrower(max_rate_bp=600)
    dd = (await lending.submit(b, 10_000)).json()["id"]
    r = await lending.act(b, dd, "approve", {"annual_rate_bp": 601})
    assert r.status_code == 422 and r.json()["code"] == "rate_above_cap"
    for bad in (0, -1):
        r = await lending.act(b, dd, "approve", {"annual_rate_bp": bad})
        assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    r = await lending.act(b, dd, "approve", {"annual_rate_bp": 600})
    assert r.status_code == 200 and r.json()["annual_rate_bp"] == 600


async def test_disbursement_dates(lending: Lending) -> None:
    b = await lending.borrower()
    dd = (await lending.submit(b, 10_000, term=1)).json()["id"]
    r = await lending.act(b, dd, "disburse", {})
    assert r.status_code == 409  # not approved yet
    await lending.act(b, dd, "approve", {"annual_rate_bp": 500})
    today = china_today()
    r = await lending.act(b, dd, "disburse", {"disbursed_on": (today + timedelta(days=1)).isoformat()})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "disbursed_on"
    r = await lending.act(b, dd, "disburse", {"disbursed_on": (today - timedelta(days=1)).isoformat()})
    assert r.status_code == 422  # before the submission date
    # a past date after submission records a core-system disbursement; month end clamps
    await lending.set_dates(dd, submitted_on=today.replace(year=today.year - 1, month=1, day=2))
    past = today.replace(year=today.year - 1, month=1, day=31)
    r = await lending.act(b, dd, "disburse", {"disbursed_on": past.isoformat()})
    assert r.status_code == 200, r.text
    feb_end = 29 if (past.year % 4 == 0 and past.year % 100 != 0) or past.year % 400 == 0 else 28
    assert r.json()["due_on"] == past.replace(month=2, day=feb_end).isoformat()
    assert r.json()["status"] == "overdue"  # long past due: derived, no job ran
    assert (await lending.act(b, dd, "disburse", {})).status_code == 409


async def test_repayment_rules(lending: Lending) -> None:
    b = await lending.borrower()
    dd = (await lending.submit(b, 10_000)).json()["id"]
    assert (await lending.repay(b, dd, 100)).status_code == 409  # nothing disbursed
    await lending.act(b, dd, "approve", {"annual_rate_bp": 500})
    await lending.act(b, dd, "disburse", {})
    today = china_today()
    for amount, paid_on in [
        (0, today),
        (-1, today),
        (10_001, today),
        (100, today + timedelta(days=1)),
        (100, today - timedelta(days=1)),
    ]:
        r = await lending.repay(b, dd, amount, paid_on)
        assert r.status_code == 422 and r.json()["code"] == "repayment_invalid", (amount, paid_on)
    assert (await lending.certificate(b)).outstanding_fen == 10_000
    assert (await lending.repay(b, dd, 10_000)).json()["status"] == "repaid"
    assert (await lending.repay(b, dd, 1)).status_code == 409


async def test_idempotent_drawdown_replay(client, lending: Lending) -> None:
    b = await lending.borrower()
    r1 = await lending.submit(b, 12_345, key="same-key")
    r2 = await lending.submit(b, 12_345, key="same-key")
    assert r1.status_code == r2.status_code == 201 and r1.json() == r2.json()
    assert r2.headers["idempotent-replayed"] == "true"
    assert (await lending.certificate(b)).pending_fen == 12_345
    r3 = await lending.submit(b, 99, key="same-key")
    assert r3.status_code == 422 and r3.json()["code"] == "idempotency_key_reused"


async def test_idempotent_repayment_replay(lending: Lending) -> None:
    b = await lending.borrower()
    dd = await lending.loan(b, 10_000)
    r1 = await lending.repay(b, dd, 3_000, key="rp-1")
    r2 = await lending.repay(b, dd, 3_000, key="rp-1")
    assert r1.status_code == r2.status_code == 201 and r2.headers["idempotent-replayed"] == "true"
    assert (await lending.certificate(b)).outstanding_fen == 7_000
    assert len(r2.json()["repayments"]) == 1
    r = await lending.client.post(
        f"/bank/drawdowns/{dd}/repayments",
        json={"amount_fen": 1, "paid_on": china_today().isoformat()},
        headers=b.bank_headers,
    )
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required"


async def test_expired_approval(client, lending: Lending, app, redis) -> None:
    from app.worker import sweep_drawdowns

    b = await lending.borrower(limit_fen=100_000)
    dd = (await lending.submit(b, 60_000)).json()["id"]
    await lending.act(b, dd, "approve", {"annual_rate_bp": 500})
    await lending.set_dates(dd, approved_on=china_today() - timedelta(days=15))
    assert (await client.get(f"/me/drawdowns/{dd}", headers=b.headers)).json()["status"] == "approved"
    await lending.set_dates(dd, approved_on=china_today() - timedelta(days=16))
    assert (await client.get(f"/me/drawdowns/{dd}", headers=b.headers)).json()["status"] == "expired"
    r = await client.get("/bank/drawdowns", params={"status": "expired"}, headers=b.bank_headers)
    assert [i["id"] for i in r.json()["items"]] == [dd]
    assert (await lending.act(b, dd, "disburse", {})).status_code == 409
    assert (await lending.certificate(b)).pending_fen == 60_000
    await sweep_drawdowns(app.state.db, redis)
    c = await lending.certificate(b)
    assert c.pending_fen == 0
    r = await client.get(f"/me/drawdowns/{dd}", headers=b.headers)
    assert r.json()["status"] == "expired"


async def test_extend_and_renew(lending: Lending, client) -> None:
    poor = await lending.borrower(poor=True)
    rich = await lending.borrower(poor=False)
    d_rich = await lending.loan(rich, 10_000, term=6)
    r = await lending.act(rich, d_rich, "extend", {"months": 3})
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    d = await lending.loan(poor, 10_000, term=6)
    r = await lending.act(poor, d, "extend", {"months": 13})
    assert r.status_code == 422 and r.json()["code"] == "term_not_allowed"
    r = await lending.act(poor, d, "extend", {"months": 12})
    assert r.status_code == 200 and r.json()["due_on"] == add_months(china_today(), 18).isoformat()
    assert (await lending.act(poor, d, "extend", {"months": 1})).status_code == 409  # once only
    # renewal only at or after maturity
    assert (await lending.act(poor, d, "renew", {"term_months": 12})).status_code == 409
    await lending.repay(poor, d, 4_000)
    await lending.set_dates(d, due_on=china_today() - timedelta(days=3))
    r = await lending.act(poor, d, "renew", {"term_months": 12})
    assert r.status_code == 200, r.text  # an action: the resource as it now is
    old = r.json()
    assert old["id"] == d and old["status"] == "repaid" and old["outstanding_fen"] == 0 and old["renewed_to_id"]
    new = (await client.get(f"/me/drawdowns/{old['renewed_to_id']}", headers=poor.headers)).json()
    assert new["status"] == "disbursed" and new["amount_fen"] == 6_000 and new["renewed_from_id"] == d
    c = await lending.certificate(poor)
    assert c.outstanding_fen == 6_000
    assert (await lending.submit(poor, 1_000)).status_code == 201  # no longer overdue


async def test_report_overdue_before_due(lending: Lending, client) -> None:
    b = await lending.borrower()
    d = await lending.loan(b, 10_000)
    r = await lending.act(b, d, "overdue")
    assert r.status_code == 200 and r.json()["status"] == "overdue"
    assert (await lending.act(b, d, "overdue")).status_code == 409
    assert (await lending.submit(b, 100)).json()["code"] == "certificate_inactive"
    assert (await lending.repay(b, d, 10_000)).json()["status"] == "repaid"


async def test_bank_system_with_scope(client, lending: Lending) -> None:
    b = await lending.borrower()
    dd = (await lending.submit(b, 10_000)).json()["id"]
    r = await client.get(f"/bank/drawdowns/{dd}", headers=system_headers(b.bank))
    assert r.status_code == 200
    r = await client.get(f"/bank/drawdowns/{dd}", headers=system_headers(b.bank, "products:write"))
    assert r.status_code == 403
    r = await client.get(f"/bank/drawdowns/{dd}", headers=b.headers)
    assert r.status_code == 403


async def test_tenancy(client, lending: Lending, factory) -> None:
    b = await lending.borrower()
    dd = await lending.loan(b, 10_000)
    pending = (await lending.submit(b, 5_000)).json()["id"]
    other_farmer = await lending.borrower()
    assert (await client.get(f"/me/drawdowns/{pending}", headers=other_farmer.headers)).status_code == 404
    assert (await client.post(f"/me/drawdowns/{pending}/cancel", headers=other_farmer.headers)).status_code == 404
    other_bank = await factory.bank([b.village[:6]])
    staff = factory.headers(await factory.user("bank_admin", bank_id=other_bank.id))
    for h in (staff, system_headers(other_bank)):
        assert (await client.get(f"/bank/drawdowns/{dd}", headers=h)).status_code == 404
        for action, body in [
            ("approve", {"annual_rate_bp": 500}),
            ("reject", {"reason": "x"}),
            ("disburse", {}),
            ("overdue", None),
            ("write-off", None),
            ("extend", {"months": 1}),
            ("renew", {"term_months": 3}),
        ]:
            target = pending if action in ("approve", "reject") else dd
            r = await lending.act(b, target, action, body, headers=h)
            assert r.status_code == 404, (action, r.text)
        r = await client.post(
            f"/bank/drawdowns/{dd}/repayments",
            json={"amount_fen": 1, "paid_on": china_today().isoformat()},
            headers={**h, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert r.status_code == 404
        r = await client.get("/bank/drawdowns", headers=h)
        assert all(i["id"] not in (dd, pending) for i in r.json()["items"])
    c = await lending.certificate(b)
    assert (c.outstanding_fen, c.pending_fen) == (10_000, 5_000)
    mine = (await client.get(f"/me/drawdowns/{pending}", headers=b.headers)).json()
    assert mine["status"] == "submitted"


async def test_bank_queue_pagination_and_filter(client, lending: Lending) -> None:
    b = await lending.borrower()
    ids = [(await lending.submit(b, 100)).json()["id"] for _ in range(3)]
    r = await client.get("/bank/drawdowns", params={"limit": 2}, headers=b.bank_headers)
    page1 = r.json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    r = await client.get("/bank/drawdowns", params={"limit": 2, "cursor": page1["next_cursor"]}, headers=b.bank_headers)
    got = [i["id"] for i in page1["items"]] + [i["id"] for i in r.json()["items"]]
    assert got == list(reversed(ids)) and r.json()["next_cursor"] is None
    r = await client.get("/bank/drawdowns", params={"status": "approved"}, headers=b.bank_headers)
    assert r.json()["items"] == []
    assert (await client.get("/bank/drawdowns", params={"limit": 101}, headers=b.bank_headers)).status_code == 422
