"""Import → rating → stars → certificate → /me/credit, through HTTP."""

from __future__ import annotations

import math

import httpx
from sqlalchemy import func, select

from app.credit.models import Certificate, CertificateLedgerEntry, Household, RatingChange, VillageCreditStats
from app.events.models import Event
from app.regions.models import Region
from tests.builders.credit import Credit, new_id, row
from tests.factories import Factory


async def test_import_creates_rated_household_and_red_certificate(credit: Credit, client: httpx.AsyncClient) -> None:
    village = await credit.factory.fresh_village("411725")
    r = row(village, "96", "96", real_name="李小红", phone="13800001111")
    body = await credit.import_rows([r])
    assert body["created"] == 1 and body["updated"] == 0 and body["rejected"] == 0
    assert body["rows"] == [{"line": 1, "ok": True, "errors": []}]
    again = await credit.import_rows([r])
    assert again["created"] == 0 and again["updated"] == 1
    async with credit.factory.session() as s:
        h = await s.scalar(select(Household).where(Household.village_code == village))
        assert h is not None and h.stars == 5 and h.id_number_enc != r["id_number"]
        certs = (await s.execute(select(Certificate).where(Certificate.household_id == h.id))).scalars().all()
        assert len(certs) == 1 and certs[0].color == "red" and certs[0].limit_fen == 5_000_000
        assert certs[0].number.startswith("ZMD-") and certs[0].status == "issued"
        history = await s.scalar(select(func.count()).where(RatingChange.household_id == h.id))
        assert history == 1
    _, headers = await credit.farmer_with(h.id)
    me = (await client.get("/me/credit", headers=headers)).json()
    assert me["rating"]["stars"] == 5 and me["rating"]["composite_score"] == 96.0
    assert me["rating"]["factors"]["components"]["provincial_weight"] == 0.7
    c = me["certificate"]
    assert c["color"] == "red" and c["limit_fen"] == 5_000_000 and c["available_fen"] == 5_000_000
    assert c["max_annual_rate_bp"] == 675 and c["lead_bank"] is None and c["status"] == "issued"
    assert me["village"]["code"] == village and me["village"]["is_credit_village"] is True
    assert me["village"]["isolated"] is False and me["township"]["code"] == village[:9]


async def test_me_credit_unlinked_is_null(client: httpx.AsyncClient, farmer_headers: dict[str, str]) -> None:
    r = await client.get("/me/credit", headers=farmer_headers)
    assert r.status_code == 200
    assert r.json()["rating"] is None and r.json()["certificate"] is None


async def test_bad_rows_rejected_one_by_one(credit: Credit) -> None:
    village = await credit.factory.fresh_village("411702")
    good = row(village)
    bad_check = row(village)
    bad_check["id_number"] = bad_check["id_number"][:17] + ("0" if bad_check["id_number"][17] != "0" else "1")
    township = village[:9]
    community = await _first(credit, select(Region.code).where(Region.level == "community"))
    rows = [
        good,
        bad_check,
        row(township),
        row("411702999999"),
        row(village, "100.01"),
        row(village, "95.955"),
        row(village, "-1"),
        row(village, vetoes=["no_such_veto"]),
        row(village, vetoes=["good_repayment"]),
        row(community),
        {**row(village), "id_number": good["id_number"]},
    ]
    body = await credit.import_rows(rows)
    assert body["created"] == 2 and body["rejected"] == 9
    oks = [r["ok"] for r in body["rows"]]
    assert oks == [True, False, False, False, False, False, False, False, False, True, False]
    assert [r["line"] for r in body["rows"]] == list(range(1, 12))
    assert body["rows"][1]["errors"][0]["field"] == "id_number"
    assert body["rows"][2]["errors"][0]["code"] == "village_unknown"
    assert body["rows"][7]["errors"][0]["field"] == "vetoes.0"


async def _first(credit: Credit, stmt):  # type: ignore[no-untyped-def]
    async with credit.factory.session() as s:
        return await s.scalar(stmt.limit(1))


async def test_csv_import_with_semicolon_vetoes(credit: Credit, client: httpx.AsyncClient) -> None:
    village = await credit.factory.fresh_village("411725")
    a, b = new_id(village), new_id(village)
    csv_text = (
        "id_number,real_name,phone,village_code,provincial_score,village_score,vetoes,is_registered_poor\n"
        f"{a},王五,13800002222,{village},88,90,,true\n"
        f"{b},赵六,,{village},99,99,criminal_record;gambling_drugs,false\n"
    )
    r = await client.post(
        "/admin/ratings/import",
        content=csv_text.encode(),
        headers={**(await credit.admin()), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2
    async with credit.factory.session() as s:
        hs = {
            h.real_name: h
            for h in (await s.execute(select(Household).where(Household.village_code == village))).scalars()
        }
        assert hs["王五"].stars == 3 and hs["王五"].is_registered_poor and hs["王五"].phone == "+8613800002222"
        assert hs["赵六"].stars == 0 and hs["赵六"].vetoes == ["criminal_record", "gambling_drugs"]
        stats = await s.get(VillageCreditStats, village)
        assert stats is not None and (stats.rated, stats.credit) == (2, 1)


async def test_import_permissions_and_limits(credit: Credit, client: httpx.AsyncClient, factory: Factory) -> None:
    farmer = factory.headers(await factory.user("farmer"))
    assert (await client.post("/admin/ratings/import", json={"rows": []}, headers=farmer)).status_code == 403
    assert (await client.post("/admin/ratings/import", json={"rows": []})).status_code == 401
    r = await client.post("/admin/ratings/import", json={"rows": [{}] * 50_001}, headers=await credit.admin())
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    r = await client.post("/admin/ratings/import", json={"nope": []}, headers=await credit.admin())
    assert r.status_code == 422


async def test_regulator_limited_to_region(credit: Credit, client: httpx.AsyncClient, factory: Factory) -> None:
    reg = factory.headers(await factory.user("regulator", region_code="411725"))
    mine = await factory.fresh_village("411725")
    other = await factory.fresh_village("411702")
    r = await client.post("/admin/ratings/import", json={"rows": [row(mine), row(other)]}, headers=reg)
    assert [x["ok"] for x in r.json()["rows"]] == [True, False]
    hid = await credit.household(other)
    assert (await client.get(f"/admin/households/{hid}", headers=reg)).status_code == 404
    body = {"provincial_score": 50, "village_score": 50}
    assert (await client.put(f"/admin/households/{hid}/rating", json=body, headers=reg)).status_code == 404
    city = factory.headers(await factory.user("regulator"))
    assert (await client.get(f"/admin/households/{hid}", headers=city)).status_code == 200
    listed = (await client.get("/admin/households", params={"village_code": mine}, headers=reg)).json()
    assert len(listed["items"]) == 1 and "*" in listed["items"][0]["real_name"]
    assert "*" in listed["items"][0]["id_number"]


async def test_rating_changes_drive_the_certificate_ledger(credit: Credit, client: httpx.AsyncClient) -> None:
    hid = await credit.household(p="96", v="96")
    admin = await credit.admin()
    async with credit.factory.session() as s:
        cert = await s.scalar(select(Certificate).where(Certificate.household_id == hid))
        assert cert is not None
        cert.outstanding_fen, cert.pending_fen = 3_500_000, 200_000
        await s.commit()
    url = f"/admin/households/{hid}/rating"
    r = await client.put(
        url, json={"provincial_score": 82, "village_score": 82, "positives": ["good_repayment"]}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["stars"] == 2 and r.json()["certificate"]["limit_fen"] == 2_000_000
    assert r.json()["certificate"]["outstanding_fen"] == 3_500_000 and r.json()["certificate"]["pending_fen"] == 200_000
    assert r.json()["certificate"]["color"] == "blue"
    r = await client.put(
        url, json={"provincial_score": 99, "village_score": 99, "vetoes": ["malicious_default"]}, headers=admin
    )
    assert r.json()["stars"] == 0 and r.json()["vetoed"] and r.json()["certificate"]["status"] == "revoked"
    r = await client.put(url, json={"provincial_score": 92, "village_score": 92}, headers=admin)
    assert r.json()["stars"] == 4 and r.json()["certificate"]["status"] == "issued"
    assert r.json()["certificate"]["outstanding_fen"] == 3_500_000
    kinds = [e["kind"] for e in reversed(r.json()["ledger"])]
    assert kinds == ["granted", "downgraded", "revoked", "granted"]
    assert len(r.json()["history"]) == 4 and r.json()["history"][0]["before"]["vetoes"] == ["malicious_default"]
    bad = await client.put(url, json={"provincial_score": 99, "village_score": 99, "vetoes": ["x"]}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "vetoes.0"
    bad = await client.put(url, json={"provincial_score": "99.999", "village_score": 99}, headers=admin)
    assert bad.status_code == 422
    bad = await client.put(url, json={"provincial_score": 99, "village_score": 99, "stars": 5}, headers=admin)
    assert bad.status_code == 422


async def test_expired_certificate_is_renewed(credit: Credit, client: httpx.AsyncClient) -> None:
    from datetime import date

    hid = await credit.household(p="92", v="92")
    async with credit.factory.session() as s:
        cert = await s.scalar(select(Certificate).where(Certificate.household_id == hid))
        assert cert is not None
        cert.expires_on = date(2020, 1, 1)
        old_number = cert.number
        await s.commit()
    r = await client.put(
        f"/admin/households/{hid}/rating",
        json={"provincial_score": 97, "village_score": 97},
        headers=await credit.admin(),
    )
    assert r.json()["certificate"]["number"] != old_number and r.json()["certificate"]["limit_fen"] == 5_000_000
    async with credit.factory.session() as s:
        kinds = (
            (await s.execute(select(CertificateLedgerEntry.kind).where(CertificateLedgerEntry.household_id == hid)))
            .scalars()
            .all()
        )
        assert sorted(kinds) == ["expired", "granted", "renewed"]


async def test_factor_catalogue(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    items = (await client.get("/admin/rating-factors", headers=admin_headers)).json()
    vetoes = {i["code"] for i in items if i["kind"] == "veto"}
    assert vetoes == {"malicious_default", "criminal_record", "gambling_drugs", "false_information", "neglect_elderly"}
    assert any(i["kind"] == "positive" for i in items) and any(i["kind"] == "negative" for i in items)


async def test_credit_village_threshold(credit: Credit, client: httpx.AsyncClient) -> None:
    """7 of 10 credit households → credit village; 6 of 10 (one just below 70 %) → not."""
    for credit_count, expected in ((7, True), (6, False)):
        village = await credit.factory.fresh_village("411725")
        rows = [row(village, "96", "96") for _ in range(credit_count)]
        rows += [row(village, "50", "50") for _ in range(10 - credit_count)]
        await credit.import_rows(rows)
        hid = await credit.household(village, p="40", v="40")  # an 11th, non-credit: 7/11 < 70 %
        _, headers = await credit.farmer_with(hid)
        me = (await client.get("/me/credit", headers=headers)).json()
        assert me["village"]["is_credit_village"] is False
        assert me["rating"]["stars"] == 0 and me["certificate"] is None
        # raise the 11th: 8/11 ≥ 70 % for the first village, 7/11 < 70 % for the second
        await client.put(
            f"/admin/households/{hid}/rating",
            json={"provincial_score": 90, "village_score": 90},
            headers=await credit.admin(),
        )
        me = (await client.get("/me/credit", headers=headers)).json()
        assert me["village"]["is_credit_village"] is expected


async def test_credit_township_threshold(credit: Credit, client: httpx.AsyncClient, factory: Factory) -> None:
    """≥ 65 % of ALL village-level regions of a township are credit villages (communities not counted)."""
    async with factory.session() as s:
        rows = (
            await s.execute(
                select(Region.parent_code, func.count())
                .where(Region.level == "village", Region.parent_code.startswith("411727"))
                .group_by(Region.parent_code)
            )
        ).all()
        used = set((await s.execute(select(VillageCreditStats.township_code))).scalars())
    township = next(t for t, n in sorted(rows, key=lambda x: x[1]) if t not in used and n >= 3)
    async with factory.session() as s:
        villages = sorted(
            (
                await s.execute(select(Region.code).where(Region.parent_code == township, Region.level == "village"))
            ).scalars()
        )
    await factory.fresh_village()  # load the factory's list, then keep other tests out of this township
    factory._used.update(villages)
    need = math.ceil(0.65 * len(villages))
    await credit.import_rows([row(v) for v in villages[: need - 1]])
    hid = await credit.household(villages[-1], p="10", v="10")
    _, headers = await credit.farmer_with(hid)
    me = (await client.get("/me/credit", headers=headers)).json()
    assert me["township"]["code"] == township and me["township"]["is_credit_township"] is False
    await credit.import_rows([row(villages[need - 1])])
    me = (await client.get("/me/credit", headers=headers)).json()
    assert me["township"]["is_credit_township"] is True


async def test_certificate_event_to_lead_bank(credit: Credit, client: httpx.AsyncClient, factory: Factory) -> None:
    hid = await credit.household(p="96", v="96")
    bank = await factory.bank(["411725"])
    _, headers = await credit.farmer_with(hid)
    await factory.step_up(headers)
    assert (
        await client.post("/me/certificate/activation", json={"lead_bank_id": str(bank.id)}, headers=headers)
    ).status_code == 200
    await client.put(
        f"/admin/households/{hid}/rating",
        json={"provincial_score": 87, "village_score": 87},
        headers=await credit.admin(),
    )
    async with factory.session() as s:
        events = (
            (await s.execute(select(Event).where(Event.bank_id == bank.id, Event.type == "certificate.changed")))
            .scalars()
            .all()
        )
        assert any(e.data.get("limit_fen") == 3_000_000 for e in events)
