"""`/agent`: station agents act only for households of their own station's village, with the household's
fresh SMS code for anything spoken in its name; everything is on record with the agent as actor."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from app.consents.models import Consent
from app.core.audit import AuditEntry
from app.core.config import get_settings
from app.credit.models import Certificate, Household, RatingChange
from app.demands.models import Demand, DemandOffer
from tests.builders.agents import Agents, last_code, sms_to
from tests.builders.demands import system_headers
from tests.factories import Factory


async def rows(factory: Factory, stmt: object) -> list[object]:
    async with factory.session() as s:
        return list((await s.execute(stmt)).scalars().all())  # type: ignore[call-overload]


# ---- households ---------------------------------------------------------------------------------------------


async def test_lists_own_village_households_only(agents: Agents, client: httpx.AsyncClient, factory: Factory) -> None:
    post = await agents.post()
    farmer = await factory.user("farmer")
    mine = [
        await agents.household(post.village, name="李秀英"),
        await agents.household(post.village, user=farmer, stars=0, provincial=None, village_score=None),
    ]
    other = await agents.post()
    theirs = await agents.household(other.village)
    seen: dict[str, dict[str, object]] = {}
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 1}
        if cursor:
            params["cursor"] = cursor
        r = await client.get("/agent/households", params=params, headers=post.headers)
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        seen.update({i["id"]: i for i in r.json()["items"]})
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert set(seen) == {str(h.id) for h in mine} and str(theirs.id) not in seen
    first = seen[str(mine[0].id)]
    # Served in person: full name and phone; the ID number stays masked.
    assert first["real_name"] == "李秀英" and first["phone"] == mine[0].phone
    assert "*" in str(first["id_number"]) and len(str(first["id_number"])) == 18
    assert first["stars"] == 5 and first["linked"] is False
    assert seen[str(mine[1].id)]["linked"] is True and seen[str(mine[1].id)]["stars"] == 0
    r = await client.get("/agent/households", params={"limit": 0}, headers=post.headers)
    assert r.status_code == 422
    # Each page of full names and phones is on record: who looked, at which households, nothing personal.
    audit = await rows(
        factory,
        select(AuditEntry).where(AuditEntry.object_id == post.village, AuditEntry.action == "agent.households.list"),
    )
    assert audit and all(a.actor_id == str(post.agent.id) for a in audit)  # type: ignore[attr-defined]
    assert {h for a in audit for h in a.summary["household_ids"]} == {str(h.id) for h in mine}  # type: ignore[attr-defined]
    assert "李秀英" not in str([a.summary for a in audit])  # type: ignore[attr-defined]


# ---- consent codes ------------------------------------------------------------------------------------------


async def test_sends_consent_code_to_phone_on_record(
    agents: Agents, client: httpx.AsyncClient, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    post = await agents.post()
    h = await agents.household(post.village)
    monkeypatch.setattr(get_settings(), "sms_phone_interval_seconds", 60)
    r = await client.post(f"/agent/households/{h.id}/sms-codes", headers=post.headers)
    assert r.status_code == 202, r.text
    assert r.json()["expires_in"] == 300 and r.json()["resend_after"] == 60
    assert h.phone and "代办" in sms_to(h.phone)[-1]
    audit = await rows(factory, select(AuditEntry).where(AuditEntry.object_id == str(h.id)))
    assert [(a.action, a.actor_id) for a in audit] == [("agent.consent_code", str(post.agent.id))]  # type: ignore[attr-defined]
    # Rate limits as for every code: a resend within the interval is 429 with Retry-After.
    r = await client.post(f"/agent/households/{h.id}/sms-codes", headers=post.headers)
    assert r.status_code == 429 and r.json()["code"] == "rate_limited" and int(r.headers["retry-after"]) > 0


async def test_code_for_household_without_phone_is_409(agents: Agents, client: httpx.AsyncClient) -> None:
    post = await agents.post()
    h = await agents.household(post.village, phone=None)
    r = await client.post(f"/agent/households/{h.id}/sms-codes", headers=post.headers)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    assert "手机号" in r.json()["detail"]


async def test_other_village_household_is_404_and_no_sms(agents: Agents, client: httpx.AsyncClient) -> None:
    post, other = await agents.post(), await agents.post()
    h = await agents.household(other.village)
    for url, body in (
        (f"/agent/households/{h.id}/sms-codes", None),
        (f"/agent/households/{uuid.uuid4()}/sms-codes", None),
    ):
        r = await client.post(url, json=body, headers=post.headers)
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert h.phone and sms_to(h.phone) == []


# ---- filing a demand (代办) ---------------------------------------------------------------------------------


async def test_files_demand_with_fresh_code(agents: Agents, client: httpx.AsyncClient, factory: Factory) -> None:
    post = await agents.post()
    farmer = await factory.user("farmer")
    h = await agents.household(post.village, user=farmer)
    r = await agents.file(post, h)
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["status"] == "open" and d["filed_by_agent"] is True and d["stars"] == 5
    [row] = await rows(factory, select(Demand).where(Demand.id == uuid.UUID(d["id"])))
    assert row.filed_by_agent_id == post.agent.id and row.household_id == h.id  # type: ignore[attr-defined]
    [entry] = await rows(factory, select(AuditEntry).where(AuditEntry.object_id == d["id"]))
    assert entry.action == "demand.create" and entry.actor_id == str(post.agent.id)  # type: ignore[attr-defined]
    # The linked farmer sees it among their own demands.
    r = await client.get(f"/me/demands/{d['id']}", headers=factory.headers(farmer))
    assert r.status_code == 200 and r.json()["filed_by_agent"] is True
    r = await client.get("/me/notifications", headers=factory.headers(farmer))
    assert [n["kind"] for n in r.json()["items"]] == ["demand.filed_by_agent"]


async def test_demand_code_rules(agents: Agents, client: httpx.AsyncClient, factory: Factory) -> None:
    post = await agents.post()
    h = await agents.household(post.village)
    body = {"household_id": str(h.id), "amount_fen": 3_000_000, "term_months": 12, "purpose": "planting"}
    # never sent
    r = await client.post("/agent/demands", json={**body, "code": "123456"}, headers=post.headers)
    assert r.status_code == 400 and r.json()["code"] == "otp_expired"
    code = await agents.code(post, h)
    wrong = "000000" if code != "000000" else "111111"
    r = await client.post("/agent/demands", json={**body, "code": wrong}, headers=post.headers)
    assert r.status_code == 400 and r.json()["code"] == "otp_invalid" and r.json()["attempts_left"] == 4
    # a login code of the same phone does not work: codes are bound to their purpose
    assert h.phone
    r = await client.post("/auth/sms-codes", json={"phone": h.phone, "purpose": "login"})
    assert r.status_code == 202
    r = await client.post("/agent/demands", json={**body, "code": last_code(h.phone)}, headers=post.headers)
    assert r.status_code == 400
    r = await client.post("/agent/demands", json={**body, "code": code}, headers=post.headers)
    assert r.status_code == 201, r.text
    # single use
    r = await client.post("/agent/demands", json={**body, "code": code}, headers=post.headers)
    assert r.status_code == 400 and r.json()["code"] == "otp_expired"
    assert len(await rows(factory, select(Demand).where(Demand.household_id == h.id))) == 1
    # body rules as for /me/demands, unknown fields refused
    for bad in ({"amount_fen": 10}, {"purpose": "gambling"}, {"filed_by_agent_id": str(uuid.uuid4())}):
        r = await client.post("/agent/demands", json={**body, "code": "123456", **bad}, headers=post.headers)
        assert r.status_code == 422


async def test_cannot_file_for_other_village(agents: Agents, client: httpx.AsyncClient, factory: Factory) -> None:
    post, other = await agents.post(), await agents.post()
    h = await agents.household(other.village)
    code = await agents.code(other, h)  # a genuine code, but for the other station's household
    r = await client.post(
        "/agent/demands",
        json={"household_id": str(h.id), "code": code, "amount_fen": 3_000_000, "term_months": 12, "purpose": "other"},
        headers=post.headers,
    )
    assert r.status_code == 404
    assert await rows(factory, select(Demand).where(Demand.household_id == h.id)) == []


# ---- accepting an offer -------------------------------------------------------------------------------------


async def _offered(agents: Agents, post: object, h: Household) -> tuple[dict[str, object], dict[str, object], object]:
    r = await agents.file(post, h)  # type: ignore[arg-type]
    assert r.status_code == 201, r.text
    demand = r.json()
    side = await agents.demands.bank([h.county_code], name="羊贷", collateral_types=["livestock"])
    r = await agents.demands.offer(side, demand["id"])
    assert r.status_code == 201, r.text
    return demand, r.json(), side


async def test_accepts_offer_for_household_without_account(
    agents: Agents, client: httpx.AsyncClient, factory: Factory
) -> None:
    post = await agents.post()
    h = await agents.household(post.village, name="王大山")
    demand, offer, side = await _offered(agents, post, h)
    url = f"/agent/demands/{demand['id']}/offers/{offer['id']}/accept"
    r = await client.post(url, json={"code": "123456"}, headers=post.headers)
    assert r.status_code == 400  # no fresh code yet
    r = await client.post(url, json={"code": await agents.code(post, h)}, headers=post.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted" and r.json()["accepted_offer_id"] == offer["id"]
    [consent] = await rows(factory, select(Consent).where(Consent.household_id == h.id))
    # Recorded against the household (no account), with the agent as witness.
    assert consent.user_id is None and consent.witness_agent_id == post.agent.id  # type: ignore[attr-defined]
    assert consent.bank_id == side.bank.id  # type: ignore[attr-defined]
    # The bank now sees the applicant in full.
    r = await client.get(f"/bank/demands/{demand['id']}", headers=side.headers)  # type: ignore[attr-defined]
    assert r.status_code == 200 and "王大山" in r.text
    # When the household later gets an account, the consent shows among its consents and can be withdrawn.
    farmer = await factory.user("farmer")
    async with factory.session() as s:
        row = await s.get(Household, h.id)
        assert row is not None
        row.user_id = farmer.id
        await s.commit()
    r = await client.get("/me/consents", headers=factory.headers(farmer))
    assert [c["id"] for c in r.json()["items"]] == [str(consent.id)]  # type: ignore[attr-defined]
    r = await client.post(f"/me/consents/{consent.id}/withdraw", headers=factory.headers(farmer))  # type: ignore[attr-defined]
    assert r.status_code == 200 and r.json()["active"] is False


async def test_accept_for_linked_household_records_both(
    agents: Agents, client: httpx.AsyncClient, factory: Factory
) -> None:
    post = await agents.post()
    farmer = await factory.user("farmer")
    h = await agents.household(post.village, user=farmer)
    demand, offer, _ = await _offered(agents, post, h)
    r = await client.post(
        f"/agent/demands/{demand['id']}/offers/{offer['id']}/accept",
        json={"code": await agents.code(post, h)},
        headers=post.headers,
    )
    assert r.status_code == 200, r.text
    [consent] = await rows(factory, select(Consent).where(Consent.household_id == h.id))
    assert consent.user_id == farmer.id and consent.witness_agent_id == post.agent.id  # type: ignore[attr-defined]
    entries = await rows(factory, select(AuditEntry).where(AuditEntry.object_id == demand["id"]))
    accept = [e for e in entries if e.action == "demand.accept"]  # type: ignore[attr-defined]
    assert accept and accept[0].actor_id == str(post.agent.id)  # type: ignore[attr-defined]
    assert accept[0].summary["via_agent"] == str(post.agent.id)  # type: ignore[attr-defined]


async def test_accept_through_agent_of_other_village_is_404(
    agents: Agents, client: httpx.AsyncClient, factory: Factory
) -> None:
    post, other = await agents.post(), await agents.post()
    h = await agents.household(post.village)
    demand, offer, _ = await _offered(agents, post, h)
    code = await agents.code(post, h)
    r = await client.post(
        f"/agent/demands/{demand['id']}/offers/{offer['id']}/accept", json={"code": code}, headers=other.headers
    )
    assert r.status_code == 404
    r = await client.post(
        f"/agent/demands/{uuid.uuid4()}/offers/{offer['id']}/accept", json={"code": code}, headers=post.headers
    )
    assert r.status_code == 404
    [o] = await rows(factory, select(DemandOffer).where(DemandOffer.id == uuid.UUID(str(offer["id"]))))
    assert o.status == "pending"  # type: ignore[attr-defined]
    assert await rows(factory, select(Consent).where(Consent.household_id == h.id)) == []
    # the code was not spent by the refused calls
    r = await client.post(
        f"/agent/demands/{demand['id']}/offers/{offer['id']}/accept", json={"code": code}, headers=post.headers
    )
    assert r.status_code == 200, r.text


# ---- village score ------------------------------------------------------------------------------------------


async def test_village_score_rerates_household(agents: Agents, client: httpx.AsyncClient, factory: Factory) -> None:
    post = await agents.post()
    h = await agents.household(post.village, provincial="96", village_score=None, stars=0)
    url = f"/agent/households/{h.id}/village-score"
    r = await client.put(url, json={"village_score": "97.5"}, headers=post.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["village_score"] == 97.5 and body["composite_score"] == 96.5 and body["stars"] == 5
    [cert] = await rows(factory, select(Certificate).where(Certificate.household_id == h.id))
    assert cert.stars == 5 and cert.status == "issued"  # type: ignore[attr-defined]
    [change] = await rows(factory, select(RatingChange).where(RatingChange.household_id == h.id))
    assert change.source == "agent" and change.actor_id == str(post.agent.id)  # type: ignore[attr-defined]
    audit = await rows(
        factory, select(AuditEntry).where(AuditEntry.object_id == str(h.id), AuditEntry.action == "household.rating")
    )
    assert [a.actor_id for a in audit] == [str(post.agent.id)]  # type: ignore[attr-defined]
    assert "李秀英" not in str(audit[0].summary)  # type: ignore[attr-defined]
    # lowered below 76 composite → not a credit household, the certificate is revoked
    r = await client.put(url, json={"village_score": 0}, headers=post.headers)
    assert r.status_code == 200 and r.json()["stars"] == 0 and r.json()["is_credit_household"] is False


async def test_village_score_rules(agents: Agents, client: httpx.AsyncClient, factory: Factory) -> None:
    post, other = await agents.post(), await agents.post()
    h = await agents.household(post.village, village_score="80")
    theirs = await agents.household(other.village, village_score="80")
    for bad in ("100.01", "-1", "88.123", "abc", None):
        r = await client.put(
            f"/agent/households/{h.id}/village-score", json={"village_score": bad}, headers=post.headers
        )
        assert r.status_code == 422, bad
    r = await client.put(
        f"/agent/households/{h.id}/village-score", json={"village_score": 90, "stars": 5}, headers=post.headers
    )
    assert r.status_code == 422
    r = await client.put(
        f"/agent/households/{theirs.id}/village-score", json={"village_score": "99"}, headers=post.headers
    )
    assert r.status_code == 404
    async with factory.session() as s:
        row = await s.get(Household, theirs.id)
        assert row is not None and row.village_score == Decimal("80")
    assert await rows(factory, select(RatingChange).where(RatingChange.household_id == theirs.id)) == []


# ---- who may call -------------------------------------------------------------------------------------------


async def test_only_agents(agents: Agents, client: httpx.AsyncClient, factory: Factory) -> None:
    post = await agents.post()
    h = await agents.household(post.village)
    bank = await factory.bank(["411725"])
    callers = [
        factory.headers(await factory.user("farmer")),
        factory.headers(await factory.user("bank_admin", bank_id=bank.id)),
        factory.headers(await factory.user("admin")),
        system_headers(bank, "demands:write loans:write products:write"),
    ]
    calls = [
        ("GET", "/agent/households", None),
        ("POST", f"/agent/households/{h.id}/sms-codes", None),
        ("POST", "/agent/demands", {}),
        ("POST", f"/agent/demands/{uuid.uuid4()}/offers/{uuid.uuid4()}/accept", {}),
        ("PUT", f"/agent/households/{h.id}/village-score", {}),
    ]
    for method, url, body in calls:
        assert (await client.request(method, url, json=body)).status_code == 401
        for headers in callers:
            r = await client.request(method, url, json=body, headers=headers)
            assert r.status_code == 403, (method, url, r.text)
    # an agent whose station is gone
    ghost = await factory.user("station_agent", station_id=uuid.uuid4())
    r = await client.get("/agent/households", headers=factory.headers(ghost))
    assert r.status_code == 403
    assert h.phone and sms_to(h.phone) == []
