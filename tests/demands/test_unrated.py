"""Unrated households post demands (issue 14 item 5): real name + a valid resident ID + a village is enough; banks
see `rated: false`, `stars: null`, masked; a later ratings import with that ID and name links the account by
itself (an ID alone under another name links nothing)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from app.auth.models import User
from app.core import crypto
from app.credit.models import Household
from app.demands.models import Demand
from app.notifications.models import Notification
from tests.builders.credit import new_id, row
from tests.builders.demands import Demands, demand_body
from tests.factories import Factory


async def _unrated(client: httpx.AsyncClient, factory: Factory, village: str, name: str = "孙小梅") -> dict[str, Any]:
    user = await factory.user("farmer")
    headers = factory.headers(user)
    rid = new_id(village)
    r = await client.patch("/me", json={"real_name": name, "id_number": rid, "village_code": village}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["household_linked"] is False
    return {"user": user, "headers": headers, "id_number": rid, "name": name, "village": village, "me": r.json()}


async def _import(client: httpx.AsyncClient, factory: Factory, rows: list[dict[str, Any]]) -> dict[str, Any]:
    admin = factory.headers(await factory.user("admin"))
    r = await client.post("/admin/ratings/import", json={"rows": rows}, headers=admin)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_unrated_household_posts_and_banks_see_it_unrated_and_masked(
    client: httpx.AsyncClient, factory: Factory, demands: Demands
) -> None:
    village = await factory.fresh_village("411725")
    side = await demands.bank([village[:6]])

    # before the profile is complete, /me says what is missing and posting is refused with the same list
    lone = await factory.user("farmer")
    me = (await client.get("/me", headers=factory.headers(lone))).json()
    assert me["demand_posting"] == {
        "can_post": False,
        "post_as": None,
        "rated": False,
        "missing": ["real_name", "id_number", "village_code"],
    }
    r = await client.post("/me/demands", json=demand_body(), headers=factory.headers(lone))
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    assert r.json()["missing"] == ["real_name", "id_number", "village_code"]

    u = await _unrated(client, factory, village)
    assert u["me"]["demand_posting"] == {
        "can_post": True,
        "post_as": "unrated_household",
        "rated": False,
        "missing": [],
    }
    assert u["me"]["id_number"] == crypto.mask_id_number(u["id_number"])

    r = await client.post("/me/demands", json=demand_body(), headers=u["headers"])
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["applicant_kind"] == "household" and d["stars"] is None and d["rated"] is False
    shared = d["shared_with_banks"]
    assert shared["rated"] is False and shared["stars"] is None
    assert shared["applicant_name"] == "孙**" and shared["id_number"] == crypto.mask_id_number(u["id_number"])
    assert [a["audience"] for a in shared["audiences"]] == ["county_banks"]
    assert "未评级" in shared["audiences"][0]["summary"]

    # the ID is stored encrypted only (the account's own record), never in the demand
    async with factory.session() as s:
        user = await s.get(User, u["user"].id)
        assert user is not None and user.id_number_enc and u["id_number"] not in user.id_number_enc
        row_ = await s.get(Demand, uuid.UUID(d["id"]))
        assert row_ is not None and row_.household_id is None and u["id_number"] not in str(row_.model_dump())

    for path in ("/bank/demands", f"/bank/demands/{d['id']}"):
        r = await client.get(
            path,
            params={"county_code": village[:6], "limit": 100} if path == "/bank/demands" else None,
            headers=side.headers,
        )
        assert r.status_code == 200, r.text
        seen = next(x for x in r.json()["items"] if x["id"] == d["id"]) if path == "/bank/demands" else r.json()
        assert seen["rated"] is False and seen["stars"] is None and seen["key_enterprise"] is False
        assert seen["applicant"] == {
            "name": "孙**",
            "phone": crypto.mask_phone(u["user"].phone),
            "id_number": crypto.mask_id_number(u["id_number"]),
            "masked": True,
        }
        assert u["id_number"] not in r.text and "孙小梅" not in r.text
        assert seen["match_reasons"][0].startswith("未评级")


async def test_import_links_the_account_by_itself_and_the_demand_shows_stars(
    client: httpx.AsyncClient, factory: Factory, demands: Demands
) -> None:
    village = await factory.fresh_village("411725")
    side = await demands.bank([village[:6]])
    u = await _unrated(client, factory, village, name="钱多多")
    d = (await client.post("/me/demands", json=demand_body(), headers=u["headers"])).json()
    before = (await client.get(f"/bank/demands/{d['id']}", headers=side.headers)).json()

    result = await _import(client, factory, [row(village, "97", "97", id_number=u["id_number"], real_name="钱多多")])
    assert result["created"] == 1

    me = (await client.get("/me", headers=u["headers"])).json()
    assert me["household_linked"] is True and me["demand_posting"]["post_as"] == "household"
    assert me["demand_posting"]["rated"] is True
    credit = (await client.get("/me/credit", headers=u["headers"])).json()
    assert credit["rating"]["stars"] == 5

    mine = (await client.get(f"/me/demands/{d['id']}", headers=u["headers"])).json()
    assert mine["rated"] is True and mine["stars"] == 5 and mine["shared_with_banks"]["stars"] == 5
    seen = (await client.get(f"/bank/demands/{d['id']}", headers=side.headers)).json()
    assert seen["rated"] is True and seen["stars"] == 5 and seen["applicant"]["masked"] is True
    assert float(seen["match_score"]) > float(before["match_score"])
    async with factory.session() as s:
        h = await s.scalar(select(Household).where(Household.user_id == u["user"].id))
        assert h is not None and h.real_name == "钱多多"
        assert (await s.get(Demand, uuid.UUID(d["id"]))).household_id == h.id  # type: ignore[union-attr]
        notes = (await s.execute(select(Notification).where(Notification.user_id == u["user"].id))).scalars().all()
        assert any(n.kind == "household.linked" for n in notes)

    # the household's open-demand limit now counts it: importing the same row again changes nothing
    again = await _import(client, factory, [row(village, "97", "97", id_number=u["id_number"], real_name="钱多多")])
    assert again["updated"] == 1


async def test_import_does_not_link_on_the_id_alone(client: httpx.AsyncClient, factory: Factory) -> None:
    village = await factory.fresh_village("411725")
    u = await _unrated(client, factory, village, name="周一鸣")
    await _import(client, factory, [row(village, id_number=u["id_number"], real_name="周二鸣")])
    me = (await client.get("/me", headers=u["headers"])).json()
    assert me["household_linked"] is False and me["demand_posting"]["post_as"] == "unrated_household"
    async with factory.session() as s:
        h = await s.scalar(
            select(Household).where(Household.id_number_hash == crypto.index_hash(u["id_number"], "resident_id"))
        )
        assert h is not None and h.user_id is None

    # a later import that corrects the household's name links it
    await _import(client, factory, [row(village, id_number=u["id_number"], real_name="周一鸣")])
    assert (await client.get("/me", headers=u["headers"])).json()["household_linked"] is True


async def test_two_accounts_claiming_one_household_link_neither(client: httpx.AsyncClient, factory: Factory) -> None:
    village = await factory.fresh_village("411725")
    a = await _unrated(client, factory, village, name="吴同名")
    b_user = await factory.user("farmer")
    b_headers = factory.headers(b_user)
    r = await client.patch(
        "/me", json={"real_name": "吴同名", "id_number": a["id_number"], "village_code": village}, headers=b_headers
    )
    assert r.status_code == 200
    await _import(client, factory, [row(village, id_number=a["id_number"], real_name="吴同名")])
    for headers in (a["headers"], b_headers):
        assert (await client.get("/me", headers=headers)).json()["household_linked"] is False
