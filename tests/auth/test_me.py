"""/me: profile, household linking (and its limits), enterprise, phone change, export, deletion."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.auth.models import User
from app.core import crypto
from app.credit.models import Household
from tests.builders.auth import bearer, last_code, send, sms_login
from tests.factories import Factory, make_resident_id, make_uscc, unique_phone


async def household(factory: Factory, name: str = "张三丰", poor: bool = True) -> tuple[Household, str]:
    village = await factory.fresh_village("411721")
    rid = make_resident_id("411721", seq=uuid.uuid4().int % 1000, born=f"19{uuid.uuid4().int % 80 + 10}0101")
    async with factory.session() as s:
        h = Household(
            id_number_enc=crypto.encrypt(rid, "resident_id"),
            id_number_hash=crypto.index_hash(rid, "resident_id"),
            real_name=name,
            village_code=village,
            township_code=village[:9],
            county_code=village[:6],
            is_registered_poor=poor,
        )
        s.add(h)
        await s.commit()
        await s.refresh(h)
    return h, rid


async def farmer(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, str]]:
    tokens = await sms_login(client, unique_phone())
    return tokens, bearer(tokens)


async def test_get_me(client: httpx.AsyncClient) -> None:
    tokens, headers = await farmer(client)
    r = await client.get("/me", headers=headers)
    assert r.status_code == 200
    me = r.json()
    assert me["phone"] == tokens["user"]["phone"]
    assert me["household_linked"] is False and me["is_registered_poor"] is False
    assert r.headers["cache-control"] == "no-store"


async def test_linking_with_matching_name_and_id(client: httpx.AsyncClient, factory: Factory) -> None:
    h, rid = await household(factory)
    _, headers = await farmer(client)
    r = await client.patch("/me", json={"real_name": "张三丰", "id_number": rid}, headers=headers)
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["household_linked"] is True
    assert me["is_registered_poor"] is True
    assert me["village_code"] == h.village_code
    assert me["id_number"] == rid[:4] + "*" * 10 + rid[-4:]
    async with factory.session() as s:
        user_id = (await s.execute(select(Household.user_id).where(Household.id == h.id))).scalar_one()
        user = await s.get(User, user_id)
    assert user is not None and user.id_number_enc and rid not in user.id_number_enc
    assert user.id_number_hash == crypto.index_hash(rid, "resident_id")
    # Once linked, the identity is fixed.
    r = await client.patch("/me", json={"real_name": "李四"}, headers=headers)
    assert r.status_code == 409


async def test_wrong_name_links_nothing_and_says_nothing(client: httpx.AsyncClient, factory: Factory) -> None:
    _, rid = await household(factory)
    _, headers = await farmer(client)
    wrong_name = await client.patch("/me", json={"real_name": "李四", "id_number": rid}, headers=headers)
    _, headers2 = await farmer(client)
    unknown_id = await client.patch(
        "/me",
        json={"real_name": "李四", "id_number": make_resident_id("411702", seq=7, born="19710203")},
        headers=headers2,
    )
    assert wrong_name.status_code == unknown_id.status_code == 200
    assert wrong_name.json()["household_linked"] is unknown_id.json()["household_linked"] is False


async def test_invalid_id_number_is_422(client: httpx.AsyncClient) -> None:
    _, headers = await farmer(client)
    rid = make_resident_id()
    bad = rid[:17] + ("0" if rid[17] != "0" else "1")
    r = await client.patch("/me", json={"real_name": "张三", "id_number": bad}, headers=headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "id_number"


async def test_five_failed_links_a_day(client: httpx.AsyncClient, factory: Factory) -> None:
    h, rid = await household(factory, name="赵六")
    _, headers = await farmer(client)
    for i in range(5):
        r = await client.patch("/me", json={"real_name": f"错名{i}", "id_number": rid}, headers=headers)
        assert r.status_code == 200 and r.json()["household_linked"] is False
    r = await client.patch("/me", json={"real_name": "赵六", "id_number": rid}, headers=headers)
    assert r.status_code == 429
    assert "Retry-After" in r.headers
    async with factory.session() as s:
        assert (await s.get(Household, h.id)).user_id is None  # type: ignore[union-attr]


async def test_household_linked_to_another_account(client: httpx.AsyncClient, factory: Factory) -> None:
    _, rid = await household(factory, name="钱七")
    _, first = await farmer(client)
    assert (await client.patch("/me", json={"real_name": "钱七", "id_number": rid}, headers=first)).json()[
        "household_linked"
    ]
    _, second = await farmer(client)
    r = await client.patch("/me", json={"real_name": "钱七", "id_number": rid}, headers=second)
    assert r.status_code == 409
    assert r.json()["code"] == "household_already_linked"


@pytest.mark.parametrize(
    "field",
    [
        {"role": "admin"},
        {"is_registered_poor": True},
        {"bank_id": str(uuid.uuid4())},
        {"status": "x"},
        {"phone": "13900000000"},
    ],
)
async def test_unknown_fields_are_422_and_change_nothing(client: httpx.AsyncClient, field: dict[str, Any]) -> None:
    _, headers = await farmer(client)
    before = (await client.get("/me", headers=headers)).json()
    r = await client.patch("/me", json={"household_type": "small_business", **field}, headers=headers)
    assert r.status_code == 422
    assert (await client.get("/me", headers=headers)).json() == before


async def test_patch_simple_fields(client: httpx.AsyncClient, factory: Factory) -> None:
    _, headers = await farmer(client)
    village = await factory.fresh_village()
    r = await client.patch("/me", json={"village_code": village, "household_type": "small_business"}, headers=headers)
    assert r.status_code == 200
    assert r.json()["village_code"] == village
    r = await client.patch("/me", json={"village_code": "411702999999"}, headers=headers)
    assert r.status_code == 422


async def test_enterprise_profile(client: httpx.AsyncClient, factory: Factory) -> None:
    _, headers = await farmer(client)
    code = make_uscc()
    r = await client.put(
        "/me/enterprise", json={"name": "西平县某农机合作社", "unified_social_credit_code": code}, headers=headers
    )
    assert r.status_code == 200
    assert r.json()["unified_social_credit_code"] != code and r.json()["unified_social_credit_code"].endswith(code[-4:])
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    r = await client.put("/me/enterprise", json={"name": "x", "unified_social_credit_code": wrong}, headers=headers)
    assert r.status_code == 422
    me = (await client.get("/me", headers=headers)).json()
    assert me["enterprise"]["name"] == "西平县某农机合作社"


async def test_change_phone(client: httpx.AsyncClient, no_interval: None) -> None:
    phone = unique_phone()
    tokens = await sms_login(client, phone)
    other = await sms_login(client, phone)  # a second session on another device
    headers = bearer(tokens)
    new_phone = unique_phone()
    await send(client, new_phone)
    r = await client.post("/me/phone", json={"new_phone": new_phone, "code": last_code(new_phone)}, headers=headers)
    assert r.status_code == 403
    assert r.json()["code"] == "step_up_required"
    await send(client, phone, "step_up", headers=headers)
    assert (await client.post("/auth/step-up", json={"code": last_code(phone)}, headers=headers)).status_code == 200
    r = await client.post("/me/phone", json={"new_phone": new_phone, "code": "000000"}, headers=headers)
    assert r.status_code == 400
    r = await client.post("/me/phone", json={"new_phone": new_phone, "code": last_code(new_phone)}, headers=headers)
    assert r.status_code == 200
    assert r.json()["phone"] == new_phone
    # This session goes on, the other one ends.
    assert (await client.get("/me", headers=headers)).status_code == 200
    assert (await client.get("/me", headers=bearer(other))).status_code == 401
    assert (await client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})).status_code == 401


async def test_change_phone_to_a_taken_number(client: httpx.AsyncClient, factory: Factory) -> None:
    taken = await factory.user("farmer")
    assert taken.phone
    _, headers = await farmer(client)
    await factory.step_up(headers)
    await send(client, taken.phone)
    r = await client.post("/me/phone", json={"new_phone": taken.phone, "code": last_code(taken.phone)}, headers=headers)
    assert r.status_code == 409


async def test_export(client: httpx.AsyncClient, factory: Factory) -> None:
    _, rid = await household(factory, name="孙八")
    _, headers = await farmer(client)
    await client.patch("/me", json={"real_name": "孙八", "id_number": rid}, headers=headers)
    r = await client.get("/me/export", headers=headers)
    assert r.status_code == 200
    data = r.json()
    assert data["profile"]["id_number"] == rid
    assert data["household"]["real_name"] == "孙八"
    assert data["sessions"] and data["sessions"][0]["sid"]
    assert r.headers["cache-control"] == "no-store"


async def test_deletion_without_household_erases_the_account(client: httpx.AsyncClient, factory: Factory) -> None:
    tokens, headers = await farmer(client)
    await client.patch("/me", json={"real_name": "周九", "id_number": make_resident_id()}, headers=headers)
    r = await client.post("/me/deletion", headers=headers)
    assert r.status_code == 202
    body = r.json()
    assert body["status"] == "completed"
    assert "id_number" in body["erased"] and "phone" in body["erased"]
    assert all(k["why"] for k in body["kept"])
    async with factory.session() as s:
        user = await s.get(User, uuid.UUID(tokens["user"]["id"]))
    assert user is not None and user.phone is None and user.id_number_enc is None and user.real_name is None
    assert (await client.get("/me", headers=headers)).status_code == 401


async def test_deletion_with_household_keeps_what_the_law_requires(client: httpx.AsyncClient, factory: Factory) -> None:
    _, rid = await household(factory, name="吴十")
    _, headers = await farmer(client)
    await client.patch("/me", json={"real_name": "吴十", "id_number": rid}, headers=headers)
    r = await client.post("/me/deletion", headers=headers)
    assert r.status_code == 202
    body = r.json()
    assert body["status"] == "restricted"
    assert any(k["what"] == "identity_and_household_link" for k in body["kept"])


async def test_me_is_for_farmers(client: httpx.AsyncClient, factory: Factory) -> None:
    bank = await factory.bank()
    staff = await factory.user("bank_staff", bank_id=bank.id)
    assert (await client.get("/me", headers=factory.headers(staff))).status_code == 403
    assert (await client.get("/me")).status_code == 401
