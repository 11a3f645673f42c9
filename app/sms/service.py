"""`send_sms(phone, text)` for every domain; the backend comes from settings."""

from __future__ import annotations

import logging

from app.core.config import get_settings
from app.sms.backends import AliyunBackend, ConsoleBackend, FileBackend, SmsBackend, SmsError

log = logging.getLogger("app.sms")

_backends: dict[tuple[str, str], SmsBackend] = {}


def get_backend() -> SmsBackend:
    s = get_settings()
    key = (s.sms_backend, s.sms_outbox_path)
    if key not in _backends:
        backend: SmsBackend
        if s.sms_backend == "file":
            backend = FileBackend(s.sms_outbox_path)
        elif s.sms_backend == "aliyun":
            backend = AliyunBackend(s)
        elif s.sms_backend == "console":
            backend = ConsoleBackend()
        else:
            raise SmsError(f"SMS backend {s.sms_backend!r} is not available")
        _backends[key] = backend
    return _backends[key]


def signed(text: str) -> str:
    """Chinese SMS carry the app's signature in 【】 at the front."""
    sig = f"【{get_settings().sms_signature}】"
    return text if text.startswith(sig) else sig + text


async def send_sms(phone: str, text: str) -> None:
    """Send one message (E.164 phone). Provider errors are logged without the text and re-raised."""
    try:
        await get_backend().send(phone, signed(text))
    except SmsError:
        log.warning("sms delivery failed", extra={"backend": get_settings().sms_backend})
        raise
