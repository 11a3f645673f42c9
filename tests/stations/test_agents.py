"""Station agents: created by admins for a station, bound to it; `agent_village` resolves their village."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from app.auth.models import User
from app.core.errors import Forbidden
from app.core.principal import Principal
from app.stations.service import agent_village
from tests.builders.stations import MakeStation, db_all
from tests.factories import Factory


def _body(**kw: object) -> dict[str, object]:
    body: dict[str, object] = {
        "username": f"agent_{uuid.uuid4().hex[:8]}",
        "password": "Zmd-station-2026!",
        "role": "station_agent",
        "real_name": "赵桂兰",
        "phone": "13912345001",
    }
    body.update(kw)
    return body


async def test_admin_creates_agent_bound_to_station(
    client: httpx.AsyncClient, admin_headers, make_station: MakeStation, app
) -> None:
    s = await make_station()
    body = _body()
    r = await client.post(f"/admin/stations/{s['id']}/agents", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    agent = r.json()
    assert agent["role"] == "station_agent" and agent["station_id"] == s["id"]
    assert agent["phone"] == "+86 139****5001" and agent["real_name"] == "赵**"
    assert "password" not in agent
    [(user,)] = await db_all(app, select(User).where(User.id == uuid.UUID(agent["id"])))
    assert user.station_id == uuid.UUID(s["id"]) and user.phone == "+8613912345001"
    assert user.password_hash and user.password_hash.startswith("$argon2")
    from app.core.security import verify_password

    assert (await verify_password(str(body["password"]), user.password_hash))[0]
    # same username again
    r = await client.post(f"/admin/stations/{s['id']}/agents", json=body, headers=admin_headers)
    assert r.status_code == 409 and r.json()["code"] == "conflict"


async def test_agent_body_rules(client: httpx.AsyncClient, admin_headers, make_station: MakeStation) -> None:
    s = await make_station()
    url = f"/admin/stations/{s['id']}/agents"
    for bad, field in (
        (_body(role="bank_admin"), "role"),
        (_body(role="admin"), "role"),
        (_body(password="short"), "password"),
        (_body(phone="0396-1234567"), "phone"),
    ):
        r = await client.post(url, json=bad, headers=admin_headers)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
    r = await client.post(url, json={**_body(), "station_id": str(uuid.uuid4())}, headers=admin_headers)
    assert r.status_code == 422
    r = await client.post(f"/admin/stations/{uuid.uuid4()}/agents", json=_body(), headers=admin_headers)
    assert r.status_code == 404


async def test_agent_village(factory: Factory, make_station: MakeStation, app) -> None:
    s = await make_station()
    user = await factory.user("station_agent", station_id=uuid.UUID(s["id"]))
    p = Principal(kind="user", id=user.id, role="station_agent", jti="j", station_id=user.station_id)
    async with app.state.db.sessionmaker() as session:
        assert await agent_village(session, p) == s["village_code"]
        for bad in (
            Principal(kind="user", id=user.id, role="station_agent", jti="j"),
            Principal(kind="user", id=user.id, role="station_agent", jti="j", station_id=uuid.uuid4()),
            Principal(kind="user", id=user.id, role="farmer", jti="j", station_id=user.station_id),
        ):
            with pytest.raises(Forbidden):
                await agent_village(session, bad)
