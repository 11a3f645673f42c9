"""REDIS_URL forms (one server, cluster, sentinel) and what must hold on a Redis Cluster (TEST_REDIS_URL=
redis+cluster://…, started by .ci/scale.sh): commands whose keys live in several slots still work."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
from fastapi import FastAPI

from app.core.redis import SafeConnection, is_cluster, make_redis, parse_multi_host
from tests.factories import Factory

ON_CLUSTER = "+cluster://" in os.environ.get("TEST_REDIS_URL", "")
needs_cluster = pytest.mark.skipif(not ON_CLUSTER, reason="needs a Redis Cluster (TEST_REDIS_URL=redis+cluster://…)")


def test_multi_host_urls_parse() -> None:
    u = parse_multi_host("redis+cluster://127.0.0.1:7101,127.0.0.1:7102, 127.0.0.1:7103")
    assert u.hosts == [("127.0.0.1", 7101), ("127.0.0.1", 7102), ("127.0.0.1", 7103)]
    assert (u.username, u.password, u.tls, u.path) == (None, None, False, [])
    u = parse_multi_host("rediss+sentinel://app:p%40ss@s1:26379,[::1]:26380/puhuitong/2")
    assert u.hosts == [("s1", 26379), ("::1", 26380)]
    assert (u.username, u.password, u.tls, u.path) == ("app", "p@ss", True, ["puhuitong", "2"])
    assert parse_multi_host("redis+cluster://redis-a").hosts == [("redis-a", 6379)]
    with pytest.raises(ValueError):
        parse_multi_host("redis+cluster:///")


def test_each_url_form_makes_its_client() -> None:
    from redis.asyncio.cluster import RedisCluster

    c = make_redis("redis+cluster://127.0.0.1:18298")  # nothing is contacted until the first command
    assert isinstance(c, RedisCluster) and is_cluster(c)
    s = make_redis("redis+sentinel://127.0.0.1:18297/mymaster/3")
    assert s.connection_pool.service_name == "mymaster" and s.connection_pool.connection_kwargs["db"] == 3
    assert not is_cluster(make_redis("redis://127.0.0.1:18296/0"))
    # Both real clients build connections that turn a closed transport into a retryable ConnectionError.
    assert c.connection_kwargs["connection_class"] is SafeConnection
    assert all(n.connection_class is SafeConnection for n in c.startup_nodes)
    assert make_redis("redis://127.0.0.1:18296/0").connection_pool.connection_class is SafeConnection


REAL_REDIS = os.environ.get("TEST_REDIS_URL", "")
needs_real_redis = pytest.mark.skipif(
    not REAL_REDIS.startswith(("redis://", "redis+cluster://")), reason="needs a real Redis (TEST_REDIS_URL)"
)


async def _closed_under_the_client(url: str) -> list[SafeConnection]:
    """A client whose pooled connections all had their transport closed while idle (as a peer reset, or a
    cluster client's re-initialisation, leaves them)."""
    r = make_redis(url)
    await r.set(f"probe:{uuid.uuid4().hex}", "1", ex=30)
    if is_cluster(r):
        conns = [c for n in r.get_nodes() for c in n._connections]
    else:
        conns = list(r.connection_pool._available_connections)
    for conn in conns:
        conn._writer.transport.abort()
    return r, conns  # type: ignore[return-value]


@needs_real_redis
async def test_a_connection_closed_while_idle_is_reconnected_not_a_500() -> None:
    r, conns = await _closed_under_the_client(REAL_REDIS)
    try:
        assert conns
        key = f"probe:{uuid.uuid4().hex}"
        for _ in range(3):  # every command, on every node, finds its connection closed and reconnects
            assert await r.set(key, "1", ex=30)
            assert await r.get(key) == "1"
    finally:
        await r.aclose()


@needs_real_redis
async def test_a_write_on_a_transport_that_closes_raises_connection_error() -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    r = make_redis(REAL_REDIS)
    try:
        await r.ping() if not is_cluster(r) else await r.set(f"probe:{uuid.uuid4().hex}", "1", ex=30)
        conn = (
            next(c for n in r.get_nodes() for c in n._connections)
            if is_cluster(r)
            else r.connection_pool._available_connections[0]
        )
        writer = conn._writer

        def closing_write(_data: object) -> None:
            writer.transport.abort()
            raise RuntimeError("unable to perform operation on <TCPTransport closed=True>; the handler is closed")

        writer.writelines = closing_write
        with pytest.raises(RedisConnectionError):
            await conn.send_packed_command(conn.pack_command("PING"), check_health=False)
        assert not conn.is_connected
    finally:
        await r.aclose()


def test_revocation_keys_share_one_slot() -> None:
    """The revocation lookup is one MGET and the rebuild one MULTI: on a cluster every key needs the same slot."""
    from redis.crc import key_slot

    from app.auth.revocation import EPOCH, cache_key

    keys = [EPOCH, cache_key("jti", "j" * 16), cache_key("sid", "s" * 16), cache_key("user", uuid.uuid4().hex)]
    assert len({key_slot(k.encode()) for k in keys}) == 1


@needs_cluster
async def test_a_revoked_session_is_refused_on_a_cluster(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    assert is_cluster(app.state.redis)
    sid = uuid.uuid4().hex
    headers = factory.headers(await factory.user("farmer"), sid=sid)
    assert (await client.get("/me", headers=headers)).status_code == 200
    from app.auth import revocation

    async with app.state.db.sessionmaker() as s:
        await revocation.revoke(s, app.state.redis, revocation.SID, sid)
        await s.commit()
    assert await app.state.redis.get(revocation.cache_key(revocation.SID, sid)) == "1"
    r = await client.get("/me", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "token_invalid"


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_SENTINEL_URL"), reason="needs Sentinel (TEST_REDIS_SENTINEL_URL)")
async def test_sentinel_url_reaches_the_primary_it_names() -> None:
    r = make_redis(os.environ["TEST_REDIS_SENTINEL_URL"])
    try:
        key = f"sentinel-probe:{uuid.uuid4().hex}"
        await r.set(key, "1", ex=30)
        assert await r.get(key) == "1"
        assert "master" in str((await r.info("replication"))["role"])
    finally:
        await r.aclose()
