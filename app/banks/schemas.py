"""Bank onboarding bodies and the public bank card."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.identity import normalize_contact_phone, normalize_uscc

CountyCode = str


def _phone(v: str | None) -> str | None:
    if v is None:
        return None
    out = normalize_contact_phone(v)
    if out is None:
        raise ValueError("联系电话格式不正确（手机、座机如 0396-1234567 或服务号如 95599）")
    return out


class BankCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=128)
    unified_social_credit_code: str = Field(min_length=18, max_length=18)
    region_code: str = Field(pattern=r"^\d{2,12}$")
    county_codes: list[str] = Field(min_length=1, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=32)
    logo_url: str | None = Field(default=None, max_length=255, pattern=r"^(https://|/media/)")

    @field_validator("unified_social_credit_code")
    @classmethod
    def _uscc(cls, v: str) -> str:
        out = normalize_uscc(v)
        if out is None:
            raise ValueError("统一社会信用代码无效（GB 32100 校验位不符）")
        return out

    @field_validator("county_codes")
    @classmethod
    def _counties(cls, v: list[str]) -> list[str]:
        if any(len(c) != 6 or not c.isdigit() for c in v):
            raise ValueError("县区代码须为 6 位数字")
        return sorted(set(v))

    @field_validator("contact_phone")
    @classmethod
    def _contact(cls, v: str | None) -> str | None:
        return _phone(v)


class BankUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=2, max_length=128)
    region_code: str | None = Field(default=None, pattern=r"^\d{2,12}$")
    county_codes: list[str] | None = Field(default=None, min_length=1, max_length=50)
    contact_phone: str | None = Field(default=None, max_length=32)
    logo_url: str | None = Field(default=None, max_length=255, pattern=r"^(https://|/media/)")
    is_active: bool | None = None

    @field_validator("county_codes")
    @classmethod
    def _counties(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        return BankCreate._counties(v)

    @field_validator("contact_phone")
    @classmethod
    def _contact(cls, v: str | None) -> str | None:
        return _phone(v)


class BankPublic(BaseModel):
    id: uuid.UUID
    name: str
    unified_social_credit_code: str
    region_code: str
    county_codes: list[str]
    contact_phone: str | None
    logo_url: str | None
    is_active: bool
