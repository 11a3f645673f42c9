"""Bank onboarding: GB 32100 codes, real regions, duplicates, and the public bank list."""

from __future__ import annotations

import httpx

from app.banks import service
from tests.factories import Factory, make_uscc


def bank_body(**over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "测试农商银行",
        "unified_social_credit_code": make_uscc(),
        "region_code": "411725",
        "county_codes": ["411725", "411726"],
        "contact_phone": "0396-1234567",
    }
    body.update(over)
    return body


async def test_admin_onboards_a_bank(client: httpx.AsyncClient, admin_headers, session) -> None:
    body = bank_body(contact_phone="13912345678")
    r = await client.post("/admin/banks", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    bank = r.json()
    assert bank["county_codes"] == ["411725", "411726"] and bank["contact_phone"] == "+8613912345678"
    import uuid

    bid = uuid.UUID(bank["id"])
    assert await service.bank_serves_county(session, bid, "411725")
    assert await service.bank_serves_county(session, bid, "411725001001")
    assert not await service.bank_serves_county(session, bid, "411702")
    await session.commit()  # hands the (single, on SQLite) connection back
    r = await client.get(f"/banks/{bank['id']}")
    assert r.status_code == 200 and r.json()["name"] == "测试农商银行" and "ETag" in r.headers
    assert (await client.get(f"/banks/{bank['id']}", headers={"If-None-Match": r.headers["ETag"]})).status_code == 304
    r = await client.get("/banks", params={"county_code": "411726", "limit": 100})
    assert bank["id"] in [b["id"] for b in r.json()["items"]]

    r = await client.post("/admin/banks", json={**body, "name": "另一家"}, headers=admin_headers)
    assert r.status_code == 409 and r.json()["code"] == "conflict"

    r = await client.patch(f"/admin/banks/{bank['id']}", json={"county_codes": ["411702"]}, headers=admin_headers)
    assert r.status_code == 200 and r.json()["county_codes"] == ["411702"]


async def test_bank_validation(client: httpx.AsyncClient, admin_headers) -> None:
    good = make_uscc()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    cases = [
        ({"unified_social_credit_code": bad}, "unified_social_credit_code"),
        ({"region_code": "419999"}, "region_code"),
        ({"county_codes": ["411725001"]}, "county_codes"),
        ({"county_codes": ["411799"]}, "county_codes.0"),
        ({"contact_phone": "call-me"}, "contact_phone"),
        ({"role": "admin"}, "role"),
    ]
    for over, field in cases:
        r = await client.post("/admin/banks", json=bank_body(**over), headers=admin_headers)
        assert r.status_code == 422, (over, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (over, r.json())


async def test_only_admins_onboard(client: httpx.AsyncClient, factory: Factory, farmer_headers) -> None:
    assert (await client.post("/admin/banks", json=bank_body())).status_code == 401
    assert (await client.post("/admin/banks", json=bank_body(), headers=farmer_headers)).status_code == 403
    reg = factory.headers(await factory.user("regulator"))
    assert (await client.post("/admin/banks", json=bank_body(), headers=reg)).status_code == 403
    bank = await factory.bank()
    staff = factory.headers(await factory.user("bank_admin", bank_id=bank.id))
    r = await client.patch(f"/admin/banks/{bank.id}", json={"name": "改名"}, headers=staff)
    assert r.status_code == 403
