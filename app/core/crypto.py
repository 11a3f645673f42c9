"""Personal data at rest: AEAD encryption (AES-256-GCM) plus a keyed hash for look-ups, and masks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.config import get_settings
from app.core.security import derive_key


@lru_cache(maxsize=4)
def _keys(secret: str) -> tuple[AESGCM, bytes]:
    return AESGCM(derive_key("pii-aead", secret)), derive_key("pii-index", secret)


def _secret() -> str:
    s = get_settings()
    return s.pii_key or s.secret_key


def encrypt(value: str, context: str = "") -> str:
    aead, _ = _keys(_secret())
    nonce = os.urandom(12)
    ct = aead.encrypt(nonce, value.encode(), context.encode())
    return "v1." + base64.urlsafe_b64encode(nonce + ct).decode().rstrip("=")


def decrypt(token: str, context: str = "") -> str:
    aead, _ = _keys(_secret())
    raw = base64.urlsafe_b64decode(token[3:] + "=" * (-len(token[3:]) % 4))
    return aead.decrypt(raw[:12], raw[12:], context.encode()).decode()


def index_hash(value: str, kind: str) -> str:
    """Deterministic keyed hash for equality look-ups of an encrypted value."""
    _, key = _keys(_secret())
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def mask_phone(phone: str | None) -> str | None:
    """`+8613812345678` → `+86 138****5678`."""
    if not phone:
        return phone
    digits = phone[3:] if phone.startswith("+86") else phone
    if len(digits) == 11:
        return f"+86 {digits[:3]}****{digits[-4:]}"
    if len(digits) > 4:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "****"


def mask_id_number(value: str | None) -> str | None:
    """`411702199001011234` → `4117**********1234`."""
    if not value:
        return value
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_name(name: str | None) -> str | None:
    """First character kept, every other character `*`: `张三丰` → `张**`."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)
