"""Unit tests for the shared rules: identity numbers, masks, encryption, settings, tokens, cursors."""

from __future__ import annotations

import base64
import json
import time

import pytest
from jose import jwt

from app.core import crypto, identity, pagination, security
from app.core.config import DEFAULT_SECRET, Settings
from app.core.errors import ValidationFailed
from tests.factories import make_resident_id, make_uscc


def test_mobile_normalisation() -> None:
    assert identity.normalize_mobile("13912345678") == "+8613912345678"
    assert identity.normalize_mobile("+8613912345678") == "+8613912345678"
    assert identity.normalize_mobile("12912345678") is None
    assert identity.normalize_mobile("1391234567") is None
    assert identity.normalize_contact_phone("0396-1234567") == "0396-1234567"
    assert identity.normalize_contact_phone("95599") == "95599"
    assert identity.normalize_contact_phone("abc") is None


def test_resident_id_check_digit() -> None:
    assert identity.valid_resident_id("11010519491231002X")  # GB 11643's published example
    assert not identity.valid_resident_id("110105194912310021")
    assert not identity.valid_resident_id("411702199002301234")  # 30 February
    rid = make_resident_id()
    assert identity.valid_resident_id(rid)
    assert identity.normalize_resident_id(rid.lower()) == rid.upper()


def test_uscc_check_character() -> None:
    assert identity.valid_uscc("91350100M000100Y43")  # a published example code
    code = make_uscc()
    assert identity.valid_uscc(code)
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    assert not identity.valid_uscc(wrong)


def test_masks() -> None:
    assert crypto.mask_phone("+8613812345678") == "+86 138****5678"
    assert crypto.mask_id_number("41170219900101123X") == "4117**********123X"
    assert crypto.mask_name("张三丰") == "张**"
    assert crypto.mask_name("欧阳娜娜") == "欧***"
    assert crypto.mask_name("李") == "李"


def test_encryption_round_trip_and_index() -> None:
    token = crypto.encrypt("41170219900101123X", "household")
    assert "4117" not in token
    assert crypto.decrypt(token, "household") == "41170219900101123X"
    assert crypto.encrypt("x") != crypto.encrypt("x")  # random nonce
    assert crypto.index_hash("a", "id") == crypto.index_hash("a", "id") != crypto.index_hash("a", "uscc")
    with pytest.raises(Exception):
        crypto.decrypt(token, "other")


def test_prod_refuses_defaults() -> None:
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(app_env="prod", secret_key=DEFAULT_SECRET, database_url="postgresql://x/y", redis_url="redis://x")
    with pytest.raises(ValueError, match="PostgreSQL"):
        Settings(app_env="prod", secret_key="s" * 40, database_url="sqlite:///x.db", redis_url="redis://x")
    with pytest.raises(ValueError, match="Redis"):
        Settings(app_env="prod", secret_key="s" * 40, database_url="postgresql://x/y", redis_url="memory://")
    with pytest.raises(ValueError, match="AUDIT_KEY"):  # the audit chain's key is never the secret key
        Settings(app_env="prod", secret_key="s" * 40, database_url="postgresql://x/y", redis_url="redis://x")
    with pytest.raises(ValueError, match="AUDIT_KEY"):
        Settings(
            app_env="prod",
            secret_key="s" * 40,
            audit_key="s" * 40,
            database_url="postgresql://x/y",
            redis_url="redis://x",
        )
    ok = Settings(
        app_env="prod", secret_key="s" * 40, audit_key="a" * 40, database_url="postgresql://x/y", redis_url="redis://x"
    )
    assert not ok.embedded


def _forge(claims: dict, alg: str = "HS256", key: bytes | str = b"wrong") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def test_token_checks() -> None:
    token, _, _ = security.create_access_token(sub="u1", role="farmer")
    assert security.decode_access_token(token)["sub"] == "u1"
    now = int(time.time())
    base = {
        "sub": "u1",
        "aud": "puhuitong-api",
        "role": "farmer",
        "typ": "access",
        "iat": now,
        "exp": now + 60,
        "jti": "j",
    }
    assert security.decode_access_token(_forge(base)) is None  # wrong key
    key = security._jwt_key("test-secret-key-0123456789abcdef0123456789")
    assert security.decode_access_token(_forge(base, key=key)) is not None
    for missing in ("exp", "sub", "typ", "jti", "iat", "role", "aud"):
        claims = {k: v for k, v in base.items() if k != missing}
        assert security.decode_access_token(_forge(claims, key=key)) is None, missing
    assert security.decode_access_token(_forge({**base, "typ": "refresh"}, key=key)) is None
    assert security.decode_access_token(_forge({**base, "exp": now - 5}, key=key)) is None
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(base).encode()).rstrip(b"=")
    assert security.decode_access_token(f"{header.decode()}.{payload.decode()}.") is None
    assert security.decode_access_token(_forge(base, alg="HS512", key=key)) is None


def test_cursor_round_trip_and_garbage() -> None:
    c = pagination.encode_cursor(["411702", 3])
    assert pagination.decode_cursor(c, [str, int]) == ["411702", 3]
    with pytest.raises(ValidationFailed):
        pagination.decode_cursor("not-a-cursor!!", [str])
    with pytest.raises(ValidationFailed):
        pagination.decode_cursor(c, [str])


async def test_password_hash_parameters() -> None:
    from passlib.context import CryptContext

    ctx = CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=65536,
        argon2__time_cost=3,
        argon2__parallelism=4,
    )
    assert ctx.hash("correct horse battery").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    h = await security.hash_password("correct horse battery")
    assert h.startswith("$argon2id$")
    assert (await security.verify_password("correct horse battery", h))[0]
    assert not (await security.verify_password("wrong horse battery", h))[0]
    assert not (await security.verify_password("anything", None))[0]
