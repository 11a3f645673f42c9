"""The rows of `POST /admin/ratings/import`: the body parsed into raw rows, and each row validated and normalised
by its schema (`RatingRow.parse`) against what the import knows (`RowContext`: the factor catalogue, the
villages, the caller's region). Errors come field by field in a fixed order, with the codes and messages of
API.md; a rejected row never stops the others.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.core import crypto
from app.core.errors import ValidationFailed, field_error
from app.core.identity import normalize_mobile, normalize_resident_id
from app.credit import rating_engine
from app.credit.rating_updates import check_codes

MAX_ROWS = 50_000
TRUE = {"true", "1", "yes", "y", "是", "t"}
FALSE = {"false", "0", "no", "n", "否", "f", ""}
BOOLEANS = TRUE | FALSE
# (field, factor kind) in the order their errors are reported; vetoes are always replaced, the others only
# when the row names their column.
FACTOR_LISTS = (("vetoes", "veto"), ("positives", "positive"), ("negatives", "negative"))

Errors = list[dict[str, str]]


def parse_body(raw: bytes, content_type: str) -> list[dict[str, Any]]:
    """CSV (`text/csv`) or JSON `{"rows": [...]}` → raw row dicts; shape errors are 422 for the whole body."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(errors=[field_error("body", "encoding", "须为 UTF-8 编码")]) from exc
    rows = _csv_rows(text) if content_type.startswith("text/csv") else _json_rows(text)
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(errors=[field_error("rows", "too_many", f"每次最多导入 {MAX_ROWS} 行")])
    return rows


def _csv_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or "id_number" not in [f.strip() for f in reader.fieldnames]:
        raise ValidationFailed(errors=[field_error("body", "csv_header", "CSV 须含表头（id_number 等列）")])
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def _json_rows(text: str) -> list[Any]:
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ValidationFailed(errors=[field_error("body", "json_invalid", "JSON 格式错误")]) from exc
    if not isinstance(body, dict) or set(body) != {"rows"} or not isinstance(body["rows"], list):
        raise ValidationFailed(errors=[field_error("rows", "required", '须为 {"rows": [...]}')])
    rows: list[Any] = body["rows"]
    return rows


def _codes(value: Any) -> list[str] | None:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [c.strip() for c in value.split(";") if c.strip()]
    if isinstance(value, list) and all(isinstance(c, str) for c in value):
        return [c.strip() for c in value if c.strip()]
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str) and value.strip().lower() in BOOLEANS:
        return value.strip().lower() in TRUE
    return None


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


@dataclass(frozen=True)
class RowContext:
    """What a row is checked against: active factors (code → kind, label), village/community codes, and the
    caller's region prefix (None: the whole city)."""

    catalogue: dict[str, tuple[str, str]]
    places: set[str]
    scope: str | None
    seen: set[str] = field(default_factory=set)  # keyed hashes of the file's accepted rows so far


@dataclass(frozen=True)
class RatingRow:
    """One valid import row, normalised. `positives`/`negatives` None: the column was not given (keep what
    the household has)."""

    id_number: str
    id_hash: str
    real_name: str
    phone: str | None
    village_code: str
    provincial: Decimal
    village: Decimal
    vetoes: list[str]
    positives: list[str] | None
    negatives: list[str] | None
    poor: bool

    @classmethod
    def parse(cls, raw: Any, ctx: RowContext) -> RatingRow | Errors:
        """The row, or its errors in API.md's order; an accepted row's resident ID is then taken in this file."""
        if not isinstance(raw, dict):
            return [field_error("row", "invalid", "行格式错误")]
        errs: Errors = []
        values: dict[str, Any] = {}
        for check in _CHECKS:
            check(raw, ctx, values, errs)
        if errs:
            return errs
        ctx.seen.add(values["id_hash"])
        return cls(**values)


def _id_number(raw: dict[str, Any], ctx: RowContext, out: dict[str, Any], errs: Errors) -> None:
    id_number = normalize_resident_id(_str(raw.get("id_number")))
    if id_number is None:
        errs.append(field_error("id_number", "id_number_invalid", "身份证号无效（位数、出生日期或校验位）"))
        return
    out["id_number"], out["id_hash"] = id_number, crypto.index_hash(id_number, "resident_id")


def _real_name(raw: dict[str, Any], ctx: RowContext, out: dict[str, Any], errs: Errors) -> None:
    name = _str(raw.get("real_name"))
    if not name or len(name) > 64:
        errs.append(field_error("real_name", "required", "姓名不能为空且不超过 64 字"))
    out["real_name"] = name


def _phone(raw: dict[str, Any], ctx: RowContext, out: dict[str, Any], errs: Errors) -> None:
    phone_raw = _str(raw.get("phone"))
    phone = normalize_mobile(phone_raw) if phone_raw else None
    if phone_raw and phone is None:
        errs.append(field_error("phone", "phone_invalid", "手机号无效"))
    out["phone"] = phone


def _village_code(raw: dict[str, Any], ctx: RowContext, out: dict[str, Any], errs: Errors) -> None:
    village = _str(raw.get("village_code"))
    if village not in ctx.places:
        errs.append(field_error("village_code", "village_unknown", "村（社区）代码不存在"))
    elif ctx.scope is not None and not village.startswith(ctx.scope):
        errs.append(field_error("village_code", "out_of_region", "不在您的管辖区域内"))
    out["village_code"] = village


def _scores(raw: dict[str, Any], ctx: RowContext, out: dict[str, Any], errs: Errors) -> None:
    for key, name in (("provincial_score", "provincial"), ("village_score", "village")):
        out[name] = rating_engine.parse_score(raw.get(key))
        if out[name] is None:
            errs.append(field_error(key, "score_invalid", "评分须为 0–100，最多两位小数"))


def _factors(raw: dict[str, Any], ctx: RowContext, out: dict[str, Any], errs: Errors) -> None:
    for key, kind in FACTOR_LISTS:
        if key not in raw and key != "vetoes":
            out[key] = None  # not given: keep what the household has
            continue
        codes = _codes(raw.get(key))
        if codes is None:
            errs.append(field_error(key, "invalid", "须为代码列表或以 ; 分隔"))
            continue
        errs += check_codes(ctx.catalogue, kind, codes, key)
        out[key] = codes


def _poor(raw: dict[str, Any], ctx: RowContext, out: dict[str, Any], errs: Errors) -> None:
    poor = _bool(raw.get("is_registered_poor"))
    if poor is None:
        errs.append(field_error("is_registered_poor", "invalid", "须为 true 或 false"))
    out["poor"] = bool(poor)


def _duplicate(raw: dict[str, Any], ctx: RowContext, out: dict[str, Any], errs: Errors) -> None:
    if "id_hash" in out and out["id_hash"] in ctx.seen:
        errs.append(field_error("id_number", "duplicate", "同一文件中身份证号重复"))


_CHECKS: tuple[Callable[[dict[str, Any], RowContext, dict[str, Any], Errors], None], ...] = (
    _id_number,
    _real_name,
    _phone,
    _village_code,
    _scores,
    _factors,
    _poor,
    _duplicate,
)
