"""Password sign-in (throttle, unknown users, rehash, SMS second factor) and staff onboarding."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select

from app.auth import users
from app.auth.models import User
from app.core.config import get_settings
from app.core.security import _pwd_context
from tests.builders.auth import bearer, last_code
from tests.factories import Factory, unique_phone

PASSWORD = "Correct-Horse-Battery-9"


async def make_staff(factory: Factory, role: str = "regulator", **kw: object) -> User:
    async with factory.session() as s:
        user = await users.create_platform_user(
            s, role=role, username=f"u{uuid.uuid4().hex[:12]}", password=PASSWORD, region_code="4117", **kw
        )
        await s.commit()
        return user


async def login(client: httpx.AsyncClient, username: str, password: str, **extra: object) -> httpx.Response:
    return await client.post("/auth/password-sessions", json={"username": username, "password": password, **extra})


async def test_password_login(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await make_staff(factory)
    r = await login(client, user.username or "", PASSWORD)
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["role"] == "regulator"
    assert body["token_type"] == "bearer"
    from jose import jwt

    assert jwt.get_unverified_claims(body["access_token"])["region"] == "4117"


async def test_wrong_password_and_unknown_user_answer_alike(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await make_staff(factory)
    a = await login(client, user.username or "", "wrong-password-123")
    b = await login(client, f"nobody-{uuid.uuid4().hex}", "wrong-password-123")
    assert a.status_code == b.status_code == 401
    assert a.json()["code"] == b.json()["code"] == "credentials_invalid"
    assert a.json()["detail"] == b.json()["detail"]


async def test_unknown_user_still_runs_argon2(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    ctx = _pwd_context(1024, 1, 1)
    original = ctx.verify

    def spy(secret: str, hashed: str) -> bool:
        calls.append(hashed)
        return bool(original(secret, hashed))

    monkeypatch.setattr(ctx, "verify", spy)
    await login(client, f"nobody-{uuid.uuid4().hex}", "wrong-password-123")
    assert calls and calls[0].startswith("$argon2id$")


async def test_farmers_cannot_use_password_login(client: httpx.AsyncClient, factory: Factory) -> None:
    farmer = await factory.user("farmer", username=f"f{uuid.uuid4().hex[:10]}")
    r = await login(client, farmer.username or "", "anything-at-all-1")
    assert r.status_code == 401


async def test_throttled_after_ten_failures(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await make_staff(factory)
    name = user.username or ""
    for _ in range(get_settings().login_failures_per_window):
        assert (await login(client, name, "wrong-password-123")).status_code == 401
    r = await login(client, name, PASSWORD)  # even the right password
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0


async def test_unknown_username_is_throttled_too(client: httpx.AsyncClient) -> None:
    name = f"ghost-{uuid.uuid4().hex}"
    for _ in range(10):
        assert (await login(client, name, "wrong-password-123")).status_code == 401
    assert (await login(client, name, "wrong-password-123")).status_code == 429


async def test_nine_failures_still_allow_login(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await make_staff(factory)
    for _ in range(9):
        await login(client, user.username or "", "wrong-password-123")
    assert (await login(client, user.username or "", PASSWORD)).status_code == 200


async def test_rehash_on_login_when_parameters_change(
    client: httpx.AsyncClient, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make_staff(factory)
    assert user.password_hash and "m=1024,t=1,p=1" in user.password_hash
    monkeypatch.setattr(get_settings(), "argon2_time_cost", 2)
    assert (await login(client, user.username or "", PASSWORD)).status_code == 200
    async with factory.session() as s:
        stored = (await s.execute(select(User.password_hash).where(User.id == user.id))).scalar_one()
    assert stored and "m=1024,t=2,p=1" in stored


def test_production_argon2_parameters() -> None:
    ctx = _pwd_context(65536, 3, 4)
    assert ctx.hash("x" * 12).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


async def test_disabled_staff_cannot_log_in(
    client: httpx.AsyncClient, factory: Factory, admin_headers: dict[str, str]
) -> None:
    user = await make_staff(factory)
    await client.post(f"/admin/users/{user.id}/disable", headers=admin_headers)
    assert (await login(client, user.username or "", PASSWORD)).status_code == 401


async def test_sms_second_factor(client: httpx.AsyncClient, factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "staff_sms_second_factor", True)
    phone = unique_phone()
    user = await make_staff(factory, phone=phone)
    r = await login(client, user.username or "", PASSWORD)
    assert r.status_code == 202
    assert r.json()["second_factor_required"] is True
    assert "access_token" not in r.json()
    r = await login(client, user.username or "", PASSWORD, code="000000" if last_code(phone) != "000000" else "111111")
    assert r.status_code == 400
    r = await login(client, user.username or "", PASSWORD, code=last_code(phone))
    assert r.status_code == 200
    assert r.json()["access_token"]
    # A right code with a wrong password gets nothing.
    r = await login(client, user.username or "", "wrong-password-123", code="123456")
    assert r.status_code == 401


# --- onboarding ------------------------------------------------------------------------------------


def staff_body(role: str = "bank_staff", **kw: object) -> dict[str, object]:
    return {
        "username": f"s{uuid.uuid4().hex[:12]}",
        "password": PASSWORD,
        "role": role,
        "real_name": "王五",
        "phone": "13900001111",
        **kw,
    }


async def test_admin_creates_bank_admin_who_creates_staff(
    client: httpx.AsyncClient, factory: Factory, admin_headers: dict[str, str]
) -> None:
    bank = await factory.bank()
    body = staff_body("bank_admin")
    r = await client.post(f"/admin/banks/{bank.id}/staff", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.json()["bank_id"] == str(bank.id)
    assert r.json()["phone"] == "+8613900001111"
    assert "password" not in r.text and "password_hash" not in r.text
    r = await login(client, str(body["username"]), PASSWORD)
    admin_tokens = r.json()
    r = await client.post("/bank/staff", json=staff_body(), headers=bearer(admin_tokens))
    assert r.status_code == 201
    assert r.json()["role"] == "bank_staff"
    assert r.json()["bank_id"] == str(bank.id)
    # A bank admin may not mint another bank admin, nor pick a bank.
    r = await client.post("/bank/staff", json=staff_body("bank_admin"), headers=bearer(admin_tokens))
    assert r.status_code == 422
    r = await client.post("/bank/staff", json={**staff_body(), "bank_id": str(bank.id)}, headers=bearer(admin_tokens))
    assert r.status_code == 422


async def test_bank_staff_cannot_create_staff(client: httpx.AsyncClient, factory: Factory) -> None:
    bank = await factory.bank()
    staff = await factory.user("bank_staff", bank_id=bank.id)
    assert (await client.post("/bank/staff", json=staff_body(), headers=factory.headers(staff))).status_code == 403


async def test_onboarding_rules(client: httpx.AsyncClient, factory: Factory, admin_headers: dict[str, str]) -> None:
    bank = await factory.bank()
    url = f"/admin/banks/{bank.id}/staff"
    r = await client.post(url, json=staff_body(password="short1"), headers=admin_headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    r = await client.post(url, json=staff_body(password="password123"), headers=admin_headers)  # common
    assert r.status_code == 422
    r = await client.post(url, json=staff_body(password="x" * 129), headers=admin_headers)
    assert r.status_code == 422
    r = await client.post(url, json=staff_body("regulator"), headers=admin_headers)
    assert r.status_code == 422
    r = await client.post(url, json=staff_body(phone="12345"), headers=admin_headers)
    assert r.status_code == 422
    r = await client.post(f"/admin/banks/{uuid.uuid4()}/staff", json=staff_body(), headers=admin_headers)
    assert r.status_code == 404
    body = staff_body()
    assert (await client.post(url, json=body, headers=admin_headers)).status_code == 201
    r = await client.post(url, json={**body, "username": str(body["username"]).upper()}, headers=admin_headers)
    assert r.status_code == 409
    assert r.json()["code"] == "conflict"


def test_password_policy_bounds() -> None:
    from app.auth.passwords import check_password_policy

    assert check_password_policy("a" * 9 + "Z") is None
    assert check_password_policy("aB3$" * 2 + "x") is not None  # 9 characters
    assert check_password_policy("k" * 128) is None
    assert check_password_policy("k" * 129) is not None
    assert check_password_policy("password123") is not None


async def test_create_regulator(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    body = staff_body("regulator")
    body.pop("role")
    r = await client.post("/admin/regulators", json=body, headers=admin_headers)
    assert r.status_code == 201
    assert r.json()["region_code"] == "4117"
    r = await client.post(
        "/admin/regulators", json={**staff_body("regulator"), "region_code": "411721"}, headers=admin_headers
    )
    assert r.json()["region_code"] == "411721"
    r = await client.post(
        "/admin/regulators", json={**staff_body("regulator"), "region_code": "999999"}, headers=admin_headers
    )
    assert r.status_code == 422


async def test_onboarding_is_admin_only(client: httpx.AsyncClient, factory: Factory) -> None:
    bank = await factory.bank()
    regulator = await factory.user("regulator", region_code="4117")
    farmer = await factory.user("farmer")
    for headers in (factory.headers(regulator), factory.headers(farmer)):
        assert (
            await client.post("/admin/regulators", json=staff_body("regulator"), headers=headers)
        ).status_code == 403
        r = await client.post(f"/admin/banks/{bank.id}/staff", json=staff_body(), headers=headers)
        assert r.status_code == 403
    assert (await client.post("/admin/regulators", json=staff_body("regulator"))).status_code == 401


async def test_demo_seeder_is_idempotent(factory: Factory, client: httpx.AsyncClient) -> None:
    from app.auth.seed import seed_accounts

    for _ in range(2):
        async with factory.session() as s:
            await seed_accounts(s)
            await s.commit()
    async with factory.session() as s:
        names = (await s.execute(select(User.username).where(User.username.in_(["admin", "regulator"])))).all()
    assert len(names) == 2
    assert (await login(client, "admin", "Puhuitong-Ops-2026")).status_code == 200
    assert (await login(client, "regulator", "Puhuitong-Reg-2026")).status_code == 200
