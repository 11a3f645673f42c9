"""Privacy says what it does (issue 14 item 10, DOMAIN.md consent rules):

- the lead-bank consent (启信) covers identity for lending: the lead bank's draw-downs show the borrower's name and
  full resident ID while it stands, masked the moment it is withdrawn;
- a demand shows the applicant in full only to the bank whose offer was accepted, while that consent stands — not
  to the lead bank;
- `shared_with_banks` tells the farmer exactly what each class of bank sees.
"""

from __future__ import annotations

import httpx
from sqlalchemy import select

from app.consents.models import Consent
from app.core.crypto import mask_id_number, mask_name, mask_phone
from tests.builders.demands import Demands, demand_body
from tests.builders.drawdowns import Lending
from tests.factories import Factory


async def _activation_consent_id(factory: Factory, household_id: object) -> str:
    async with factory.session() as s:
        c = await s.scalar(select(Consent).where(Consent.household_id == household_id, Consent.source == "activation"))
        assert c is not None
        return str(c.id)


async def test_lead_bank_sees_identity_on_drawdowns_until_withdrawn(
    client: httpx.AsyncClient, factory: Factory, lending: Lending
) -> None:
    b = await lending.borrower()
    r = await lending.submit(b, 500_000)
    assert r.status_code == 201, r.text
    dd = r.json()["id"]

    one = (await client.get(f"/bank/drawdowns/{dd}", headers=b.bank_headers)).json()["borrower"]
    assert one["real_name"] == "张三丰" and one["id_number"] == b.resident_id and one["phone"] == b.user.phone
    assert one["masked"] is False and one["consent_id"] == await _activation_consent_id(factory, b.household.id)
    listed = (await client.get("/bank/drawdowns", params={"limit": 100}, headers=b.bank_headers)).json()["items"]
    assert next(i for i in listed if i["id"] == dd)["borrower"]["id_number"] == b.resident_id

    consent_id = one["consent_id"]
    r = await client.post(f"/me/consents/{consent_id}/withdraw", headers=b.headers)
    assert r.status_code == 200, r.text
    # at once: the next answer is masked, in the queue and on the draw-down, and after an action too
    masked = {
        "real_name": mask_name("张三丰"),
        "id_number": mask_id_number(b.resident_id),
        "phone": mask_phone(b.user.phone),
        "masked": True,
        "consent_id": None,
    }
    one = (await client.get(f"/bank/drawdowns/{dd}", headers=b.bank_headers)).json()["borrower"]
    assert {k: one[k] for k in masked} == masked
    listed = (await client.get("/bank/drawdowns", params={"limit": 100}, headers=b.bank_headers)).json()["items"]
    assert {k: next(i for i in listed if i["id"] == dd)["borrower"][k] for k in masked} == masked
    r = await lending.act(b, dd, "approve", {"annual_rate_bp": 600})
    assert r.status_code == 200 and {k: r.json()["borrower"][k] for k in masked} == masked
    assert b.resident_id not in r.text and "张三丰" not in r.text


async def test_demand_applicant_in_full_only_to_the_accepted_bank(
    client: httpx.AsyncClient, factory: Factory, lending: Lending, demands: Demands
) -> None:
    b = await lending.borrower(village=await factory.fresh_village("411725"))
    county = b.village[:6]
    other = await demands.bank([county])
    farmer_view = (await client.post("/me/demands", json=demand_body(), headers=b.headers)).json()
    d = farmer_view["id"]

    # the lead bank holds the activation consent, yet sees the demand masked like every other bank
    seen = (await client.get(f"/bank/demands/{d}", headers=b.bank_headers)).json()
    assert seen["applicant"]["masked"] is True and seen["applicant"]["name"] == mask_name("张三丰")
    assert b.user.phone not in str(seen)

    # what the farmer is told: the county's banks see the masked view; the lead bank sees identity for lending
    shared = farmer_view["shared_with_banks"]
    by = {a["audience"]: a for a in shared["audiences"]}
    assert set(by) == {"county_banks", "lead_bank"}
    assert by["county_banks"]["applicant"] == seen["applicant"] and by["county_banks"]["where"] == "demand"
    assert {str(b.bank.id), str(other.bank.id)} <= {x["id"] for x in by["county_banks"]["banks"]}
    lead = by["lead_bank"]
    assert lead["where"] == "lending" and [x["id"] for x in lead["banks"]] == [str(b.bank.id)]
    assert lead["applicant"]["name"] == "张三丰" and lead["applicant"]["masked"] is False
    assert lead["consent_id"] == await _activation_consent_id(factory, b.household.id)
    assert "在本需求中它与其他银行一样只看到脱敏信息" in lead["summary"]

    # another bank's offer is accepted: that bank (only) sees name and phone, and the farmer is told so
    offer = await demands.offer(other, d)
    assert offer.status_code == 201, offer.text
    await factory.step_up(b.headers)
    r = await client.post(f"/me/demands/{d}/offers/{offer.json()['id']}/accept", headers=b.headers)
    assert r.status_code == 200, r.text
    by = {a["audience"]: a for a in r.json()["shared_with_banks"]["audiences"]}
    assert set(by) == {"county_banks", "lead_bank", "accepted_bank"}
    took = by["accepted_bank"]
    assert [x["id"] for x in took["banks"]] == [str(other.bank.id)] and took["where"] == "demand"
    seen_other = (await client.get(f"/bank/demands/{d}", headers=other.headers)).json()
    assert took["applicant"] == seen_other["applicant"]
    assert seen_other["applicant"]["name"] == "张三丰" and seen_other["applicant"]["phone"] == b.user.phone
    seen_lead = (await client.get(f"/bank/demands/{d}", headers=b.bank_headers)).json()
    assert seen_lead["applicant"]["masked"] is True and b.user.phone not in str(seen_lead)

    # withdrawing the offer consent: masked again at once, and the farmer's view says so
    r = await client.post(f"/me/consents/{took['consent_id']}/withdraw", headers=b.headers)
    assert r.status_code == 200
    assert (await client.get(f"/bank/demands/{d}", headers=other.headers)).json()["applicant"]["masked"] is True
    mine = (await client.get(f"/me/demands/{d}", headers=b.headers)).json()
    assert {a["audience"] for a in mine["shared_with_banks"]["audiences"]} == {"county_banks", "lead_bank"}

    # withdrawing the activation consent: the lead bank's line goes too
    r = await client.post(f"/me/consents/{lead['consent_id']}/withdraw", headers=b.headers)
    assert r.status_code == 200
    mine = (await client.get(f"/me/demands/{d}", headers=b.headers)).json()
    assert [a["audience"] for a in mine["shared_with_banks"]["audiences"]] == ["county_banks"]
