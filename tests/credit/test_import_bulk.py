"""The import's bulk writer (`app.credit.bulk`, COPY on PostgreSQL): rows stored as an INSERT stores them, and a
broken constraint raised as SQLAlchemy's IntegrityError, as an INSERT raises it."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from app.core.db import utcnow
from app.credit import bulk
from app.credit.models import Household, RatingChange
from tests.factories import Factory


def _household(village: str, **kw: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": uuid.uuid4(),
        "id_number_enc": "enc",
        "id_number_hash": uuid.uuid4().hex,
        "real_name": "张三",
        "phone": None,
        "village_code": village,
        "township_code": village[:9],
        "county_code": village[:6],
        "is_registered_poor": False,
        "user_id": None,
        "provincial_score": Decimal("95.50"),
        "village_score": Decimal("90.25"),
        "composite_score": Decimal("93.9"),
        "stars": 4,
        "is_credit_household": True,
        "vetoed": False,
        "positives": ["good_repayment"],
        "negatives": [],
        "vetoes": [],
        "rated_at": now,
        "created_at": now,
        "updated_at": now,
        **kw,
    }


async def test_bulk_rows_read_back_as_inserted_rows(factory: Factory) -> None:
    village = await factory.fresh_village("411725")
    copied, inserted = _household(village), _household(village)
    async with factory.session() as s:
        await s.execute(select(Household.id).limit(1))
        await bulk.insert_rows(s, Household, [copied])
        await s.execute(insert(Household), [inserted])
        history = {"id": uuid.uuid4(), "household_id": copied["id"], "source": "import", "actor_type": "system"}
        history |= {"actor_id": "system", "actor_role": "", "before": None, "after": {"stars": 4}}
        await bulk.insert_rows(s, RatingChange, [{**history, "created_at": utcnow()}])
        await s.commit()
    async with factory.session() as s:
        a = await s.get(Household, copied["id"])
        b = await s.get(Household, inserted["id"])
        change = await s.scalar(select(RatingChange).where(RatingChange.household_id == copied["id"]))
    assert a is not None and b is not None and change is not None
    skip = {"id", "id_number_hash", "rated_at", "created_at", "updated_at"}
    assert {k: v for k, v in a.model_dump().items() if k not in skip} == {
        k: v for k, v in b.model_dump().items() if k not in skip
    }
    assert a.created_at == copied["created_at"] and a.created_at.tzinfo is not None
    assert change.before is None and change.after == {"stars": 4}


async def test_bulk_constraint_failure_is_an_integrity_error(factory: Factory) -> None:
    village = await factory.fresh_village("411725")
    first = _household(village)
    async with factory.session() as s:
        await bulk.insert_rows(s, Household, [first])
        await s.commit()
    async with factory.session() as s:
        with pytest.raises(IntegrityError):
            await bulk.insert_rows(s, Household, [_household(village, id_number_hash=first["id_number_hash"])])
        await s.rollback()
        assert await s.scalar(select(Household.id).where(Household.id == first["id"])) == first["id"]
