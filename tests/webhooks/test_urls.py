"""SSRF rules for webhook URLs (OWASP API7): every resolved address is checked."""

from __future__ import annotations

import ipaddress

import pytest

from app.core.config import get_settings
from app.webhooks import urls
from app.webhooks.urls import UrlRefused, address_refusal, check_url

ALWAYS_REFUSED = [
    "169.254.169.254",  # cloud metadata
    "169.254.1.1",  # link-local
    "fe80::1",
    "fd00:ec2::254",  # AWS IPv6 metadata
    "100.100.100.200",  # Alibaba Cloud metadata
    "224.0.0.1",  # multicast
    "ff02::1",
    "0.0.0.0",
    "::",
    "240.0.0.1",  # reserved
    "::ffff:169.254.169.254",  # IPv4-mapped metadata
    "100.64.0.1",  # carrier-grade NAT
]
PRIVATE = ["127.0.0.1", "127.8.9.10", "::1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fd12::1"]
PUBLIC = ["8.8.8.8", "114.114.114.114", "2400:3200::1", "172.32.0.1"]


@pytest.mark.parametrize("addr", ALWAYS_REFUSED)
@pytest.mark.parametrize("allow_private", [False, True])
def test_always_refused(addr: str, allow_private: bool) -> None:
    assert address_refusal(ipaddress.ip_address(addr), allow_private) is not None


@pytest.mark.parametrize("addr", PRIVATE)
def test_private_only_when_allowed(addr: str) -> None:
    ip = ipaddress.ip_address(addr)
    assert address_refusal(ip, False) is not None
    assert address_refusal(ip, True) is None


@pytest.mark.parametrize("addr", PUBLIC)
def test_public_allowed(addr: str) -> None:
    assert address_refusal(ipaddress.ip_address(addr), False) is None


def test_scheme_rules() -> None:
    assert urls.parse("https://bank.example/hook", False) == ("bank.example", 443)
    with pytest.raises(UrlRefused):
        urls.parse("http://bank.example/hook", False)
    assert urls.parse("http://bank.example:8080/hook", True) == ("bank.example", 8080)
    for bad in ("ftp://bank.example/", "https://user:pw@bank.example/", "https:///nohost", "gopher://x"):
        with pytest.raises(UrlRefused):
            urls.parse(bad, True)


async def test_every_address_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name with one public and one metadata address is refused: all of them must pass."""

    async def fake_resolve(host: str, port: int) -> list[urls.IPAddress]:
        return [ipaddress.ip_address("8.8.8.8"), ipaddress.ip_address("169.254.169.254")]

    monkeypatch.setattr(urls, "resolve", fake_resolve)
    monkeypatch.setattr(get_settings(), "webhook_allow_private_urls", False)
    with pytest.raises(UrlRefused):
        await check_url("https://rebind.example/hook")


async def test_localhost_name_resolves_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allow_private_urls", False)
    with pytest.raises(UrlRefused):
        await check_url("https://localhost/hook")
