"""Activation (启信), consents, freezing, objections, unlinking — and other tenants getting 404."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from app.consents import service as consents
from app.credit.models import Certificate, Household
from app.events.models import Event
from tests.builders.credit import Credit
from tests.factories import Factory


async def _activated(credit: Credit, factory: Factory, client: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    hid = await credit.household(p="96", v="96")
    bank = await factory.bank(["411725"])
    user, headers = await credit.farmer_with(hid)
    await factory.step_up(headers)
    r = await client.post("/me/certificate/activation", json={"lead_bank_id": str(bank.id)}, headers=headers)
    assert r.status_code == 200, r.text
    return hid, bank, user, headers, r.json()


async def test_activation_rules(credit: Credit, client: httpx.AsyncClient, factory: Factory) -> None:
    hid = await credit.household(p="96", v="96")
    _user, headers = await credit.farmer_with(hid)
    far = await factory.bank(["411702"])
    near = await factory.bank(["411725"])
    url = "/me/certificate/activation"
    r = await client.post(url, json={"lead_bank_id": str(near.id)}, headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "step_up_required"
    await factory.step_up(headers)
    assert (await client.post(url, json={"lead_bank_id": str(near.id), "x": 1}, headers=headers)).status_code == 422
    r = await client.post(url, json={"lead_bank_id": "00000000-0000-0000-0000-000000000001"}, headers=headers)
    assert r.status_code == 404
    r = await client.post(url, json={"lead_bank_id": str(far.id)}, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "bank_not_serving_county"
    r = await client.post(url, json={"lead_bank_id": str(near.id)}, headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "active"
    assert r.json()["lead_bank"] == {"id": str(near.id), "name": near.name}
    listed = (await client.get("/me/consents", headers=headers)).json()["items"]
    assert len(listed) == 1 and listed[0]["bank"]["id"] == str(near.id) and listed[0]["source"] == "activation"
    assert listed[0]["wording_version"] and listed[0]["active"]
    async with factory.session() as s:
        assert await consents.has_consent(s, near.id, hid)
    me = (await client.get("/me/credit", headers=headers)).json()
    assert me["certificate"]["status"] == "active" and me["certificate"]["lead_bank"]["name"] == near.name


async def test_no_or_inactive_certificate(credit: Credit, client: httpx.AsyncClient, factory: Factory) -> None:
    bank = await factory.bank(["411725"])
    farmer = await factory.user("farmer")
    headers = factory.headers(farmer)
    await factory.step_up(headers)
    r = await client.post("/me/certificate/activation", json={"lead_bank_id": str(bank.id)}, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "certificate_inactive"
    hid = await credit.household(p="96", v="96")
    _, headers = await credit.farmer_with(hid)
    await factory.step_up(headers)
    async with factory.session() as s:
        cert = await s.scalar(select(Certificate).where(Certificate.household_id == hid))
        assert cert is not None
        cert.status = "frozen"
        await s.commit()
    r = await client.post("/me/certificate/activation", json={"lead_bank_id": str(bank.id)}, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "certificate_inactive"


async def test_change_lead_bank_only_when_nothing_drawn(
    credit: Credit, client: httpx.AsyncClient, factory: Factory
) -> None:
    hid, bank, _user, headers, _ = await _activated(credit, factory, client)
    other = await factory.bank(["411725"])
    async with factory.session() as s:
        cert = await s.scalar(select(Certificate).where(Certificate.household_id == hid))
        assert cert is not None
        cert.pending_fen = 100_000
        await s.commit()
    r = await client.post("/me/certificate/activation", json={"lead_bank_id": str(other.id)}, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    async with factory.session() as s:
        cert = await s.scalar(select(Certificate).where(Certificate.household_id == hid))
        assert cert is not None and cert.lead_bank_id == bank.id
        cert.pending_fen = 0
        await s.commit()
    r = await client.post("/me/certificate/activation", json={"lead_bank_id": str(other.id)}, headers=headers)
    assert r.status_code == 200 and r.json()["lead_bank"]["id"] == str(other.id)
    async with factory.session() as s:
        assert not await consents.has_consent(s, bank.id, hid)
        assert await consents.has_consent(s, other.id, hid)


async def test_consent_withdrawal_and_tenancy(credit: Credit, client: httpx.AsyncClient, factory: Factory) -> None:
    hid, bank, _user, headers, _ = await _activated(credit, factory, client)
    consent_id = (await client.get("/me/consents", headers=headers)).json()["items"][0]["id"]
    stranger = factory.headers(await factory.user("farmer"))
    assert (await client.post(f"/me/consents/{consent_id}/withdraw", headers=stranger)).status_code == 404
    async with factory.session() as s:
        assert await consents.has_consent(s, bank.id, hid)
    r = await client.post(f"/me/consents/{consent_id}/withdraw", headers=headers)
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["withdrawn_at"]
    async with factory.session() as s:
        assert not await consents.has_consent(s, bank.id, hid)
        ev = (
            (await s.execute(select(Event).where(Event.bank_id == bank.id, Event.type == "consent.withdrawn")))
            .scalars()
            .all()
        )
        assert len(ev) == 1
    assert (await client.post(f"/me/consents/{consent_id}/withdraw", headers=headers)).status_code == 409


async def test_consent_text_is_public(client: httpx.AsyncClient) -> None:
    r = await client.get("/consent-texts/current")
    assert r.status_code == 200 and r.json()["version"] and "银行" in r.json()["text"]
    assert "id_number" in r.json()["fields"] and r.json()["purpose"]


async def test_freeze_unfreeze(credit: Credit, client: httpx.AsyncClient, factory: Factory) -> None:
    hid, bank, _user, headers, cert = await _activated(credit, factory, client)
    other_admin = factory.headers(await factory.user("bank_admin", bank_id=(await factory.bank(["411725"])).id))
    staff = factory.headers(await factory.user("bank_staff", bank_id=bank.id))
    lead_admin = factory.headers(await factory.user("bank_admin", bank_id=bank.id))
    url = f"/admin/certificates/{cert['id']}"
    assert (await client.post(url + "/freeze", json={"reason": "风险"}, headers=other_admin)).status_code == 404
    assert (await client.post(url + "/freeze", json={"reason": "风险"}, headers=staff)).status_code == 403
    assert (await client.post(url + "/freeze", json={"reason": "风险"}, headers=headers)).status_code == 403
    async with factory.session() as s:
        assert (await s.get(Certificate, uuid.UUID(cert["id"]))).status == "active"  # type: ignore[union-attr]
    r = await client.post(url + "/freeze", json={"reason": "贷后风险排查"}, headers=lead_admin)
    assert r.status_code == 200 and r.json()["status"] == "frozen"
    assert (await client.post(url + "/freeze", json={"reason": "again"}, headers=lead_admin)).status_code == 409
    me = (await client.get("/me/credit", headers=headers)).json()
    assert me["certificate"]["status"] == "frozen"
    r = await client.post(url + "/unfreeze", json={"reason": "排查完毕"}, headers=await credit.admin())
    assert r.status_code == 200 and r.json()["status"] == "active"
    detail = (await client.get(f"/admin/households/{hid}", headers=await credit.admin())).json()
    assert [e["kind"] for e in detail["ledger"]][:2] == ["unfrozen", "frozen"]
    async with factory.session() as s:
        kinds = [
            e.data.get("changes") for e in (await s.execute(select(Event).where(Event.bank_id == bank.id))).scalars()
        ]
        assert ["frozen"] in kinds and ["unfrozen"] in kinds


async def test_objections(credit: Credit, client: httpx.AsyncClient, factory: Factory) -> None:
    hid = await credit.household(p="80", v="80")
    user, headers = await credit.farmer_with(hid)
    r = await client.post("/me/credit/objections", json={"reason": "村评分有误"}, headers=headers)
    assert r.status_code == 201 and r.json()["status"] == "open"
    oid = r.json()["id"]
    stranger = factory.headers(await factory.user("farmer"))
    assert (await client.get(f"/me/credit/objections/{oid}", headers=stranger)).status_code == 404
    assert (await client.get(f"/me/credit/objections/{oid}", headers=headers)).status_code == 200
    assert (await client.post("/me/credit/objections", json={}, headers=headers)).status_code == 422
    far_reg = factory.headers(await factory.user("regulator", region_code="411702"))
    body = {"resolution": "经核实，维持原评级", "outcome": "dismissed"}
    assert (await client.post(f"/admin/objections/{oid}/resolve", json=body, headers=far_reg)).status_code == 404
    assert (await client.post(f"/admin/objections/{oid}/resolve", json=body, headers=headers)).status_code == 403
    reg = factory.headers(await factory.user("regulator", region_code="411725"))
    listed = (await client.get("/admin/objections", params={"status": "open", "limit": 100}, headers=reg)).json()
    assert oid in [o["id"] for o in listed["items"]]
    r = await client.post(f"/admin/objections/{oid}/resolve", json=body, headers=reg)
    assert r.status_code == 200 and r.json()["status"] == "resolved" and r.json()["outcome"] == "dismissed"
    assert (await client.post(f"/admin/objections/{oid}/resolve", json=body, headers=reg)).status_code == 409
    from app.notifications.models import Notification

    async with factory.session() as s:
        kinds = (await s.execute(select(Notification.kind).where(Notification.user_id == user.id))).scalars().all()
        assert "objection.resolved" in kinds


async def test_unlink(credit: Credit, client: httpx.AsyncClient, factory: Factory) -> None:
    hid = await credit.household()
    _, headers = await credit.farmer_with(hid)
    reg = factory.headers(await factory.user("regulator"))
    assert (await client.post(f"/admin/households/{hid}/unlink", headers=reg)).status_code == 403
    r = await client.post(f"/admin/households/{hid}/unlink", headers=await credit.admin())
    assert r.status_code == 200 and r.json()["linked"] is False
    assert (await client.get("/me/credit", headers=headers)).json()["rating"] is None
    async with factory.session() as s:
        assert (await s.get(Household, hid)).user_id is None  # type: ignore[union-attr]
    assert (await client.post(f"/admin/households/{hid}/unlink", headers=await credit.admin())).status_code == 409


async def test_set_village_score_service(credit: Credit, factory: Factory) -> None:
    from decimal import Decimal

    from app.core.audit import Actor
    from app.credit.rating_updates import set_village_score

    hid = await credit.household(p="96", v="70")  # 0.7×96 + 0.3×70 = 88.2 → 3★
    async with factory.session() as s:
        h = await set_village_score(s, hid, Decimal("100"), Actor("user", "agent-1", "station_agent"))
        await s.commit()
        assert h.stars == 5 and h.composite_score == Decimal("97.2")
