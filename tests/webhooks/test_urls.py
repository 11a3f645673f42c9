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


# IPv6 forms that carry a private, loopback or metadata IPv4 (issue 13 item 10): refused like the IPv4 itself.
EMBEDDING = [
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:102::1",  # 6to4 of 10.0.1.2
    "2002:c0a8:101::",  # 6to4 of 192.168.1.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::ac10:1",  # NAT64 of 172.16.0.1
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1 (stored inverted)
    "2001:0:7f00:1::1",  # Teredo, server 127.0.0.1
    "::ffff:10.1.2.3",  # IPv4-mapped
    "::127.0.0.1",  # IPv4-compatible
    "::10.1.2.3",
]
EMBEDDING_METADATA = ["2002:a9fe:a9fe::", "64:ff9b::a9fe:a9fe", "::169.254.169.254", "::ffff:100.100.100.200"]


@pytest.mark.parametrize("addr", EMBEDDING)
def test_ipv6_embedding_a_private_ipv4_is_refused(addr: str) -> None:
    assert address_refusal(ipaddress.ip_address(addr), False) is not None


@pytest.mark.parametrize("addr", EMBEDDING_METADATA)
@pytest.mark.parametrize("allow_private", [False, True])
def test_ipv6_embedding_metadata_is_always_refused(addr: str, allow_private: bool) -> None:
    assert address_refusal(ipaddress.ip_address(addr), allow_private) is not None


@pytest.mark.parametrize("addr", ["2002:808:808::1", "64:ff9b::808:808", "::ffff:8.8.8.8"])
def test_ipv6_embedding_a_public_ipv4_passes(addr: str) -> None:
    assert address_refusal(ipaddress.ip_address(addr), False) is None


def test_embedded_addresses_are_read_off() -> None:
    ip = ipaddress.IPv6Address
    v4 = ipaddress.IPv4Address
    assert urls.embedded_ipv4(ip("2002:7f00:1::")) == [v4("127.0.0.1")]
    assert urls.embedded_ipv4(ip("64:ff9b::a00:1")) == [v4("10.0.0.1")]
    assert v4("127.0.0.1") in urls.embedded_ipv4(ip("2001:0:4136:e378:8000:63bf:80ff:fffe"))
    assert urls.embedded_ipv4(ip("::1")) == [] and urls.embedded_ipv4(ip("2400:3200::1")) == []


async def test_registration_refuses_6to4_of_loopback(client, factory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "webhook_allow_private_urls", False)
    bank = await factory.bank()
    headers = factory.headers(await factory.user("bank_admin", bank_id=bank.id))
    for url in ("https://[2002:7f00:1::]/hook", "https://[64:ff9b::7f00:1]/hook", "https://[::127.0.0.1]/hook"):
        r = await client.post("/bank/webhooks", json={"url": url, "events": ["demand.created"]}, headers=headers)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url", (url, r.text)


def test_pinned_request_keeps_the_name_for_host_and_tls() -> None:
    url, host, ext = urls.pinned("https://hooks.bank.example:8443/a/b?x=1", ipaddress.ip_address("203.0.113.7"))
    assert url == "https://203.0.113.7:8443/a/b?x=1"
    assert host == {"Host": "hooks.bank.example:8443"} and ext == {"sni_hostname": "hooks.bank.example"}
    url, host, ext = urls.pinned("https://hooks.bank.example/h", ipaddress.ip_address("2400:3200::1"))
    assert url == "https://[2400:3200::1]/h" and host == {"Host": "hooks.bank.example"}
