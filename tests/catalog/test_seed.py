"""The demo seeder: real Zhumadian banks, valid codes, compliant published products, idempotent."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from app.auth.models import User
from app.banks.models import Bank
from app.catalog.models import Product
from app.catalog.seed import BANKS, demo_uscc, seed_catalog
from app.core.identity import valid_uscc


async def test_seed_is_idempotent_and_searchable(app, client: httpx.AsyncClient) -> None:
    for _ in range(2):
        async with app.state.db.sessionmaker() as s:
            await seed_catalog(s)
            await s.commit()
    codes = [demo_uscc(short) for short, *_ in BANKS]
    assert all(valid_uscc(c) for c in codes)
    async with app.state.db.sessionmaker() as s:
        banks = (await s.execute(select(Bank.id).where(Bank.unified_social_credit_code.in_(codes)))).scalars().all()
        assert len(banks) == len(BANKS)
        n = (await s.execute(select(func.count()).select_from(Product).where(Product.bank_id.in_(banks)))).scalar_one()
        assert n >= 15
        admins = (await s.execute(select(User.username).where(User.username.like("%-admin")))).scalars().all()
        assert {"abc-admin", "qsrcb-admin", "zybank-admin"} <= set(admins)
    r = await client.get("/products", params={"county_code": "411725", "q": "授信", "limit": 100})
    names = [i["name"] for i in r.json()["items"]]
    assert "确山普惠授信证贷款" in names
    r = await client.get("/products", params={"q": "夏南牛", "limit": 100})
    assert [i["name"] for i in r.json()["items"]] == ["夏南牛活体抵押贷"]
