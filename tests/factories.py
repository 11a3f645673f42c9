"""Factories for test data; they write through the app's own models and mint real tokens."""

from __future__ import annotations

import itertools
import random
import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from app.auth.models import User
from app.banks.models import Bank, BankCounty
from app.core.identity import resident_id_check_char, uscc_check_char
from app.core.security import create_access_token
from app.regions.models import Region

_counter = itertools.count(1)


def unique_phone() -> str:
    """A fresh mainland mobile number in E.164 for every call."""
    n = next(_counter)
    return f"+86139{random.randint(0, 99):02d}{n:06d}"


def make_resident_id(region: str = "411702", born: str = "19800101", seq: int | None = None) -> str:
    seq = seq if seq is not None else random.randint(0, 999)
    first17 = f"{region[:6]}{born}{seq:03d}"
    return first17 + resident_id_check_char(first17)


def make_uscc() -> str:
    body = "91" + "411700" + "".join(random.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return body + uscc_check_char(body)


class Factory:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._villages: list[str] | None = None
        self._village_iter: Any = None

    def session(self) -> Any:
        return self.app.state.db.sessionmaker()

    async def fresh_village(self, county: str | None = None) -> str:
        """A real village code no other test has been handed in this run."""
        if self._villages is None:
            async with self.session() as s:
                rows = (
                    await s.execute(select(Region.code).where(Region.level == "village").order_by(Region.code))
                ).all()
            self._villages = [r[0] for r in rows]
            random.Random(7).shuffle(self._villages)
            # the demo seed's villages are the seed tests' (they count what the seed put there), and so are the
            # townships the station seed covers (its stations would show up in another test's village)
            from app.credit.seed import DEMO_AREA_VILLAGES
            from app.stations.seed import DEMO_TOWNSHIPS

            self._used: set[str] = set(DEMO_AREA_VILLAGES)
            self._used |= {v for v in self._villages if v[:9] in {t[0] for t in DEMO_TOWNSHIPS}}
        for code in self._villages:
            if code not in self._used and (county is None or code.startswith(county)):
                self._used.add(code)
                return code
        raise RuntimeError("out of villages")

    async def user(self, role: str, **kw: Any) -> User:
        async with self.session() as s:
            user = User(role=role, **kw)
            if role == "farmer" and "phone" not in kw:
                user.phone = unique_phone()
            if role != "farmer" and "username" not in kw:
                user.username = f"{role}-{uuid.uuid4().hex[:10]}"
            s.add(user)
            await s.commit()
            await s.refresh(user)
            return user

    async def bank(self, county_codes: list[str] | None = None, name: str | None = None) -> Bank:
        async with self.session() as s:
            bank = Bank(
                name=name or f"测试银行{uuid.uuid4().hex[:6]}",
                unified_social_credit_code=make_uscc(),
                region_code="4117",
                contact_phone="95599",
            )
            s.add(bank)
            await s.flush()
            for c in county_codes or ["411702"]:
                s.add(BankCounty(bank_id=bank.id, county_code=c))
            await s.commit()
            await s.refresh(bank)
            return bank

    def token(self, user: User, *, sid: str | None = None, ttl: int | None = None) -> str:
        extra: dict[str, Any] = {"sid": sid or uuid.uuid4().hex}
        if user.bank_id:
            extra["bank"] = str(user.bank_id)
        if user.region_code:
            extra["region"] = user.region_code
        if user.station_id:
            extra["station"] = str(user.station_id)
        token, _, _ = create_access_token(sub=str(user.id), role=user.role, ttl_seconds=ttl, extra=extra)
        return token

    def headers(self, user: User, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user, **kw)}"}

    async def step_up(self, headers: dict[str, str], seconds: int = 300) -> None:
        """Mark the session behind `headers` as confirmed by SMS (what POST /auth/step-up does)."""
        from app.core.security import decode_access_token

        claims = decode_access_token(headers["Authorization"].split()[1])
        assert claims is not None
        await self.app.state.redis.set(f"stepup:{claims['sid']}", "1", ex=seconds)
