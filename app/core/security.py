"""Tokens and hashing: the only module that imports python-jose and passlib.

Keys are derived from SECRET_KEY with HKDF, one per purpose, so a key for one job never signs another.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jose import JWTError, jwt
from passlib.context import CryptContext

from app.core.config import get_settings

JWT_ALGORITHM = "HS256"
ACCESS = "access"
AUDIENCE = "puhuitong-api"  # RFC 8725 §3.9: a token minted for another audience is refused
REQUIRED_CLAIMS = ("sub", "exp", "iat", "jti", "typ", "role", "aud")


def derive_key(purpose: str, secret: str | None = None) -> bytes:
    secret = secret if secret is not None else get_settings().secret_key
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"puhuitong", info=purpose.encode()).derive(secret.encode())


@lru_cache(maxsize=8)
def _jwt_key(secret: str) -> bytes:
    return derive_key("jwt-hs256", secret)


def create_access_token(
    *, sub: str, role: str, ttl_seconds: int | None = None, extra: dict[str, Any] | None = None
) -> tuple[str, str, int]:
    """Returns (token, jti, expires_in)."""
    settings = get_settings()
    ttl = ttl_seconds or settings.access_token_ttl_seconds
    now = int(datetime.now(UTC).timestamp())
    jti = uuid.uuid4().hex
    claims: dict[str, Any] = {
        "sub": sub,
        "aud": AUDIENCE,
        "role": role,
        "typ": ACCESS,
        "iat": now,
        "exp": now + ttl,
        "jti": jti,
    }
    if extra:
        claims.update({k: v for k, v in extra.items() if k not in ("aud", "exp", "iat", "typ")})
    return jwt.encode(claims, _jwt_key(settings.secret_key), algorithm=JWT_ALGORITHM), jti, ttl


# Tokens whose signature and claims were verified, by (secret, token): a token is immutable, so only its expiry
# can change its answer, and that is checked again on every hit. Revocation is not cached (Redis, per request).
_VERIFIED: dict[tuple[str, str], dict[str, Any]] = {}
_VERIFIED_MAX = 20_000


def decode_access_token(token: str) -> dict[str, Any] | None:
    """The claims of a valid access token, or None. Exactly one algorithm; every claim required."""
    secret = get_settings().secret_key
    hit = _VERIFIED.get((secret, token))
    if hit is not None:
        # python-jose's check: expired when exp < now in whole seconds, no leeway.
        if int(hit["exp"]) < int(datetime.now(tz=UTC).timestamp()):
            _VERIFIED.pop((secret, token), None)
            return None
        return dict(hit)
    claims = _decode_access_token(token, secret)
    if claims is not None:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[(secret, token)] = dict(claims)
    return claims


def _decode_access_token(token: str, secret: str) -> dict[str, Any] | None:
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != JWT_ALGORITHM:
            return None
        claims: dict[str, Any] = jwt.decode(
            token,
            _jwt_key(secret),
            algorithms=[JWT_ALGORITHM],
            audience=AUDIENCE,
            options={
                "require_exp": True,
                "require_iat": True,
                "require_sub": True,
                "require_jti": True,
                "require_aud": True,
                "verify_aud": True,
            },
        )
    except (JWTError, ValueError, TypeError, KeyError):
        return None
    if any(claims.get(c) in (None, "") for c in REQUIRED_CLAIMS) or claims.get("typ") != ACCESS:
        return None
    # python-jose accepts an `exp` of "9999999999" (it calls int()); RFC 7519 says NumericDate: a JSON number.
    if not all(_numeric(claims[c]) for c in ("exp", "iat")) or claims["aud"] != AUDIENCE:
        return None
    return claims


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- passwords ------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _pwd_context(memory_kib: int, time_cost: int, parallelism: int) -> CryptContext:
    return CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=memory_kib,
        argon2__time_cost=time_cost,
        argon2__parallelism=parallelism,
    )


def pwd_context() -> CryptContext:
    s = get_settings()
    return _pwd_context(s.argon2_memory_kib, s.argon2_time_cost, s.argon2_parallelism)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(pwd_context().hash, password)


_DUMMY_HASH: dict[tuple[int, int, int], str] = {}


async def verify_password(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """(ok, new_hash_if_parameters_changed). With no hash, burns the same time as a real check."""
    ctx = pwd_context()
    if hashed is None:
        s = get_settings()
        key = (s.argon2_memory_kib, s.argon2_time_cost, s.argon2_parallelism)
        if key not in _DUMMY_HASH:
            _DUMMY_HASH[key] = await asyncio.to_thread(ctx.hash, secrets.token_urlsafe(16))
        await asyncio.to_thread(ctx.verify, password, _DUMMY_HASH[key])
        return False, None
    try:
        ok, new_hash = await asyncio.to_thread(ctx.verify_and_update, password, hashed)
    except (ValueError, TypeError):
        return False, None
    return bool(ok), new_hash


# --- opaque secrets (refresh tokens, client secrets, OTP codes) -------------------------------------


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def keyed_hash(value: str, purpose: str) -> str:
    return hmac.new(derive_key(purpose), value.encode(), hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
