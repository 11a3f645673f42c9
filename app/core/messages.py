"""Words a farmer understands: validation messages in plain Chinese with limits in the user's units (money in
yuan, rates in percent, terms in months), and one Chinese name per status of each domain's vocabulary.

`validation_message` turns one pydantic error into a sentence ("金额不能少于1,000元", never `ge=100000`);
`app.core.problems` calls it for every Chinese validation answer. English answers keep pydantic's text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.core.money import percent_text, yuan_text

# What each field is called on the app's screens (the last named part of an error's location).
LABELS: dict[str, str] = {
    "amount_fen": "金额",
    "min_amount_fen": "最低金额",
    "max_amount_fen": "最高金额",
    "term_months": "期限",
    "min_term_months": "最短期限",
    "max_term_months": "最长期限",
    "months": "展期期限",
    "annual_rate_bp": "年利率",
    "min_annual_rate_bp": "最低年利率",
    "max_annual_rate_bp": "最高年利率",
    "star_discounts_bp": "守信激励优惠",
    "description": "说明",
    "name": "名称",
    "real_name": "姓名",
    "phone": "手机号",
    "new_phone": "新手机号",
    "contact_phone": "联系电话",
    "id_number": "身份证号",
    "village_code": "村",
    "county_code": "县区",
    "county_codes": "服务县区",
    "township_code": "乡镇",
    "region_code": "行政区划",
    "region": "行政区划",
    "parent": "上级行政区划",
    "purpose": "用途",
    "collateral_types": "抵质押物",
    "collateral_free": "是否免抵押",
    "repayment_methods": "还款方式",
    "repayment_method": "还款方式",
    "targets": "服务对象",
    "target": "服务对象",
    "kind": "产品类型",
    "required_documents": "所需材料",
    "valid_from": "生效日期",
    "valid_until": "截止日期",
    "note": "备注",
    "reason": "原因",
    "resolution": "处理结果",
    "outcome": "处理结论",
    "address": "地址",
    "manager_name": "负责人",
    "opening_hours": "服务时间",
    "functions": "服务功能",
    "lat": "纬度",
    "lng": "经度",
    "radius_km": "搜索半径",
    "username": "用户名",
    "password": "密码",
    "code": "验证码",
    "refresh_token": "刷新令牌",
    "unified_social_credit_code": "统一社会信用代码",
    "url": "网址",
    "logo_url": "标志图片网址",
    "events": "事件类型",
    "scopes": "权限范围",
    "items": "上传条目",
    "limit": "每页条数",
    "cursor": "翻页位置",
    "q": "关键词",
    "sort": "排序方式",
    "provincial_score": "省农户信用信息系统评分",
    "village_score": "村评定小组评分",
    "positives": "加分项",
    "negatives": "减分项",
    "vetoes": "一票否决项",
    "paid_on": "还款日",
    "disbursed_on": "放款日",
    "product_id": "产品",
    "lead_bank_id": "主办银行",
    "host_bank_id": "主办银行",
    "bank_id": "银行",
    "household_type": "经营主体类型",
    "min_stars": "最低星级",
    "guarantee_required": "是否需要担保",
    "external_id": "外部编号",
    "ids": "通知",
    "role": "角色",
    "status": "状态",
    "since": "开始时间",
    "until": "结束时间",
    "file": "文件",
    "enabled": "是否启用",
    "is_active": "是否启用",
    "is_registered_poor": "是否建档立卡贫困户",
    "for_me": "for_me",
}

# The unit a number in a field is counted in, by the field's name.
_UNIT_SUFFIXES = (("_fen", "fen"), ("_bp", "bp"), ("_months", "months"), ("_days", "days"), ("_km", "km"))
_UNIT_NAMES = {"months": "months", "limit": "count", "provincial_score": "score", "village_score": "score"}


def label_of(loc: tuple[Any, ...]) -> tuple[str, str]:
    """(label, unit) of the field an error's location points at."""
    parts = [p for p in loc if isinstance(p, str) and p not in ("body", "query", "path", "header", "[key]")]
    if not parts:
        return "请求内容", ""
    last = parts[-1]
    if len(parts) >= 2 and parts[-2] == "star_discounts_bp":
        return f"{last}星优惠", "pp"
    label = LABELS.get(last, "该项")
    unit = _UNIT_NAMES.get(last, "")
    for suffix, u in _UNIT_SUFFIXES:
        if last.endswith(suffix):
            unit = u
    return label, unit


def _number(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, Decimal) and v == v.to_integral_value():
        return int(v)
    return v


def amount_text(v: Any, unit: str) -> str:
    """A limit in the field's own unit: 100000 fen → "1,000元", 675 bp → "6.75%", 36 months → "36个月"."""
    n = _number(v)
    if isinstance(n, int):
        if unit == "fen":
            return f"{yuan_text(n)}元"
        if unit == "bp":
            return f"{percent_text(n)}%"
        if unit == "pp":  # a rate difference: percentage points
            return f"{percent_text(n)}个百分点"
    if unit == "months":
        return f"{n}个月"
    if unit == "days":
        return f"{n}天"
    if unit == "km":
        return f"{n}公里"
    if unit == "count":
        return f"{n}条"
    if unit == "score":
        return f"{n}分"
    return str(n)


def _choices(ctx: dict[str, Any]) -> str:
    expected = str(ctx.get("expected", "")).replace("'", "")
    return f"（可选：{expected.replace(' or ', ', ')}）" if expected else ""


def validation_message(error: dict[str, Any]) -> str | None:
    """The Chinese sentence for one pydantic error, or None to keep the message as it is (our own
    `ValueError`s are already written for people)."""
    typ = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    loc = tuple(error.get("loc", ()))
    label, unit = label_of(loc)
    lower = "低于" if unit == "bp" else "少于" if unit in ("fen", "pp", "months", "days", "count") else "小于"
    if typ == "missing":
        return f"请填写{label}"
    if typ == "extra_forbidden":
        name = next((p for p in reversed(loc) if isinstance(p, str)), "")
        return f"不能提交“{name}”这一项"
    if typ == "greater_than_equal":
        return f"{label}不能{lower}{amount_text(ctx.get('ge'), unit)}"
    if typ == "greater_than":
        return f"{label}须大于{amount_text(ctx.get('gt'), unit)}"
    if typ == "less_than_equal":
        return f"{label}不能超过{amount_text(ctx.get('le'), unit)}"
    if typ == "less_than":
        return f"{label}须小于{amount_text(ctx.get('lt'), unit)}"
    if typ == "string_too_short":
        n = ctx.get("min_length", 1)
        return f"请填写{label}" if n == 1 else f"{label}至少{n}个字"
    if typ == "string_too_long":
        return f"{label}不能超过{ctx.get('max_length')}个字"
    if typ == "too_short":
        return f"{label}至少选{ctx.get('min_length')}项"
    if typ == "too_long":
        return f"{label}最多{ctx.get('max_length')}项"
    if typ == "string_pattern_mismatch":
        return f"{label}格式不正确"
    if typ in ("int_type", "int_parsing", "int_from_float"):
        return f"{label}须为整数"
    if typ in ("float_type", "float_parsing", "decimal_type", "decimal_parsing", "finite_number"):
        return f"{label}须为数字"
    if typ == "decimal_max_places":
        return f"{label}最多保留{ctx.get('decimal_places')}位小数"
    if typ in ("decimal_max_digits", "decimal_whole_digits"):
        return f"{label}的位数过多"
    if typ in ("bool_type", "bool_parsing"):
        return f"{label}须为 true 或 false"
    if typ == "string_type":
        return f"{label}须为文字"
    if typ in ("list_type", "set_type"):
        return f"{label}须为列表"
    if typ in ("dict_type", "model_type", "model_attributes_type"):
        return f"{label}须为对象"
    if typ in ("enum", "literal_error"):
        return f"{label}的取值不在允许范围内{_choices(ctx)}"
    if typ in ("date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"):
        return f"{label}须为日期（如 2026-11-26）"
    if typ in ("datetime_type", "datetime_parsing", "datetime_from_date_parsing"):
        return f"{label}须为时间（如 2026-11-26T02:18:40Z）"
    if typ in ("uuid_type", "uuid_parsing"):
        return f"{label}须为有效的编号"
    if typ in ("url_parsing", "url_type"):
        return f"{label}须为有效的网址"
    if typ == "url_scheme":
        return f"{label}的协议不被允许"
    if typ in ("json_invalid", "json_type"):
        return "请求内容不是有效的 JSON"
    return None


# ---- statuses in words --------------------------------------------------------------------------------------

STATUS_ZH: dict[str, dict[str, str]] = {
    "drawdown": {
        "submitted": "已提交",
        "approved": "已批准",
        "disbursed": "已放款",
        "overdue": "已逾期",
        "repaid": "已结清",
        "written_off": "已核销",
        "rejected": "已拒绝",
        "cancelled": "已取消",
        "expired": "已过期",
    },
    "demand": {"open": "征集中", "accepted": "已接受报价", "withdrawn": "已撤回", "expired": "已过期"},
    "offer": {
        "pending": "待答复",
        "accepted": "已接受",
        "declined": "已婉拒",
        "withdrawn": "已撤回",
        "closed": "已关闭",
    },
    "product": {
        "draft": "草稿",
        "pending_review": "待审核",
        "published": "已上架",
        "withdrawn": "已下架",
        "rejected": "审核未通过",
    },
    "certificate": {
        "issued": "未启用",
        "active": "已启用",
        "frozen": "已冻结",
        "revoked": "已撤销",
        "expired": "已过期",
    },
}


def status_zh(vocabulary: str, status: str) -> str:
    """ "approved" → "已批准" (an unknown status is shown as it is rather than hidden)."""
    return STATUS_ZH.get(vocabulary, {}).get(str(status), str(status))
