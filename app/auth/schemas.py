"""Request and response bodies of the accounts and access routes (API.md "Authentication", "/me", "Staff")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Scope = Literal["products:write", "loans:write", "demands:write"]


class SmsCodeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(max_length=20, examples=["13912345678"])
    purpose: Literal["login", "step_up"] = "login"


class SmsCodeSent(BaseModel):
    expires_in: int
    resend_after: int


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(max_length=20)
    code: str = Field(min_length=1, max_length=12)


class PasswordSessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)
    code: str | None = Field(default=None, max_length=12, description="短信第二因素（启用时）")


class UserPublic(BaseModel):
    id: uuid.UUID
    role: str
    username: str | None = None
    phone: str | None = None
    real_name: str | None = None
    bank_id: uuid.UUID | None = None
    station_id: uuid.UUID | None = None
    region_code: str | None = None


class SessionPublic(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserPublic


class SecondFactorRequired(BaseModel):
    second_factor_required: Literal[True] = True
    method: Literal["sms"] = "sms"
    expires_in: int
    resend_after: int


class StepUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=12)


class StepUpPublic(BaseModel):
    step_up_expires_in: int


class RefreshCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=256)


class TokenPairPublic(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class ClientTokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    scope: str


class OAuthErrorPublic(BaseModel):
    error: str
    error_description: str


class ApiClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    scopes: list[Scope] = Field(min_length=1, max_length=3)


class ApiClientPublic(BaseModel):
    id: uuid.UUID
    name: str
    client_id: str
    scopes: list[str]
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None


class ApiClientSecret(ApiClientPublic):
    client_secret: str = Field(description="只显示这一次")


class StaffCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=1, max_length=256)
    role: str = Field(max_length=32)
    real_name: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=20)


class BankStaffCreate(StaffCreate):
    role: Literal["bank_staff"] = "bank_staff"


class RegulatorCreate(StaffCreate):
    role: Literal["regulator"] = "regulator"
    region_code: str | None = Field(default=None, max_length=12, pattern=r"^\d{2,12}$")


class StaffPublic(BaseModel):
    id: uuid.UUID
    username: str | None
    role: str
    real_name: str | None
    phone: str | None
    bank_id: uuid.UUID | None
    region_code: str | None
    is_active: bool
    created_at: datetime


class EnterprisePut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    unified_social_credit_code: str = Field(max_length=18)


class EnterprisePublic(BaseModel):
    name: str
    unified_social_credit_code: str = Field(description="脱敏显示")
    updated_at: datetime


class MeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    real_name: str | None = Field(default=None, min_length=1, max_length=64)
    id_number: str | None = Field(default=None, max_length=18)
    village_code: str | None = Field(default=None, max_length=12, pattern=r"^\d{12}$")
    household_type: Literal["farmer", "new_agri_entity", "small_business"] | None = None


class DemandPosting(BaseModel):
    """Whether this account can post loan demands now, as whom, and what is still missing."""

    can_post: bool
    post_as: Literal["household", "enterprise", "unrated_household"] | None = Field(
        description="household：已关联的评级农户；enterprise：企业信息 + 所在村；"
        "unrated_household：尚未评级的农户（真实姓名 + 身份证号 + 所在村），银行看到“未评级”"
    )
    rated: bool = Field(description="已关联省农信评级的农户档案")
    missing: list[Literal["real_name", "id_number", "village_code"]] = Field(
        description="还需在 PATCH /me 填写的项目（以未评级农户身份发布时）"
    )


class MePublic(BaseModel):
    id: uuid.UUID
    role: str
    phone: str | None
    real_name: str | None
    id_number: str | None = Field(description="脱敏显示")
    village_code: str | None
    household_type: str | None
    is_registered_poor: bool
    household_linked: bool
    enterprise: EnterprisePublic | None
    key_enterprise: bool = Field(description="企业已列入所在县区的重点支持企业名录（名录库）")
    demand_posting: DemandPosting
    created_at: datetime


class PhoneChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    new_phone: str = Field(max_length=20)
    code: str = Field(min_length=1, max_length=12)


class KeptItem(BaseModel):
    what: str
    why: str


class DeletionPublic(BaseModel):
    id: uuid.UUID
    status: Literal["completed", "restricted"]
    erased: list[str]
    kept: list[KeptItem]
    requested_at: datetime
