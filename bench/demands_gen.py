"""Phase 5 of the city: open demands (信贷需求), COPYed in the shape app/demands/posting.py `_create` writes.

Applicants are rated households of the city (one open demand each, well under `common.MAX_OPEN`), picked
deterministically from the seed. Every stored ranking column is computed with the app's own rules: `stars`
from the household, `target_mask` with `scoring.target_mask` over the targets `_create` derives (farmer,
registered_poor, the account's household_type), `match_base` with `scoring.base_score` and the star limit from
the seeded `certificate_policies`; village, township and county codes as `_create` derives them; status open,
`expires_on` within `common.VALID_DAYS` of today (spread over the window, as demands posted over a month).
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

PURPOSES = ["planting", "livestock", "farm_machinery", "processing", "commerce", "housing", "education", "medical"]
COLLATERAL = ["machinery", "vehicle", "workshop", "livestock", "movable_pledge", "warehouse_receipt", "real_estate"]
DESCRIPTIONS = [
    "",
    "扩大种植规模",
    "购买饲料和仔猪，计划扩大养殖规模到两百头，需要周转资金",
    "购置一台小麦联合收割机，用于本村及周边村的机收作业服务",
    "开办农产品加工小作坊，采购设备与原料，预计半年内回本",
    "春耕备耕，购买化肥种子农药",
]
COLUMNS = [
    "id", "user_id", "household_id", "enterprise_id", "applicant_kind", "filed_by_agent_id", "village_code",
    "township_code", "county_code", "amount_fen", "term_months", "purpose", "description", "collateral_types",
    "stars", "target_mask", "match_base", "status", "expires_on", "accepted_offer_id", "created_at", "updated_at",
    "closed_at",
]  # fmt: skip


async def generate(conn: asyncpg.Connection, seed: int, n: int) -> int:
    from app.core.dates import china_today
    from app.demands.common import VALID_DAYS
    from app.demands.scoring import Basis, base_score, target_mask

    limits = {r["stars"]: r["limit_fen"] for r in await conn.fetch("SELECT stars, limit_fen FROM certificate_policies")}
    rows = await conn.fetch(
        """SELECT h.id, h.user_id, h.village_code, h.stars, h.is_registered_poor, u.household_type
           FROM households h LEFT JOIN users u ON u.id = h.user_id ORDER BY h.id"""
    )
    rng = random.Random(f"{seed}:demands")
    picked = rng.sample(range(len(rows)), min(n, len(rows)))
    today = china_today()
    now = datetime.now(UTC)
    records: list[tuple[Any, ...]] = []
    for i in picked:
        h = rows[i]
        targets = {"farmer"}
        if h["is_registered_poor"]:
            targets.add("registered_poor")
        if h["household_type"]:
            targets.add(h["household_type"])
        amount = rng.choice([2, 3, 5, 8, 10, 15, 20, 30, 50, 100]) * 10_000 * 100
        collateral = sorted(rng.sample(COLLATERAL, rng.choice([0, 0, 1, 1, 2])))
        description = rng.choice(DESCRIPTIONS)
        stars = h["stars"]
        match = base_score(
            Basis(
                stars=stars,
                amount_fen=amount,
                collateral_types=collateral,
                description=description,
                verified=True,
                star_limit_fen=limits.get(stars, 0) if stars >= 1 else 0,
            )
        )
        age = rng.randrange(VALID_DAYS)  # posted `age` days ago, expires VALID_DAYS after posting
        created = now - timedelta(days=age, seconds=rng.randrange(86_400))
        v = h["village_code"]
        records.append(
            (
                uuid.UUID(int=rng.getrandbits(128), version=4),
                h["user_id"],
                h["id"],
                None,
                "household",
                None,
                v,
                v[:9],
                v[:6],
                amount,
                rng.choice([6, 12, 24, 36]),
                rng.choice(PURPOSES),
                description,
                json.dumps(collateral),
                stars,
                target_mask(targets),
                match,
                "open",
                today + timedelta(days=VALID_DAYS - age),
                None,
                created,
                created,
                None,
            )
        )
    await conn.copy_records_to_table("demands", records=records, columns=COLUMNS)
    return len(records)
