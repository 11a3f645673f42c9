"""One error hierarchy with stable codes, rendered as RFC 9457 problem+json.

Every refusal a client can switch on is an `AppError` subclass here; the table in the README lists them.
Texts are Chinese by default and English with `Accept-Language: en`.
"""

from __future__ import annotations

from typing import Any, ClassVar

Msg = tuple[str, str]  # (Chinese, English)


class AppError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[Msg] = ("请求无效", "Bad request")

    def __init__(
        self,
        detail: Msg | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.code)


class OtpInvalid(AppError):
    status, code, title = 400, "otp_invalid", ("验证码错误", "Wrong verification code")


class OtpExpired(AppError):
    status, code = 400, "otp_expired"
    title = (
        "验证码已失效，请重新获取",
        "The verification code has expired or was replaced; request a new one",
    )


class IdempotencyKeyRequired(AppError):
    status, code = 400, "idempotency_key_required"
    title = ("缺少 Idempotency-Key 请求头", "The Idempotency-Key header is required")


class TokenInvalid(AppError):
    status, code = 401, "token_invalid"
    title = ("登录已失效，请重新登录", "Missing, invalid, expired or revoked token")

    def __init__(self, detail: Msg | None = None, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.headers.setdefault("WWW-Authenticate", "Bearer")


class CredentialsInvalid(AppError):
    status, code, title = 401, "credentials_invalid", ("用户名或密码错误", "Wrong username or password")


class Forbidden(AppError):
    status, code, title = 403, "forbidden", ("无权执行此操作", "You are not allowed to do this")


class StepUpRequired(AppError):
    status, code = 403, "step_up_required"
    title = (
        "请先通过短信验证码确认本次操作",
        "Confirm this session with an SMS code first (POST /auth/step-up)",
    )


class NotFound(AppError):
    status, code, title = 404, "not_found", ("对象不存在", "Not found")


class MethodNotAllowed(AppError):
    status, code, title = 405, "method_not_allowed", ("不支持该请求方法", "Method not allowed")


class Conflict(AppError):
    status, code, title = 409, "conflict", ("请求与当前状态冲突", "Conflict")


class InvalidState(AppError):
    status, code, title = 409, "invalid_state", ("当前状态不允许此操作", "Not allowed in the current state")


class IdempotencyKeyInFlight(AppError):
    status, code = 409, "idempotency_key_in_flight"
    title = ("相同 Idempotency-Key 的请求正在处理中", "A request with this Idempotency-Key is still running")


class LimitExceeded(AppError):
    status, code, title = 409, "limit_exceeded", ("超出可用授信额度", "Over the available credit limit")


class CertificateInactive(AppError):
    status, code = 409, "certificate_inactive"
    title = ("授信证不可用", "No active certificate")


class AreaIsolated(AppError):
    status, code = 409, "area_isolated"
    title = (
        "所在村或乡镇处于信贷隔离期，暂停新增普惠贷款",
        "The village or township is under credit isolation",
    )


class TooManyOpenDemands(AppError):
    status, code = 409, "too_many_open_demands"
    title = ("进行中的融资需求已达上限", "Too many open demands")


class HouseholdAlreadyLinked(AppError):
    status, code = 409, "household_already_linked"
    title = ("该农户已绑定其他账号", "The household is already linked to another account")


class InsufficientFunds(AppError):
    status, code = 409, "insufficient_funds"
    title = ("资金池余额不足", "The fund's balance is too small for this payment or withdrawal")


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", ("请求体过大", "Request body too large")


class UnsupportedMediaType(AppError):
    status, code, title = 415, "unsupported_media_type", ("不支持的内容类型", "Unsupported media type")


class ValidationFailed(AppError):
    status, code, title = 422, "validation_failed", ("请求参数有误", "The request is invalid")


class IdempotencyKeyReused(AppError):
    status, code = 422, "idempotency_key_reused"
    title = ("该 Idempotency-Key 已用于另一个请求", "This Idempotency-Key was used with a different request")


class ComplianceFailed(AppError):
    status, code = 422, "compliance_failed"
    title = ("产品不符合合规要求", "The product breaks compliance rules")


class RateAboveCap(AppError):
    status, code, title = 422, "rate_above_cap", ("利率超过上限", "The rate is above the cap")


class TermNotAllowed(AppError):
    status, code, title = 422, "term_not_allowed", ("期限不在允许范围内", "The term is not allowed")


class BankNotServingCounty(AppError):
    status, code = 422, "bank_not_serving_county"
    title = ("该银行不服务您所在的县区", "The bank does not serve your county")


class RepaymentInvalid(AppError):
    status, code, title = 422, "repayment_invalid", ("还款信息无效", "Invalid repayment")


class ProductNotForApplicant(AppError):
    status, code = 422, "product_not_for_applicant"
    title = ("该产品不适用于此申请人", "The product is not for this kind of applicant")


class RateLimited(AppError):
    status, code, title = 429, "rate_limited", ("请求过于频繁，请稍后再试", "Too many requests")

    def __init__(self, retry_after: int, detail: Msg | None = None, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.retry_after = max(1, int(retry_after))
        self.headers["Retry-After"] = str(self.retry_after)
        self.extra["retry_after"] = self.retry_after


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", ("服务暂不可用", "Service unavailable")


class InternalError(AppError):
    status, code, title = 500, "internal_error", ("服务器内部错误", "Internal server error")


def field_error(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def all_error_classes() -> list[type[AppError]]:
    seen: list[type[AppError]] = []
    stack: list[type[AppError]] = [AppError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen
