"""REDIS_URL forms (one server, cluster, sentinel) and what must hold on a Redis Cluster (TEST_REDIS_URL=
redis+cluster://…, started by .ci/scale.sh): commands whose keys live in several slots still work."""

from __future__ import annotations

import os
import uuid

import httpx
import pytest
from fastapi import FastAPI

from app.core.redis import is_cluster, make_redis, parse_multi_host
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
    await app.state.redis.set(f"revoked:sid:{sid}", "1", ex=60)
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
