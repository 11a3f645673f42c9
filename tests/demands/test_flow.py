"""The whole demand flow through HTTP: post → match → offer → accept (consent) → contact visible → consent
withdrawn → masked again; and the farmer's side rules."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.consents.models import Consent
from app.core.config import get_settings
from app.core.dates import china_today
from app.demands import sweeps
from app.demands.models import Demand
from app.events.models import Event
from app.notifications.models import Notification
from tests.builders.demands import Demands, demand_body, system_headers
from tests.factories import Factory


async def rows(factory: Factory, stmt: Any) -> list[Any]:
    async with factory.session() as s:
        return list((await s.execute(stmt)).scalars().all())


async def test_post_match_offer_accept_consent_withdraw(
    client: httpx.AsyncClient, factory: Factory, demands: Demands
) -> None:
    farmer = await demands.farmer(name="王小明", certificate_limit_fen=5_000_000)
    county = farmer.village[:6]
    a = await demands.bank([county])
    b = await demands.bank([county])

    d = await demands.posted(farmer)
    assert d["status"] == "open"
    assert d["expires_on"] == (china_today() + timedelta(days=30)).isoformat()
    shared = d["shared_with_banks"]
    assert shared["applicant_name"] == "王**"
    assert shared["phone"].startswith("+86 139****")
    assert shared["village"]["code"] == farmer.village and shared["village"]["name"] != farmer.village
    assert shared["stars"] == 5 and shared["amount_fen"] == 3_000_000
    assert {x["id"] for x in shared["banks"]} >= {str(a.bank.id), str(b.bank.id)}
    sug = d["suggested_products"]
    assert 1 <= len(sug) <= 5
    assert [p["min_annual_rate_bp"] for p in sug] == sorted(p["min_annual_rate_bp"] for p in sug)
    assert all(p["min_amount_fen"] <= 3_000_000 <= p["max_amount_fen"] and p["bank"]["name"] for p in sug)

    # demand.created reaches every bank serving the county, masked
    evs = await rows(factory, select(Event).where(Event.type == "demand.created", Event.bank_id == a.bank.id))
    ev = [e for e in evs if e.data["demand_id"] == d["id"]]
    assert ev and ev[0].data["applicant"]["name"] == "王**" and ev[0].data["applicant"]["masked"] is True

    # the bank sees it masked, with its product matching
    r = await client.get(f"/bank/demands/{d['id']}", headers=a.headers)
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen["applicant"]["name"] == "王**" and seen["applicant"]["masked"] is True
    assert "****" in seen["applicant"]["phone"] and "*" in seen["applicant"]["id_number"]
    assert [p["id"] for p in seen["matching_products"]] == [str(a.product.id)]
    assert 0 <= float(seen["match_score"]) <= 100 and seen["match_reasons"]

    r1 = await demands.offer(a, d["id"])
    assert r1.status_code == 201, r1.text
    r2 = await demands.offer(b, d["id"], annual_rate_bp=500)
    assert r2.status_code == 201, r2.text
    offer_a, offer_b = r1.json(), r2.json()
    assert offer_a["status"] == "pending"

    # the farmer is told in-app and by SMS
    notes = await rows(factory, select(Notification).where(Notification.user_id == farmer.user.id))
    offer_notes = [n for n in notes if n.kind == "offer.created"]
    assert len(offer_notes) == 2 and all(n.sms_phone == farmer.user.phone for n in offer_notes)

    r = await client.get(f"/me/demands/{d['id']}", headers=farmer.headers)
    mine = r.json()
    assert {o["id"] for o in mine["offers"]} == {offer_a["id"], offer_b["id"]}
    got = next(o for o in mine["offers"] if o["id"] == offer_a["id"])
    assert got["bank"]["name"] == a.bank.name and got["product"]["name"] == "养殖贷"
    assert got["amount_fen"] == 3_000_000 and got["annual_rate_bp"] == 550 and got["note"] == "可上门办理"

    accept = f"/me/demands/{d['id']}/offers/{offer_a['id']}/accept"
    r = await client.post(accept, headers=farmer.headers)
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"
    await factory.step_up(farmer.headers)
    r = await client.post(accept, headers=farmer.headers)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "accepted" and done["accepted_offer_id"] == offer_a["id"]
    statuses = {o["id"]: o["status"] for o in done["offers"]}
    assert statuses == {offer_a["id"]: "accepted", offer_b["id"]: "declined"}

    consent = (await rows(factory, select(Consent).where(Consent.source_id == uuid.UUID(offer_a["id"]))))[0]
    assert consent.bank_id == a.bank.id and consent.fields == ["real_name", "phone"] and consent.source == "offer"
    assert consent.wording_version and consent.purpose
    ev = await rows(factory, select(Event).where(Event.type == "offer.accepted", Event.bank_id == a.bank.id))
    assert ev[-1].data["applicant"] == {"name": "王小明", "phone": farmer.user.phone}
    bank_notes = await rows(factory, select(Notification).where(Notification.bank_id == a.bank.id))
    assert any(n.kind == "offer.accepted" for n in bank_notes)

    # only the accepted bank sees the contact
    seen = (await client.get(f"/bank/demands/{d['id']}", headers=a.headers)).json()
    assert seen["applicant"] == {
        "name": "王小明",
        "phone": farmer.user.phone,
        "id_number": seen["applicant"]["id_number"],
        "masked": False,
    }
    seen_b = (await client.get(f"/bank/demands/{d['id']}", headers=b.headers)).json()
    assert seen_b["applicant"]["name"] == "王**" and seen_b["applicant"]["masked"] is True

    # withdrawing the consent masks it again at once
    r = await client.post(f"/me/consents/{consent.id}/withdraw", headers=farmer.headers)
    assert r.status_code == 200, r.text
    seen = (await client.get(f"/bank/demands/{d['id']}", headers=a.headers)).json()
    assert seen["applicant"]["name"] == "王**" and seen["applicant"]["masked"] is True
    assert farmer.user.phone not in str(seen)

    # accepted: no second acceptance, no new offers
    r = await client.post(f"/me/demands/{d['id']}/offers/{offer_b['id']}/accept", headers=farmer.headers)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"


async def test_tenancy(client: httpx.AsyncClient, factory: Factory, demands: Demands) -> None:
    farmer = await demands.farmer()
    other = await demands.farmer()
    county = farmer.village[:6]
    a = await demands.bank([county])
    far = await demands.bank(["411702"])
    d = await demands.posted(farmer)

    for path in (f"/me/demands/{d['id']}",):
        assert (await client.get(path, headers=other.headers)).status_code == 404
    for action in ("withdraw", "renew"):
        r = await client.post(f"/me/demands/{d['id']}/{action}", headers=other.headers)
        assert r.status_code == 404
    assert d["id"] not in {x["id"] for x in (await client.get("/me/demands", headers=other.headers)).json()["items"]}

    # a bank not serving the county: absent from the list, 404 on detail and offers
    r = await client.get("/bank/demands", params={"limit": 100}, headers=far.headers)
    assert r.status_code == 200 and all(x["county_code"] == "411702" for x in r.json()["items"])
    assert (await client.get(f"/bank/demands/{d['id']}", headers=far.headers)).status_code == 404
    r = await demands.offer(far, d["id"])
    assert r.status_code == 404

    r = await demands.offer(a, d["id"])
    offer = r.json()
    # another bank cannot withdraw it
    r = await client.delete(f"/bank/demands/{d['id']}/offers/{offer['id']}", headers=far.headers)
    assert r.status_code == 404
    other_in_county = await demands.bank([county])
    r = await client.delete(f"/bank/demands/{d['id']}/offers/{offer['id']}", headers=other_in_county.headers)
    assert r.status_code == 404
    mine = (await client.get(f"/me/demands/{d['id']}", headers=farmer.headers)).json()
    assert mine["offers"][0]["status"] == "pending"
    # a product of another bank is 404
    r = await demands.offer(other_in_county, d["id"], product_id=str(a.product.id))
    assert r.status_code == 404
    # another farmer cannot accept or decline it
    await factory.step_up(other.headers)
    r = await client.post(f"/me/demands/{d['id']}/offers/{offer['id']}/accept", headers=other.headers)
    assert r.status_code == 404
    r = await client.post(f"/me/demands/{d['id']}/offers/{offer['id']}/decline", headers=other.headers)
    assert r.status_code == 404

    # the bank withdraws its own offer
    r = await client.delete(f"/bank/demands/{d['id']}/offers/{offer['id']}", headers=a.headers)
    assert r.status_code == 204
    r = await client.delete(f"/bank/demands/{d['id']}/offers/{offer['id']}", headers=a.headers)
    assert r.status_code == 409


async def test_who_may_call(client: httpx.AsyncClient, factory: Factory, demands: Demands) -> None:
    farmer = await demands.farmer()
    a = await demands.bank([farmer.village[:6]])
    d = await demands.posted(farmer)
    assert (await client.get("/bank/demands")).status_code == 401
    assert (await client.get("/bank/demands", headers=farmer.headers)).status_code == 403
    assert (await client.get("/bank/demands", headers=system_headers(a.bank, "loans:write"))).status_code == 403
    r = await client.get(f"/bank/demands/{d['id']}", headers=system_headers(a.bank))
    assert r.status_code == 200
    r = await client.post("/me/demands", json=demand_body(), headers=a.headers)
    assert r.status_code == 403
    agent = await factory.user("station_agent")
    assert (await client.get("/bank/demands", headers=factory.headers(agent))).status_code == 403


async def test_limits_and_bad_input(client: httpx.AsyncClient, demands: Demands) -> None:
    farmer = await demands.farmer()
    bad: list[dict[str, Any]] = [
        {"amount_fen": 99_999},
        {"amount_fen": 1_000_000_001},
        {"term_months": 0},
        {"term_months": 121},
        {"purpose": "gambling"},
        {"collateral_types": ["gold"]},
        {"description": "长" * 501},
        {"status": "accepted"},
    ]
    for over in bad:
        r = await demands.post(farmer, **over)
        assert r.status_code == 422, (over, r.text)
        assert r.json()["code"] == "validation_failed" and r.json()["errors"]
    ok = [
        {"amount_fen": 100_000},
        {"amount_fen": 1_000_000_000, "term_months": 120},
        {"description": "长" * 500, "term_months": 1},
    ]
    ids = [(await demands.posted(farmer, **over))["id"] for over in ok]
    r = await demands.post(farmer)
    assert r.status_code == 409 and r.json()["code"] == "too_many_open_demands"
    # withdrawing one frees a place
    r = await client.post(f"/me/demands/{ids[0]}/withdraw", headers=farmer.headers)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert (await demands.post(farmer)).status_code == 201
    r = await client.post(f"/me/demands/{ids[0]}/withdraw", headers=farmer.headers)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    r = await client.post(f"/me/demands/{ids[0]}/renew", headers=farmer.headers)
    assert r.status_code == 409


async def test_daily_cap(demands: Demands, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "demands_per_day", 2)
    farmer = await demands.farmer()
    d = await demands.posted(farmer)
    await client.post(f"/me/demands/{d['id']}/withdraw", headers=farmer.headers)
    await demands.posted(farmer)
    r = await demands.post(farmer)
    assert r.status_code == 429 and r.json()["code"] == "rate_limited" and "Retry-After" in r.headers


async def test_who_may_post(client: httpx.AsyncClient, factory: Factory, session: Any) -> None:
    from app.auth.models import EnterpriseProfile

    lone = await factory.user("farmer")
    h = factory.headers(lone)
    r = await client.post("/me/demands", json=demand_body(), headers=h)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state" and "关联" in r.json()["detail"]

    village = await factory.fresh_village("411725")
    biz = await factory.user("farmer", village_code=village, household_type="small_business")
    session.add(
        EnterpriseProfile(user_id=biz.id, name="确山县示范农机合作社", uscc_enc="x", uscc_hash=uuid.uuid4().hex)
    )
    await session.commit()
    r = await client.post("/me/demands", json=demand_body(), headers=factory.headers(biz))
    assert r.status_code == 201, r.text
    d = r.json()
    # an enterprise is not rated by the households' system: 未评级, stars null
    assert d["applicant_kind"] == "enterprise" and d["village"]["code"] == village
    assert d["stars"] is None and d["rated"] is False and d["key_enterprise"] is False
    assert d["shared_with_banks"]["applicant_name"] == "确" + "*" * 9


async def test_idempotent_post(client: httpx.AsyncClient, demands: Demands) -> None:
    farmer = await demands.farmer()
    h = {**farmer.headers, "Idempotency-Key": uuid.uuid4().hex}
    r1 = await client.post("/me/demands", json=demand_body(), headers=h)
    r2 = await client.post("/me/demands", json=demand_body(), headers=h)
    assert r1.status_code == r2.status_code == 201 and r1.json()["id"] == r2.json()["id"]
    assert r2.headers["Idempotent-Replayed"] == "true"
    listed = (await client.get("/me/demands", headers=farmer.headers)).json()["items"]
    assert len(listed) == 1


async def test_decline_expiry_renew(client: httpx.AsyncClient, factory: Factory, demands: Demands) -> None:
    farmer = await demands.farmer()
    a = await demands.bank([farmer.village[:6]])
    d = await demands.posted(farmer)
    offer = (await demands.offer(a, d["id"])).json()
    r = await client.post(f"/me/demands/{d['id']}/offers/{offer['id']}/decline", headers=farmer.headers)
    assert r.status_code == 200 and r.json()["offers"][0]["status"] == "declined" and r.json()["status"] == "open"
    # a declined offer frees the bank to offer again
    offer2 = await demands.offer(a, d["id"], annual_rate_bp=480)
    assert offer2.status_code == 201

    r = await client.post(f"/me/demands/{d['id']}/renew", headers=farmer.headers)
    assert r.status_code == 200 and r.json()["expires_on"] == (china_today() + timedelta(days=30)).isoformat()

    async with factory.session() as s:
        await s.execute(
            update(Demand).where(Demand.id == uuid.UUID(d["id"])).values(expires_on=china_today() - timedelta(days=1))
        )
        await s.commit()
    got = (await client.get(f"/me/demands/{d['id']}", headers=farmer.headers)).json()
    assert got["status"] == "expired"
    assert (await client.get(f"/bank/demands/{d['id']}", headers=a.headers)).json()["status"] == "expired"
    assert (await demands.offer(a, d["id"], annual_rate_bp=470)).status_code == 409
    # The sweep skips rows another transaction holds (SKIP LOCKED) and works in batches over the shared test
    # database, so run it until this demand is recorded expired rather than counting what one pass did.
    for _ in range(20):
        async with factory.session() as s:
            await sweeps.expire_due(s)
            await s.commit()
            if (await s.get(Demand, uuid.UUID(d["id"]), populate_existing=True)).status == "expired":
                break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the expiry sweep never recorded the demand as expired")
    notes = await rows(factory, select(Notification).where(Notification.user_id == farmer.user.id))
    assert any(n.kind == "demand.expired" for n in notes)
    got = (await client.get(f"/me/demands/{d['id']}", headers=farmer.headers)).json()
    assert got["status"] == "expired" and all(o["status"] != "pending" for o in got["offers"])
    # an expired demand can be renewed
    r = await client.post(f"/me/demands/{d['id']}/renew", headers=farmer.headers)
    assert r.status_code == 200 and r.json()["status"] == "open"


async def test_export_has_demands(client: httpx.AsyncClient, demands: Demands) -> None:
    farmer = await demands.farmer()
    a = await demands.bank([farmer.village[:6]])
    d = await demands.posted(farmer)
    await demands.offer(a, d["id"])
    r = await client.get("/me/export", headers=farmer.headers)
    assert r.status_code == 200, r.text
    exported = r.json()["demands"]
    assert exported[0]["id"] == d["id"] and exported[0]["offers"][0]["bank"]["id"] == str(a.bank.id)
