"""`GET /me/export` carries every domain's section for a farmer with data in each; `POST /me/deletion` erases
notifications and keeps credit, loans and consents, saying why."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
from sqlalchemy import func, select

from app.consents import service as consents
from app.credit.models import CertificateLedgerEntry, Household, RatingChange
from app.notifications.models import Notification
from tests.builders.drawdowns import Lending
from tests.factories import Factory


async def test_export_has_every_section(client: httpx.AsyncClient, factory: Factory) -> None:
    lending = Lending(factory, client)
    b = await lending.borrower(limit_fen=5_000_000)
    async with factory.session() as s:
        h = await s.get(Household, b.household.id)
        assert h is not None
        h.provincial_score, h.village_score, h.composite_score = Decimal("96"), Decimal("97"), Decimal("96.3")
        h.stars, h.is_credit_household, h.positives = 5, True, []
        s.add(
            CertificateLedgerEntry(
                certificate_id=b.certificate.id,
                household_id=h.id,
                kind="granted",
                new_limit_fen=5_000_000,
                new_status="issued",
                reason="rating:import",
            )
        )
        s.add(
            RatingChange(
                household_id=h.id, source="agent", actor_type="user", actor_id=str(uuid.uuid4()), after={"stars": 5}
            )
        )
        # the borrower's activation (启信) recorded its consent to the lead bank
        consent = (await consents.activation_consents(s, [h.id], bank_id=b.bank.id))[h.id]
        await s.commit()
    dd = await lending.loan(b, 1_000_000)
    r = await lending.repay(b, dd, 200_000)
    assert r.status_code == 201, r.text
    r = await client.post("/me/credit/objections", json={"reason": "村评分偏低"}, headers=b.headers)
    assert r.status_code == 201, r.text
    objection_id = r.json()["id"]

    r = await client.get("/me/export", headers=b.headers)
    assert r.status_code == 200, r.text
    data = r.json()
    credit = data["credit"]
    assert credit["rating"]["stars"] == 5 and credit["rating"]["factors"]["explanation"]
    assert credit["certificate"]["number"] == b.certificate.number
    assert [c["number"] for c in credit["certificates"]] == [b.certificate.number]
    assert [e["kind"] for e in credit["ledger"]] == ["granted"]
    assert [c["source"] for c in credit["rating_history"]] == ["agent"]
    assert "actor_id" not in credit["rating_history"][0]  # staff identities are not the farmer's data
    assert [o["id"] for o in credit["objections"]] == [objection_id]
    [loan] = data["drawdowns"]
    assert loan["id"] == dd and loan["status"] == "disbursed" and loan["outstanding_fen"] == 800_000
    assert [p["amount_fen"] for p in loan["repayments"]] == [200_000] and loan["schedule"]["items"]
    assert [c["id"] for c in data["consents"]] == [str(consent.id)]
    assert data["consents"][0]["bank"]["id"] == str(b.bank.id)
    kinds = {n["kind"] for n in data["notifications"]}
    assert "objection.received" in kinds and len(data["notifications"]) >= 2

    # another farmer's export carries none of it
    other = await factory.user("farmer")
    r = await client.get("/me/export", headers=factory.headers(other))
    o = r.json()
    assert o["drawdowns"] == [] and o["consents"] == [] and o["notifications"] == []
    assert o["credit"]["rating"] is None and o["credit"]["objections"] == []

    # deletion: notifications erased; credit, loans and consents kept, each with a reason
    r = await client.post("/me/deletion", headers=b.headers)
    assert r.status_code == 202, r.text
    body = r.json()
    assert "notifications" in body["erased"]
    kept = {k["what"]: k["why"] for k in body["kept"]}
    for what in ("credit_rating_and_certificates", "rating_objections", "drawdowns_and_repayments", "consents"):
        assert kept.get(what), (what, kept)
    async with factory.session() as s:
        left = await s.scalar(select(func.count()).select_from(Notification).where(Notification.user_id == b.user.id))
        assert left == 0
        assert (await s.get(Household, b.household.id)) is not None
