"""/auth: SMS codes, sign-in (SMS, password, client credentials), step-up, refresh, logout."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from app.auth import clients, service, sessions
from app.auth.dependencies import CurrentPrincipal, bearer, get_principal
from app.auth.models import User
from app.auth.schemas import (
    ClientTokenPublic,
    OAuthErrorPublic,
    PasswordSessionCreate,
    RefreshCreate,
    SecondFactorRequired,
    SessionCreate,
    SessionPublic,
    SmsCodeCreate,
    SmsCodeSent,
    StepUpCreate,
    StepUpPublic,
    TokenPairPublic,
    UserPublic,
)
from app.core.deps import RedisDep, SessionDep, client_ip
from app.core.errors import Forbidden, TokenInvalid
from app.core.principal import Principal
from app.core.problems import problem_response

public_router = APIRouter(tags=["auth"])
router = APIRouter(tags=["auth"])

P = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _err(text: str) -> dict[str, Any]:
    return {"description": text, **P}


async def optional_principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal | None:
    if creds is None:
        return None
    return await get_principal(request, creds)


def _user_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        role=user.role,
        username=user.username,
        phone=user.phone,
        real_name=user.real_name,
        bank_id=user.bank_id,
        station_id=user.station_id,
        region_code=user.region_code,
    )


def _session_public(signed: service.SignedIn) -> SessionPublic:
    return SessionPublic(**signed.pair.as_dict(), user=_user_public(signed.user))


@public_router.post(
    "/auth/sms-codes",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SmsCodeSent,
    summary="发送短信验证码（login 或 step_up）",
    responses={
        401: _err("令牌无效 (token_invalid)"),
        403: _err("step_up 验证码只能发往本人手机 (forbidden)"),
        429: _err("发送过于频繁 (rate_limited)，带 Retry-After"),
    },
)
async def send_sms_code(
    request: Request,
    session: SessionDep,
    redis: RedisDep,
    body: SmsCodeCreate,
    caller: Annotated[Principal | None, Depends(optional_principal)],
) -> SmsCodeSent:
    sent = await service.request_code(
        session,
        redis,
        phone=body.phone,
        purpose=body.purpose,
        ip=client_ip(request),
        caller_id=caller.id if caller and not caller.is_client else None,
    )
    return SmsCodeSent(**sent)


@public_router.post(
    "/auth/sessions",
    response_model=SessionPublic,
    summary="手机号 + 短信验证码登录（首次登录即注册农户账号）",
    responses={
        400: _err("验证码错误 (otp_invalid, 带 attempts_left) 或失效 (otp_expired)"),
        403: _err("账号已停用 (forbidden)"),
    },
)
async def sms_session(session: SessionDep, redis: RedisDep, body: SessionCreate) -> SessionPublic:
    return _session_public(await service.sms_login(session, redis, phone=body.phone, code=body.code))


@public_router.post(
    "/auth/password-sessions",
    response_model=SessionPublic,
    summary="用户名 + 密码登录（银行、服务站、监管、平台）",
    responses={
        202: {
            "description": "密码正确，已向登记手机发送第二因素验证码；带 code 再次提交",
            "model": SecondFactorRequired,
        },
        400: _err("第二因素验证码错误或失效 (otp_invalid, otp_expired)"),
        401: _err("用户名或密码错误 (credentials_invalid)"),
        429: _err("失败次数过多 (rate_limited)，带 Retry-After"),
    },
)
async def password_session(request: Request, session: SessionDep, redis: RedisDep, body: PasswordSessionCreate) -> Any:
    result = await service.password_login(
        session, redis, username=body.username, password=body.password, code=body.code, ip=client_ip(request)
    )
    if isinstance(result, service.SecondFactorPending):
        payload = SecondFactorRequired(expires_in=result.expires_in, resend_after=result.resend_after)
        return JSONResponse(payload.model_dump(), status_code=202)
    return _session_public(result)


@router.post(
    "/auth/step-up",
    response_model=StepUpPublic,
    summary="用 step_up 短信验证码确认本会话（5 分钟）",
    responses={400: _err("验证码错误或失效 (otp_invalid, otp_expired)")},
)
async def step_up(p: CurrentPrincipal, session: SessionDep, redis: RedisDep, body: StepUpCreate) -> StepUpPublic:
    if p.is_client:
        raise Forbidden()
    ttl = await service.step_up(session, redis, user_id=p.id, sid=p.sid, code=body.code)
    return StepUpPublic(step_up_expires_in=ttl)


@public_router.post(
    "/auth/refresh",
    response_model=TokenPairPublic,
    summary="用刷新令牌换新的一对令牌（每次轮换）",
    responses={401: _err("刷新令牌无效、过期或已被吊销 (token_invalid)")},
)
async def refresh(request: Request, session: SessionDep, redis: RedisDep, body: RefreshCreate) -> Any:
    try:
        pair = await sessions.refresh(session, redis, body.refresh_token)
    except sessions.RefreshRefused:
        # Answered, not raised: a replay's family revocation must be committed with the 401.
        return problem_response(request, TokenInvalid())
    return TokenPairPublic(**pair.as_dict())


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, summary="退出登录：吊销本会话")
async def logout(p: CurrentPrincipal, session: SessionDep, redis: RedisDep) -> Response:
    await sessions.logout(session, redis, p.sid, p.jti, p.exp)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _oauth_error(status_code: int, error: str, description: str, basic: bool = False) -> JSONResponse:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if status_code == 401:
        headers["WWW-Authenticate"] = 'Basic realm="puhuitong"' if basic else "Basic"
    return JSONResponse({"error": error, "error_description": description}, status_code=status_code, headers=headers)


_TOKEN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "scope": {"type": "string", "description": "空格分隔，须为客户端权限的子集"},
                    },
                }
            }
        },
    }
}
_OAUTH = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthErrorPublic"}}}}


@public_router.post(
    "/auth/token",
    response_model=ClientTokenPublic,
    summary="银行系统：OAuth2 客户端凭证模式换取访问令牌",
    openapi_extra=_TOKEN_BODY,
    responses={
        400: {"description": "invalid_request, unsupported_grant_type, invalid_scope", **_OAUTH},
        401: {"description": "invalid_client", **_OAUTH},
        422: {"description": "不适用（错误按 RFC 6749 返回）", "model": OAuthErrorPublic},
    },
)
async def client_token(request: Request, session: SessionDep) -> Any:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return _oauth_error(400, "invalid_request", "Use application/x-www-form-urlencoded")
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    grant = fields.get("grant_type")
    if not grant:
        return _oauth_error(400, "invalid_request", "grant_type is required")
    if grant != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported")
    auth = request.headers.get("authorization", "")
    basic = auth[:6].lower() == "basic "
    if basic:
        if "client_secret" in fields:
            return _oauth_error(400, "invalid_request", "Use one client authentication method")
        try:
            raw = base64.b64decode(auth[6:].strip(), validate=True).decode()
            cid, _, secret = raw.partition(":")
            cid, secret = unquote(cid), unquote(secret)
        except (binascii.Error, UnicodeDecodeError):
            return _oauth_error(401, "invalid_client", "Malformed Basic credentials", basic=True)
        if fields.get("client_id") and fields["client_id"] != cid:
            return _oauth_error(400, "invalid_request", "client_id does not match the Basic credentials")
    else:
        cid, secret = fields.get("client_id", ""), fields.get("client_secret", "")
        if not cid or not secret:
            return _oauth_error(401, "invalid_client", "Client authentication is required")
    try:
        token = await clients.client_credentials(session, cid, secret, fields.get("scope"))
    except clients.OAuthError as exc:
        return _oauth_error(exc.status, exc.error, exc.description, basic=basic)
    return JSONResponse(token, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
