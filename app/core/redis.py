"""Redis from REDIS_URL: one server, a Redis Cluster, a Sentinel-watched primary, or in-process.

- `redis://[user:password@]host:port/db` (or `rediss://`): one server, a blocking connection pool.
- `redis+cluster://[user:password@]host:port,host:port,...`: a Redis Cluster (`redis.asyncio.cluster.RedisCluster`);
  the listed nodes are only where discovery starts. Every multi-key command and Lua script of the app keeps its
  keys in one slot with a `{hash tag}` (or is sent as a non-transactional pipeline, which the cluster client splits
  per node), so the same code runs on one node and on a cluster.
- `redis+sentinel://[user:password@]host:port,host:port,.../service_name[/db]`: the primary that the Sentinels
  name for `service_name` (default `mymaster`), followed across fail-overs.
- `memory://name`: an in-process Redis (fakeredis) with the same API, one process only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection, SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError

Redis = aioredis.Redis

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
SENTINEL_SCHEMES = ("redis+sentinel://", "rediss+sentinel://")


@dataclass
class MultiHostUrl:
    tls: bool
    username: str | None
    password: str | None
    hosts: list[tuple[str, int]]
    path: list[str]


def parse_multi_host(url: str) -> MultiHostUrl:
    """`scheme://[user:password@]h1:p1,h2:p2/rest/of/path` (no query string)."""
    scheme, rest = url.split("://", 1)
    netloc, _, path = rest.partition("/")
    username = password = None
    if "@" in netloc:
        cred, netloc = netloc.rsplit("@", 1)
        user, _, pw = cred.partition(":")
        username, password = unquote(user) or None, unquote(pw) or None
    hosts: list[tuple[str, int]] = []
    for item in netloc.split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("["):  # [::1]:7000
            host, _, port = item[1:].partition("]:")
        else:
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        hosts.append((host, int(port or 6379)))
    if not hosts:
        raise ValueError(f"REDIS_URL names no host: {scheme}://…")
    return MultiHostUrl(scheme.startswith("rediss"), username, password, hosts, [p for p in path.split("/") if p])


class _ClosedTransportAsConnectionError:
    """A pooled connection whose transport was closed under it (the peer reset it while idle, or a cluster
    client's re-initialisation disconnected the node) is reconnected before the write, and a transport that
    closes during the write raises `ConnectionError`, which redis-py retries, instead of the raw
    `RuntimeError` (uvloop) or `TypeError`/`AttributeError` (CPython 3.12+) the event loop throws there, which
    no retry policy recognises (redis-py issue 4287): a 500 on the login path in the scale test."""

    _writer: Any

    def _transport_closed(self) -> bool:
        transport = getattr(self._writer, "transport", None) if self._writer is not None else None
        return self._writer is not None and (transport is None or transport.is_closing())

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        if self._transport_closed():
            await self.disconnect(nowait=True)  # type: ignore[attr-defined]
        try:
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
        except (RuntimeError, TypeError, AttributeError) as exc:
            if not self._transport_closed() and self._writer is not None:
                raise
            await self.disconnect(nowait=True)  # type: ignore[attr-defined]
            raise RedisConnectionError(f"Redis connection closed during a write: {exc}") from exc


class SafeConnection(_ClosedTransportAsConnectionError, Connection):
    pass


class SafeSSLConnection(_ClosedTransportAsConnectionError, SSLConnection):
    pass


def make_redis(url: str, *, max_connections: int = 100, pool_timeout: float = 5.0) -> Any:
    """A blocking pool: past `max_connections` a command waits up to `pool_timeout` seconds for a connection
    (then ConnectionError, answered 503) instead of failing at once, as redis-py's default pool does."""
    if url.startswith("memory://"):
        import fakeredis

        # One fake server per URL so that every client in this process sees the same data.
        server = _SERVERS.setdefault(url, fakeredis.FakeServer())
        return fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    if url.startswith(CLUSTER_SCHEMES):
        from redis.asyncio.cluster import ClusterNode, RedisCluster

        u = parse_multi_host(url)
        cluster = RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in u.hosts],
            username=u.username,
            password=u.password,
            ssl=u.tls,
            decode_responses=True,
            max_connections=max_connections,  # per node
            socket_connect_timeout=pool_timeout,
            health_check_interval=30,
        )
        # RedisCluster takes no connection class; every node it discovers is built from these kwargs.
        safe = SafeSSLConnection if u.tls else SafeConnection
        cluster.connection_kwargs["connection_class"] = safe
        for node in cluster.startup_nodes:
            node.connection_class = safe
        return cluster
    if url.startswith(SENTINEL_SCHEMES):
        from redis.asyncio.sentinel import Sentinel

        u = parse_multi_host(url)
        service = u.path[0] if u.path else "mymaster"
        db = int(u.path[1]) if len(u.path) > 1 else 0
        sentinel = Sentinel(u.hosts, socket_connect_timeout=pool_timeout)  # type: ignore[no-untyped-call]
        return sentinel.master_for(
            service,
            username=u.username,
            password=u.password,
            ssl=u.tls,
            db=db,
            decode_responses=True,
            max_connections=max_connections,
            socket_connect_timeout=pool_timeout,
            health_check_interval=30,
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        decode_responses=True,
        health_check_interval=30,
    )
    pool.connection_class = {Connection: SafeConnection, SSLConnection: SafeSSLConnection}.get(
        pool.connection_class, pool.connection_class
    )
    return aioredis.Redis.from_pool(pool)


def is_cluster(client: Any) -> bool:
    from redis.asyncio.cluster import RedisCluster

    return isinstance(client, RedisCluster)


_SERVERS: dict[str, Any] = {}
