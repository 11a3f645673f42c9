from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class KeyEnterprisePut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128, description="企业名称")
    county_code: str = Field(pattern=r"^\d{6}$", description="名录所属县区代码（6 位）")
    note: str = Field(default="", max_length=500, description="备注（入库理由等），不超过 500 字")


class KeyEnterprisePublic(BaseModel):
    unified_social_credit_code: str
    name: str
    county_code: str
    county_name: str
    note: str
    created_at: datetime
    updated_at: datetime
