"""Station agents (代办): what they see of their village's households and what they send."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from app.credit.schemas import Score
from app.demands.service import DemandCreate

CODE = Field(min_length=1, max_length=16, description="农户手机收到的 6 位授权验证码（consent）")


class AgentHouseholdPublic(BaseModel):
    """A household of the agent's own village. The agent serves these people in person at the station, so the
    name and the phone on record are shown in full (to recognise them and tell them where the code goes); the
    resident ID stays masked."""

    id: uuid.UUID
    real_name: str
    phone: str | None
    id_number: str | None
    village_code: str
    is_registered_poor: bool
    provincial_score: Score | None
    village_score: Score | None
    composite_score: Score | None
    stars: int
    is_credit_household: bool
    linked: bool
    rated_at: datetime | None


class AgentDemandCreate(DemandCreate):
    model_config = ConfigDict(extra="forbid")
    household_id: uuid.UUID
    code: str = CODE

    def demand(self) -> DemandCreate:
        return DemandCreate.model_validate(self.model_dump(exclude={"household_id", "code"}))


class AgentCodeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = CODE


class AgentVillageScore(BaseModel):
    model_config = ConfigDict(extra="forbid")
    village_score: Decimal = Field(ge=0, le=100, decimal_places=2, description="村评定小组评分 0–100，最多两位小数")
