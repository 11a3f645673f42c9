"""Fixtures for the product supply library: a bank with its staff and systems, a regulator, product bodies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.banks.models import Bank
from app.core.security import create_access_token
from tests.factories import Factory


def system_headers(bank_id: uuid.UUID, scope: str = "products:write") -> dict[str, str]:
    token, _, _ = create_access_token(
        sub=str(uuid.uuid4()), role="bank_system", extra={"bank": str(bank_id), "scope": scope}
    )
    return {"Authorization": f"Bearer {token}"}


def product_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "农机具抵押贷款",
        "kind": "machinery_mortgage",
        "description": "以大型农机具抵押，支持种植大户购置收割机。",
        "min_amount_fen": 1_000_000,
        "max_amount_fen": 50_000_000,
        "min_term_months": 6,
        "max_term_months": 36,
        "min_annual_rate_bp": 450,
        "max_annual_rate_bp": 800,
        "repayment_methods": ["equal_installment"],
        "collateral_types": ["machinery"],
        "guarantee_required": False,
        "targets": ["farmer", "new_agri_entity"],
        "county_codes": ["411725"],
        "required_documents": ["身份证", "农机购置发票"],
        "contact_phone": "13912345678",
    }
    body.update(over)
    return body


def certificate_body(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "普惠授信证贷款",
        "kind": "certificate_loan",
        "description": "凭授信证随借随还，无需抵押担保。",
        "max_amount_fen": 5_000_000,
        "min_amount_fen": 100_000,
        "max_annual_rate_bp": 675,
        "min_annual_rate_bp": 435,
        "collateral_types": [],
        "guarantee_required": False,
    }
    base.update(over)
    return product_body(**base)


@dataclass
class BankCtx:
    bank: Bank
    headers: dict[str, str]
    system: dict[str, str]


@pytest.fixture
async def bank_ctx(factory: Factory) -> BankCtx:
    bank = await factory.bank(["411725", "411726"])
    user = await factory.user("bank_admin", bank_id=bank.id)
    return BankCtx(bank, factory.headers(user), system_headers(bank.id))


@pytest.fixture
async def other_bank(factory: Factory) -> BankCtx:
    bank = await factory.bank(["411725"])
    user = await factory.user("bank_staff", bank_id=bank.id)
    return BankCtx(bank, factory.headers(user), system_headers(bank.id))


@pytest.fixture
async def regulator_headers(factory: Factory) -> dict[str, str]:
    return factory.headers(await factory.user("regulator"))


async def create(client: httpx.AsyncClient, ctx: BankCtx, **over: Any) -> dict[str, Any]:
    r = await client.post("/bank/products", json=product_body(**over), headers=ctx.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def publish(
    client: httpx.AsyncClient, ctx: BankCtx, regulator: dict[str, str], body: dict[str, Any] | None = None
) -> dict[str, Any]:
    r = await client.post("/bank/products", json=body or product_body(), headers=ctx.headers)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = await client.post(f"/bank/products/{pid}/submit", headers=ctx.headers)
    assert r.status_code == 200, r.text
    r = await client.post(f"/admin/products/{pid}/approve", headers=regulator)
    assert r.status_code == 200, r.text
    return r.json()
