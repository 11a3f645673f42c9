"""SSRF defence for webhook URLs (OWASP API7): scheme, then every address the host resolves to.

Checked at registration and again right before each delivery (a name may be re-pointed after registration:
DNS rebinding). Loopback and private ranges are admitted only with WEBHOOK_ALLOW_PRIVATE_URLS (development
and tests); link-local, cloud metadata, multicast, unspecified and reserved addresses never are.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from app.core.config import get_settings
from app.core.errors import ValidationFailed, field_error

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba Cloud): never a webhook target.
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
PRIVATE_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128", "fc00::/7")
)
# Carrier-grade NAT (shared address space) is not reachable as a public endpoint either.
SHARED_NET = ipaddress.ip_network("100.64.0.0/10")
# IPv6 forms that carry an IPv4 address a router or the host's stack may deliver to: 6to4, Teredo and the
# well-known NAT64 prefix (RFC 6052); IPv4-mapped and IPv4-compatible forms are read off the address. (The
# local-use NAT64 prefix 64:ff9b:1::/48 is not global, so it is refused as reserved.)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlRefused(Exception):
    """Carries the Chinese reason shown to the bank admin (and recorded as a delivery error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, compatible, 6to4, Teredo (server and client), NAT64."""
    out: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        out.append(ip.ipv4_mapped)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # ::a.b.c.d (deprecated IPv4-compatible), not :: or ::1
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        out.append(ip.sixtofour)
    if ip.teredo is not None:
        out.extend(ip.teredo)
    if ip in NAT64:
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return out


def address_refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to `ip`, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        for v4 in inner:
            reason = address_refusal(v4, allow_private)
            if reason:
                return reason
        if ip.ipv4_mapped is not None or ip in NAT64:
            return None  # the IPv4 address it stands for is what is reached, and it passed
        # 6to4 and Teredo go on to the IPv6 checks too; IPv4-compatible (::/96) falls in the reserved ::/8
    if ip in METADATA:
        return "不允许使用云服务元数据地址"
    if ip.is_link_local:
        return "不允许使用链路本地地址"
    if ip.is_multicast:
        return "不允许使用组播地址"
    if ip.is_unspecified:
        return "不允许使用未指定地址"
    if any(ip in net for net in PRIVATE_NETS):
        return None if allow_private else "不允许使用内网或本机地址"
    if ip.version == 4 and ip in SHARED_NET:
        return "不允许使用运营商内网地址"
    if ip.is_reserved or not ip.is_global:
        return "不允许使用保留地址"
    return None


def parse(url: str, allow_private: bool) -> tuple[str, int]:
    """Scheme and shape of the URL; returns (host, port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("URL 格式无效") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UrlRefused("URL 须以 https:// 开头")
    if scheme == "http" and not allow_private:
        raise UrlRefused("URL 须使用 https")
    if not parts.hostname:
        raise UrlRefused("URL 缺少主机名")
    if parts.username or parts.password:
        raise UrlRefused("URL 不得包含用户名或密码")
    return parts.hostname, port or (443 if scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise UrlRefused("无法解析 URL 的主机名") from exc
    out: list[IPAddress] = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone id
        ip = ipaddress.ip_address(addr)
        if ip not in out:
            out.append(ip)
    if not out:
        raise UrlRefused("无法解析 URL 的主机名")
    return out


async def check_url(url: str) -> list[IPAddress]:
    """Refuse the URL (UrlRefused) unless every address its host resolves to is allowed."""
    allow_private = get_settings().webhook_allow_private_urls
    host, port = parse(url, allow_private)
    addresses = await resolve(host, port)
    for ip in addresses:
        reason = address_refusal(ip, allow_private)
        if reason:
            raise UrlRefused(reason)
    return addresses


def pinned(url: str, ip: IPAddress) -> tuple[str, dict[str, str], dict[str, str]]:
    """The request for `url` sent to the vetted address `ip`, so that no second DNS look-up can re-point it
    (DNS rebinding): the URL's host replaced by the address, `Host` kept as the name, and TLS's SNI and
    certificate check done for the name (httpcore's `sni_hostname` extension). Returns (url, headers,
    extensions)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    target = parts._replace(netloc=netloc).geturl()
    host_header = host if ":" not in host else f"[{host}]"
    if parts.port is not None:
        host_header = f"{host_header}:{parts.port}"
    return target, {"Host": host_header}, {"sni_hostname": host}


async def validate_url(url: str) -> None:
    """For the API: a refused URL is 422 validation_failed on `url`."""
    try:
        await check_url(url)
    except UrlRefused as exc:
        raise ValidationFailed(errors=[field_error("url", "url_not_allowed", exc.reason)]) from exc
