"""Demand-library helpers: farmers linked to rated households, banks with published products, written directly
(the credit and catalog domains make them through their own routes); demands and offers go through HTTP."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.auth.models import User
from app.banks.models import Bank
from app.catalog.models import Product, ProductCounty
from app.core.crypto import encrypt, index_hash
from app.core.dates import china_today
from app.core.security import create_access_token
from app.credit.models import Certificate, Household
from app.demands.scoring import target_mask
from tests.factories import Factory, make_resident_id


@dataclass
class Farmer:
    user: User
    headers: dict[str, str]
    household: Household | None
    village: str


@dataclass
class BankSide:
    bank: Bank
    headers: dict[str, str]
    product: Product


def system_headers(bank: Bank, scope: str = "demands:write") -> dict[str, str]:
    token, _, _ = create_access_token(
        sub=str(uuid.uuid4()), role="bank_system", extra={"bank": str(bank.id), "scope": scope}
    )
    return {"Authorization": f"Bearer {token}"}


def demand_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount_fen": 3_000_000,
        "term_months": 12,
        "purpose": "livestock",
        "description": "扩建养牛场，新增肉牛二十头，需要购买饲料和圈舍材料。",
        "collateral_types": ["livestock"],
    }
    body.update(over)
    return body


class Demands:
    def __init__(self, factory: Factory, client: httpx.AsyncClient) -> None:
        self.factory = factory
        self.client = client

    async def farmer(
        self,
        village: str | None = None,
        *,
        stars: int = 5,
        name: str = "张三丰",
        certificate_limit_fen: int | None = None,
        poor: bool = False,
    ) -> Farmer:
        f = self.factory
        village = village or await f.fresh_village("411725")
        user = await f.user("farmer")
        rid = make_resident_id(village[:6], seq=int(uuid.uuid4().int % 1000))
        async with f.session() as s:
            h = Household(
                id_number_enc=encrypt(rid, "resident_id"),
                id_number_hash=index_hash(f"{rid}-{uuid.uuid4().hex}", "resident_id"),
                real_name=name,
                phone=user.phone,
                village_code=village,
                township_code=village[:9],
                county_code=village[:6],
                is_registered_poor=poor,
                user_id=user.id,
                stars=stars,
                is_credit_household=stars > 0,
            )
            s.add(h)
            await s.flush()
            if certificate_limit_fen is not None:
                s.add(
                    Certificate(
                        number=f"D{uuid.uuid4().hex[:20]}",
                        household_id=h.id,
                        color="red",
                        stars=stars,
                        limit_fen=certificate_limit_fen,
                        max_annual_rate_bp=600,
                        status="active",
                        issued_on=china_today(),
                        expires_on=china_today() + timedelta(days=365),
                    )
                )
            await s.commit()
            await s.refresh(h)
        return Farmer(user, f.headers(user), h, village)

    async def product(self, bank: Bank, counties: list[str], **over: Any) -> Product:
        values: dict[str, Any] = {
            "name": "养殖贷",
            "kind": "livestock_mortgage",
            "min_amount_fen": 1_000_000,
            "max_amount_fen": 50_000_000,
            "min_term_months": 3,
            "max_term_months": 36,
            "min_annual_rate_bp": 400,
            "max_annual_rate_bp": 900,
            "collateral_types": ["livestock"],
            "targets": ["farmer"],
            "status": "published",
        }
        values.update(over)
        values["collateral_free"] = not values["collateral_types"]
        values["target_mask"] = target_mask(values["targets"])
        async with self.factory.session() as s:
            p = Product(bank_id=bank.id, county_codes=counties, **values)
            s.add(p)
            await s.flush()
            s.add_all([ProductCounty(product_id=p.id, county_code=c) for c in counties])
            await s.commit()
            await s.refresh(p)
        return p

    async def bank(self, counties: list[str] | None = None, **product: Any) -> BankSide:
        counties = counties or ["411725"]
        bank = await self.factory.bank(counties)
        staff = await self.factory.user("bank_staff", bank_id=bank.id)
        p = await self.product(bank, counties, **product)
        return BankSide(bank, self.factory.headers(staff), p)

    async def post(self, farmer: Farmer, **over: Any) -> httpx.Response:
        return await self.client.post("/me/demands", json=demand_body(**over), headers=farmer.headers)

    async def posted(self, farmer: Farmer, **over: Any) -> dict[str, Any]:
        r = await self.post(farmer, **over)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def offer(self, side: BankSide, demand_id: str, **over: Any) -> httpx.Response:
        body: dict[str, Any] = {
            "product_id": str(side.product.id),
            "amount_fen": 3_000_000,
            "annual_rate_bp": 550,
            "term_months": 12,
            "note": "可上门办理",
        }
        body.update(over)
        return await self.client.post(f"/bank/demands/{demand_id}/offers", json=body, headers=side.headers)


@pytest.fixture
def demands(factory: Factory, client: httpx.AsyncClient) -> Demands:
    return Demands(factory, client)
