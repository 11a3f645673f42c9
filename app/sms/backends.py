"""SMS backends behind one interface: `async send(phone, text)`.

- `console`: development; logs the message (the message, never anything else, reaches the log).
- `file`: appends `{"phone","text","sent_at"}` as one JSON line to SMS_OUTBOX_PATH (tests read codes there).
- `aliyun`: Aliyun SMS (dysmsapi `SendSms`) over its RPC API, signed per Aliyun's public "RPC signature"
  documentation (HMAC-SHA1 over the percent-encoded canonical query string).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import httpx

from app.core.config import Settings

log = logging.getLogger("app.sms")


class SmsError(Exception):
    """The provider refused or could not be reached."""


class SmsBackend(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


class ConsoleBackend:
    async def send(self, phone: str, text: str) -> None:
        # Development only: the text is what a developer needs to log in locally.
        log.info("sms to %s: %s", phone, text)


class FileBackend:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._lock = asyncio.Lock()

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    async def send(self, phone: str, text: str) -> None:
        sent_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = json.dumps({"phone": phone, "text": text, "sent_at": sent_at}, ensure_ascii=False)
        async with self._lock:
            await asyncio.to_thread(self._append, line)


def percent_encode(value: str) -> str:
    """Aliyun's POP encoding: RFC 3986 unreserved characters kept, everything else %XX (space → %20)."""
    return quote(value, safe="-_.~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


_CODE = re.compile(r"(?<!\d)(\d{6})(?!\d)")


class AliyunBackend:
    """Aliyun SMS `SendSms`. Templates carry the variable part; we send the code as `${code}` when the text has
    one, else the whole text as `${content}`."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.endpoint = settings.sms_provider_endpoint or "https://dysmsapi.aliyuncs.com/"
        self.key_id = settings.sms_provider_access_key_id
        self.secret = settings.sms_provider_access_key_secret
        self.template = settings.sms_provider_template
        self.sign_name = settings.sms_signature
        self.timeout = settings.webhook_timeout_seconds
        self._client = client

    def build_params(self, phone: str, text: str, *, nonce: str | None = None, ts: str | None = None) -> dict[str, str]:
        m = _CODE.search(text)
        template_param = {"code": m.group(1)} if m else {"content": text}
        params = {
            "AccessKeyId": self.key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": phone[3:] if phone.startswith("+86") else phone,
            "RegionId": "cn-hangzhou",
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce or uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "TemplateCode": self.template,
            "TemplateParam": json.dumps(template_param, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": ts or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        params["Signature"] = aliyun_signature(params, self.secret)
        return params

    async def send(self, phone: str, text: str) -> None:
        params = self.build_params(phone, text)
        try:
            if self._client is not None:
                resp = await self._client.post(self.endpoint, data=params, timeout=self.timeout)
            else:
                async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                    resp = await client.post(self.endpoint, data=params)
        except httpx.HTTPError as exc:
            raise SmsError("provider unreachable") from exc
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code != 200 or body.get("Code") != "OK":
            raise SmsError(f"provider refused: {resp.status_code} {body.get('Code')}")
