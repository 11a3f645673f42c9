"""Notifications: each caller sees only their own (and bank staff their bank's), unread counts, mark-read,
and the worker step that sends the SMS copies after commit."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from app.core.config import get_settings
from app.notifications.delivery import deliver_pending_sms
from app.notifications.models import Notification
from app.notifications.service import notify
from app.worker import STEPS
from tests.factories import Factory


async def _notify(app: Any, n: int = 1, **kw: Any) -> list[uuid.UUID]:
    ids = []
    async with app.state.db.sessionmaker() as s:
        for i in range(n):
            note = await notify(s, kind="test", title=f"标题{i}", body=f"内容{i}", **kw)
            ids.append(note.id)
            await s.flush()
        await s.commit()
    return ids


async def _status(app: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Notification]:
    async with app.state.db.sessionmaker() as s:
        rows = (await s.execute(select(Notification).where(Notification.id.in_(ids)))).scalars().all()
        return {n.id: n for n in rows}


async def test_own_notifications_newest_first_with_unread_count(
    client: httpx.AsyncClient, factory: Factory, app
) -> None:
    me = await factory.user("farmer")
    other = await factory.user("farmer")
    mine = await _notify(app, 3, user_id=me.id)
    theirs = await _notify(app, 2, user_id=other.id)
    h = factory.headers(me)
    r = await client.get("/me/notifications", headers=h)
    assert r.status_code == 200
    body = r.json()
    assert [i["id"] for i in body["items"]] == [str(i) for i in reversed(mine)]
    assert body["unread_count"] == 3 and body["next_cursor"] is None
    assert body["items"][0]["read"] is False and body["items"][0]["title"] == "标题2"
    # keyset pages
    p1 = (await client.get("/me/notifications", params={"limit": 2}, headers=h)).json()
    p2 = (await client.get("/me/notifications", params={"limit": 2, "cursor": p1["next_cursor"]}, headers=h)).json()
    assert [i["id"] for i in p1["items"] + p2["items"]] == [str(i) for i in reversed(mine)]
    assert p2["next_cursor"] is None
    # never another's
    assert not {str(i) for i in theirs} & {i["id"] for i in body["items"]}


async def test_mark_read_only_counts_own_ids(client: httpx.AsyncClient, factory: Factory, app) -> None:
    me = await factory.user("farmer")
    other = await factory.user("farmer")
    mine = await _notify(app, 3, user_id=me.id)
    theirs = await _notify(app, 1, user_id=other.id)
    h = factory.headers(me)
    r = await client.post("/me/notifications/read", json={"ids": [str(mine[0]), str(theirs[0])]}, headers=h)
    assert r.status_code == 200 and r.json() == {"marked": 1, "unread_count": 2}
    rows = await _status(app, [*mine, *theirs])
    assert rows[mine[0]].read_at is not None and rows[theirs[0]].read_at is None
    # marking it again changes nothing
    r = await client.post("/me/notifications/read", json={"ids": [str(mine[0])]}, headers=h)
    assert r.json() == {"marked": 0, "unread_count": 2}
    r = await client.post("/me/notifications/read", json={}, headers=h)
    assert r.json() == {"marked": 2, "unread_count": 0}
    assert (await _status(app, theirs))[theirs[0]].read_at is None
    listed = (await client.get("/me/notifications", headers=h)).json()
    assert listed["unread_count"] == 0 and all(i["read"] for i in listed["items"])
    r = await client.post("/me/notifications/read", json={"all": True}, headers=factory.headers(other))
    assert r.json() == {"marked": 1, "unread_count": 0}


async def test_mark_read_body_rules(client: httpx.AsyncClient, factory: Factory) -> None:
    h = factory.headers(await factory.user("farmer"))
    for bad in ({"ids": ["nope"]}, {"all": False}, {"user_id": str(uuid.uuid4())}, {"ids": [str(uuid.uuid4())] * 101}):
        r = await client.post("/me/notifications/read", json=bad, headers=h)
        assert r.status_code == 422, bad


async def test_bank_notifications(client: httpx.AsyncClient, factory: Factory, app) -> None:
    bank = await factory.bank(["411725"])
    other_bank = await factory.bank(["411725"])
    staff = await factory.user("bank_staff", bank_id=bank.id)
    admin = await factory.user("bank_admin", bank_id=bank.id)
    bank_wide = await _notify(app, 2, bank_id=bank.id)
    personal = await _notify(app, 1, user_id=staff.id, bank_id=bank.id)
    others = await _notify(app, 1, bank_id=other_bank.id)
    colleague = await _notify(app, 1, user_id=admin.id, bank_id=bank.id)
    hs, ha = factory.headers(staff), factory.headers(admin)
    body = (await client.get("/bank/notifications", headers=hs)).json()
    assert {i["id"] for i in body["items"]} == {str(i) for i in bank_wide + personal}
    assert body["unread_count"] == 3
    # another bank's or a colleague's personal ids do nothing
    r = await client.post(
        "/bank/notifications/read", json={"ids": [str(others[0]), str(colleague[0]), str(bank_wide[0])]}, headers=hs
    )
    assert r.json() == {"marked": 1, "unread_count": 2}
    rows = await _status(app, [*others, *colleague])
    assert all(n.read_at is None for n in rows.values())
    # a bank-wide notification read by one of its staff is read for the bank
    assert (await client.get("/bank/notifications", headers=ha)).json()["unread_count"] == 2
    # farmers' and bank inboxes are separate doors
    assert (await client.get("/me/notifications", headers=hs)).status_code == 403
    farmer = factory.headers(await factory.user("farmer"))
    assert (await client.get("/bank/notifications", headers=farmer)).status_code == 403
    assert (await client.post("/bank/notifications/read", json={}, headers=farmer)).status_code == 403
    assert (await client.get("/me/notifications")).status_code == 401


def _outbox() -> list[dict[str, Any]]:
    path = Path(get_settings().sms_outbox_path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


async def test_sms_step_sends_once_after_commit(factory: Factory, app) -> None:
    me = await factory.user("farmer")
    ids = await _notify(app, 2, user_id=me.id, sms_to=me.phone)
    quiet = await _notify(app, 1, user_id=me.id)
    # not committed: nothing to send
    async with app.state.db.sessionmaker() as s:
        await notify(s, kind="test", title="未提交", body="x", user_id=me.id, sms_to=me.phone)
        await s.flush()
        await s.rollback()
    assert "deliver_sms" in {fn.__name__ for fn in STEPS}
    before = len(_outbox())
    for fn in STEPS:
        if fn.__name__ == "deliver_sms":
            while await fn(app.state.db, app.state.redis):
                pass
    lines = _outbox()[before:]
    mine = [line for line in lines if line["phone"] == me.phone]
    assert len(mine) == 2
    assert {line["text"] for line in mine} == {"【普惠通】标题0：内容0", "【普惠通】标题1：内容1"}
    assert all(line["sent_at"].endswith("Z") for line in mine)
    rows = await _status(app, [*ids, *quiet])
    assert [rows[i].sms_status for i in ids] == ["sent", "sent"] and rows[quiet[0]].sms_status == "none"
    # running again sends nothing twice
    async with app.state.db.sessionmaker() as s:
        await deliver_pending_sms(s)
        await s.commit()
    assert [line for line in _outbox()[before:] if line["phone"] == me.phone] == mine


async def test_sms_failure_is_marked(factory: Factory, app, monkeypatch) -> None:
    import app.notifications.delivery as delivery

    me = await factory.user("farmer")

    async def broken(phone: str, text: str) -> None:
        raise OSError("provider down")

    monkeypatch.setattr(delivery, "_send", broken)
    ids = await _notify(app, 1, user_id=me.id, sms_to=me.phone)
    async with app.state.db.sessionmaker() as s:
        while await deliver_pending_sms(s):
            await s.commit()
        await s.commit()
    assert (await _status(app, ids))[ids[0]].sms_status == "failed"
