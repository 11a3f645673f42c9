"""Demo key-enterprise lists 名录库: a few enterprises of 确山县 and 驿城区, one of which (a machinery cooperative
of 竹沟镇) has an account and a demand in the demo. Put through the service (audited), idempotent."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.identity import uscc_check_char
from app.core.principal import Principal
from app.enterprises import repository, service
from app.enterprises.schemas import KeyEnterprisePut

_USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def demo_code(key: str) -> str:
    """A valid GB 32100 code made up for the demo (not a real enterprise's)."""
    digest = hashlib.sha256(f"puhuitong-demo-enterprise-{key}".encode()).digest()
    body = "934117" + "".join(_USCC[b % 31] for b in digest[:11])
    return body + uscc_check_char(body)


# (key, name, county, note); the first has the demo enterprise account (app.demands.seed)
DEMO_ENTERPRISES = (
    ("zhugou-coop", "确山县竹沟镇示范农机专业合作社", "411725", "县级示范农民专业合作社，带动周边农户机收机播"),
    ("queshan-tea", "确山县示范茶业有限公司", "411725", "农业产业化县级重点龙头企业"),
    ("yicheng-flour", "驻马店市示范面粉有限公司", "411702", "粮食加工带贫企业"),
)


async def seed_key_enterprises(session: AsyncSession) -> None:
    admin = Principal(kind="user", id=uuid.UUID(int=0), role="admin", jti="seed")
    for key, name, county, note in DEMO_ENTERPRISES:
        code = demo_code(key)
        if await repository.get(session, code) is not None:
            continue
        await service.put(session, admin, code, KeyEnterprisePut(name=name, county_code=county, note=note))
