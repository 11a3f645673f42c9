"""/me: the farmer's profile, household link, enterprise profile, phone change, export and deletion."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, status

from app.auth import profile, rights
from app.auth.dependencies import Farmer, StepUp
from app.auth.schemas import DeletionPublic, EnterprisePublic, EnterprisePut, MePublic, MeUpdate, PhoneChange
from app.core.deps import RedisDep, SessionDep

router = APIRouter(tags=["me"])


@router.get("/me", response_model=MePublic, summary="我的资料")
async def get_me(p: Farmer, session: SessionDep) -> MePublic:
    user = await profile.load_user(session, p.id)
    return MePublic(**await profile.view(session, user))


@router.patch(
    "/me",
    response_model=MePublic,
    summary="修改资料；姓名 + 身份证号与农户信息一致时绑定农户",
    responses={409: {"description": "household_already_linked / invalid_state"}},
)
async def patch_me(p: Farmer, session: SessionDep, redis: RedisDep, body: MeUpdate) -> MePublic:
    user = await profile.update_profile(session, redis, p.id, body.model_dump(exclude_unset=True))
    return MePublic(**await profile.view(session, user))


@router.put("/me/enterprise", response_model=EnterprisePublic, summary="小微企业信息（统一社会信用代码）")
async def put_enterprise(p: Farmer, session: SessionDep, body: EnterprisePut) -> EnterprisePublic:
    e = await profile.put_enterprise(session, p.id, body.name, body.unified_social_credit_code)
    return EnterprisePublic(**profile.enterprise_view(e))


@router.post(
    "/me/phone",
    response_model=MePublic,
    summary="更换手机号（新号码的 login 验证码，需 step-up）；其他会话全部结束",
    responses={400: {"description": "otp_invalid / otp_expired"}},
)
async def change_phone(p: Farmer, _: StepUp, session: SessionDep, redis: RedisDep, body: PhoneChange) -> MePublic:
    user = await profile.change_phone(session, redis, user_id=p.id, sid=p.sid, new_phone=body.new_phone, code=body.code)
    return MePublic(**await profile.view(session, user))


@router.get("/me/export", summary="导出我的全部数据（JSON）")
async def export_me(p: Farmer, session: SessionDep) -> dict[str, Any]:
    return await rights.export(session, p.id)


@router.post(
    "/me/deletion",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeletionPublic,
    summary="申请删除个人信息：依法须保留的保留，其余删除",
)
async def request_deletion(p: Farmer, session: SessionDep, redis: RedisDep) -> DeletionPublic:
    req = await rights.request_deletion(session, redis, p.id)
    return DeletionPublic(
        id=req.id,
        status=req.status,
        erased=json.loads(req.erased),
        kept=json.loads(req.kept),
        requested_at=req.created_at,
    )
