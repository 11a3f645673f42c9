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


class UrlRefused(Exception):
    """Carries the Chinese reason shown to the bank admin (and recorded as a delivery error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def address_refusal(ip: IPAddress, allow_private: bool) -> str | None:
    """Why a webhook may not be sent to `ip`, or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return address_refusal(ip.ipv4_mapped, allow_private)
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


async def validate_url(url: str) -> None:
    """For the API: a refused URL is 422 validation_failed on `url`."""
    try:
        await check_url(url)
    except UrlRefused as exc:
        raise ValidationFailed(errors=[field_error("url", "url_not_allowed", exc.reason)]) from exc
