"""SMS backends: file outbox format, console, and the Aliyun adapter against a local fake of its API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import parse_qsl, quote

import httpx
import pytest

from app.core.config import Settings
from app.sms.backends import AliyunBackend, ConsoleBackend, FileBackend, SmsError, aliyun_signature


async def test_file_backend_writes_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "out" / "sms.jsonl"
    backend = FileBackend(str(path))
    await backend.send("+8613900000001", "【普惠通】您的登录验证码为123456")
    await backend.send("+8613900000002", "第二条")
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert [m["phone"] for m in lines] == ["+8613900000001", "+8613900000002"]
    assert lines[0]["text"] == "【普惠通】您的登录验证码为123456"
    assert lines[0]["sent_at"].endswith("Z")


async def test_console_backend_logs(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="app.sms"):
        await ConsoleBackend().send("+8613900000001", "hello")
    assert "hello" in caplog.text


def _reference_signature(params: dict[str, str], secret: str) -> str:
    """Aliyun's documented algorithm, written out independently of the adapter."""
    enc = lambda s: quote(s, safe="~").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")  # noqa: E731
    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
    sts = "POST&%2F&" + enc(canonical)
    return base64.b64encode(hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode()


def test_signature_matches_the_documented_algorithm() -> None:
    params = {
        "AccessKeyId": "testid",
        "Action": "SendSms",
        "TemplateParam": '{"code":"123456"}',
        "SignName": "普惠通 *~",
    }
    assert aliyun_signature(params, "testsecret") == _reference_signature(params, "testsecret")


def _settings() -> Settings:
    return Settings(
        sms_backend="aliyun",
        sms_provider_endpoint="http://fake-aliyun.local/",
        sms_provider_access_key_id="LTAIfake",
        sms_provider_access_key_secret="fake-secret",
        sms_provider_template="SMS_000001",
    )


async def test_aliyun_adapter_against_a_fake_api() -> None:
    received: list[dict[str, str]] = []

    def fake(request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.content.decode()))
        received.append(params)
        signature = params.pop("Signature")
        if signature != _reference_signature(params, "fake-secret"):
            return httpx.Response(400, json={"Code": "SignatureDoesNotMatch"})
        return httpx.Response(200, json={"Code": "OK", "BizId": "1", "RequestId": "r"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        backend = AliyunBackend(_settings(), client=http)
        await backend.send("+8613900000001", "【普惠通】您的登录验证码为654321，5分钟内有效。")
    p = received[0]
    assert p["Action"] == "SendSms" and p["PhoneNumbers"] == "13900000001"
    assert json.loads(p["TemplateParam"]) == {"code": "654321"}
    assert p["SignName"] == "普惠通" and p["SignatureMethod"] == "HMAC-SHA1"


async def test_aliyun_refusal_raises() -> None:
    def fake(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"Code": "isv.BUSINESS_LIMIT_CONTROL"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        with pytest.raises(SmsError):
            await AliyunBackend(_settings(), client=http).send("+8613900000001", "验证码123456")
