"""The division tree: public, paginated, cacheable, importable by admins."""

from __future__ import annotations

import httpx


async def test_top_level_and_children(client: httpx.AsyncClient) -> None:
    r = await client.get("/regions")
    assert r.status_code == 200
    assert [i["code"] for i in r.json()["items"]] == ["41"]
    r = await client.get("/regions", params={"parent": "4117", "limit": 100})
    codes = [i["code"] for i in r.json()["items"]]
    assert len(codes) == 11 and "411771" in codes and "411725" in codes
    assert r.json()["next_cursor"] is None


async def test_counts_of_the_real_tree(client: httpx.AsyncClient, session) -> None:
    from sqlalchemy import func, select

    from app.regions.models import Region

    counts = dict((await session.execute(select(Region.level, func.count()).group_by(Region.level))).all())
    assert counts["county"] == 11 and counts["township"] == 208
    assert counts["village"] == 2423 and counts["community"] == 483


async def test_pagination_walks_every_child_once(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"parent": "411702", "limit": 7}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get("/regions", params=params)).json()
        seen += [i["code"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    full = (await client.get("/regions", params={"parent": "411702", "limit": 100})).json()["items"]
    assert seen == [i["code"] for i in full]


async def test_get_one_with_etag(client: httpx.AsyncClient) -> None:
    r = await client.get("/regions/411725")
    assert r.status_code == 200
    assert r.json()["name"] == "确山县" and r.json()["level"] == "county"
    assert "public" in r.headers["cache-control"]
    r2 = await client.get("/regions/411725", headers={"If-None-Match": r.headers["etag"]})
    assert r2.status_code == 304
    assert (await client.get("/regions/999999")).status_code == 404


async def test_bad_cursor_is_422(client: httpx.AsyncClient) -> None:
    r = await client.get("/regions", params={"parent": "4117", "cursor": "%%%"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "cursor"


async def test_admin_import_reports_rows(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    csv = (
        "code,name,level,parent_code,households\n"
        "411725100,测试镇,township,411725,\n"  # existing parent, new township
        "411725100201,测试一村村民委员会,village,411725100,321\n"
        "411725100202,坏村,village,499999999,\n"  # unknown parent
        "12,坏省,planet,,\n"
    )
    r = await client.post("/admin/regions/import", content=csv.encode(), headers=admin_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] == 2 and body["rejected"] == 2
    assert [row["ok"] for row in body["rows"]] == [True, True, False, False]
    v = (await client.get("/regions/411725100201")).json()
    assert v["households"] == 321 and v["parent_code"] == "411725100"
    again = (await client.post("/admin/regions/import", content=csv.encode(), headers=admin_headers)).json()
    assert again["created"] == 0 and again["updated"] == 0
