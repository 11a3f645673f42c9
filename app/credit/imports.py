"""`POST /admin/ratings/import`: up to 50,000 rows, idempotent by resident ID, a report row by row. A household
without an account links by itself to the farmer account that gave its resident ID and name (an unrated
household that posted demands before it was rated: `app.credit.linking.link_waiting_accounts`).

Fast by construction: one query for the villages, one per 1,000 rows to find existing households by keyed hash,
bulk inserts and updates in chunks, and the shared `_after_rating` for history, counters and certificates.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.core import audit, crypto
from app.core.audit import Actor
from app.core.db import utcnow
from app.core.errors import ValidationFailed, field_error
from app.core.identity import normalize_mobile, normalize_resident_id
from app.credit import linking, rating
from app.credit.models import Household
from app.credit.ratings import (
    CHUNK,
    Change,
    RatingState,
    _after_rating,
    check_codes,
    compute,
    factor_catalogue,
    household_values,
    state_of,
)
from app.credit.schemas import ImportResult, ImportRow
from app.notifications import service as notifications
from app.regions.models import Region

MAX_ROWS = 50_000
TRUE = {"true", "1", "yes", "y", "是", "t"}
FALSE = {"false", "0", "no", "n", "否", "f", ""}


def parse_body(raw: bytes, content_type: str) -> list[dict[str, Any]]:
    """CSV (`text/csv`) or JSON `{"rows": [...]}` → raw row dicts; shape errors are 422 for the whole body."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(errors=[field_error("body", "encoding", "须为 UTF-8 编码")]) from exc
    if content_type.startswith("text/csv"):
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        if not reader.fieldnames or "id_number" not in [f.strip() for f in reader.fieldnames]:
            raise ValidationFailed(errors=[field_error("body", "csv_header", "CSV 须含表头（id_number 等列）")])
        rows: list[dict[str, Any]] = [
            {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in reader
        ]
    else:
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise ValidationFailed(errors=[field_error("body", "json_invalid", "JSON 格式错误")]) from exc
        if not isinstance(body, dict) or set(body) != {"rows"} or not isinstance(body["rows"], list):
            raise ValidationFailed(errors=[field_error("rows", "required", '须为 {"rows": [...]}')])
        rows = body["rows"]
    if len(rows) > MAX_ROWS:
        raise ValidationFailed(errors=[field_error("rows", "too_many", f"每次最多导入 {MAX_ROWS} 行")])
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
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    return None


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


async def import_rows(
    session: AsyncSession, rows: list[dict[str, Any]], *, actor: Actor, region_code: str | None
) -> ImportResult:
    catalogue = await factor_catalogue(session)
    places = set(
        (await session.execute(select(Region.code).where(col(Region.level).in_(("village", "community"))))).scalars()
    )
    scope = None if region_code in (None, "", "4117", "41") else region_code
    report: list[ImportRow] = []
    good: list[tuple[int, str, dict[str, Any]]] = []  # (index in report, hash, parsed values)
    seen: set[str] = set()
    for line, raw in enumerate(rows, start=1):
        errs: list[dict[str, str]] = []
        if not isinstance(raw, dict):
            report.append(ImportRow(line=line, ok=False, errors=[field_error("row", "invalid", "行格式错误")]))
            continue
        id_number = normalize_resident_id(_str(raw.get("id_number")))
        if id_number is None:
            errs.append(field_error("id_number", "id_number_invalid", "身份证号无效（位数、出生日期或校验位）"))
        name = _str(raw.get("real_name"))
        if not name or len(name) > 64:
            errs.append(field_error("real_name", "required", "姓名不能为空且不超过 64 字"))
        phone_raw = _str(raw.get("phone"))
        phone = normalize_mobile(phone_raw) if phone_raw else None
        if phone_raw and phone is None:
            errs.append(field_error("phone", "phone_invalid", "手机号无效"))
        village = _str(raw.get("village_code"))
        if village not in places:
            errs.append(field_error("village_code", "village_unknown", "村（社区）代码不存在"))
        elif scope is not None and not village.startswith(scope):
            errs.append(field_error("village_code", "out_of_region", "不在您的管辖区域内"))
        scores = {}
        for key in ("provincial_score", "village_score"):
            scores[key] = rating.parse_score(raw.get(key))
            if scores[key] is None:
                errs.append(field_error(key, "score_invalid", "评分须为 0–100，最多两位小数"))
        factor_lists: dict[str, list[str] | None] = {}
        for key, kind in (("vetoes", "veto"), ("positives", "positive"), ("negatives", "negative")):
            if key not in raw and key != "vetoes":
                factor_lists[key] = None  # not given: keep what the household has
                continue
            codes = _codes(raw.get(key))
            if codes is None:
                errs.append(field_error(key, "invalid", "须为代码列表或以 ; 分隔"))
                continue
            errs += check_codes(catalogue, kind, codes, key)
            factor_lists[key] = codes
        poor = _bool(raw.get("is_registered_poor"))
        if poor is None:
            errs.append(field_error("is_registered_poor", "invalid", "须为 true 或 false"))
        id_hash = crypto.index_hash(id_number, "resident_id") if id_number else ""
        if id_number and id_hash in seen:
            errs.append(field_error("id_number", "duplicate", "同一文件中身份证号重复"))
        if errs:
            report.append(ImportRow(line=line, ok=False, errors=errs))
            continue
        seen.add(id_hash)
        report.append(ImportRow(line=line, ok=True))
        assert id_number is not None
        good.append(
            (
                len(report) - 1,
                id_hash,
                {
                    "id_number": id_number,
                    "real_name": name,
                    "phone": phone,
                    "village_code": village,
                    "provincial": scores["provincial_score"],
                    "village": scores["village_score"],
                    "vetoes": factor_lists["vetoes"] or [],
                    "positives": factor_lists.get("positives"),
                    "negatives": factor_lists.get("negatives"),
                    "poor": bool(poor),
                },
            )
        )

    existing: dict[str, Household] = {}
    hashes = [h for _, h, _ in good]
    for i in range(0, len(hashes), CHUNK):
        found = (
            (await session.execute(select(Household).where(col(Household.id_number_hash).in_(hashes[i : i + CHUNK]))))
            .scalars()
            .all()
        )
        existing.update({h.id_number_hash: h for h in found})

    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changes: list[Change] = []
    created = updated = 0
    for idx, id_hash, v in good:
        old_h = existing.get(id_hash)
        if old_h is not None and scope is not None and not old_h.village_code.startswith(scope):
            # A household elsewhere is not this regulator's to touch; say no more than for an unknown village.
            report[idx] = ImportRow(
                line=report[idx].line,
                ok=False,
                errors=[field_error("id_number", "out_of_region", "该农户不在您的管辖区域内")],
            )
            continue
        old = state_of(old_h) if old_h is not None else None
        positives = v["positives"] if v["positives"] is not None else (old.positives if old else [])
        negatives = v["negatives"] if v["negatives"] is not None else (old.negatives if old else [])
        new: RatingState = compute(
            v["village_code"], v["provincial"], v["village"], positives, negatives, v["vetoes"], v["poor"]
        )
        if old_h is None:
            hid = uuid.uuid4()
            inserts.append(
                {
                    "id": hid,
                    "id_number_enc": crypto.encrypt(v["id_number"], "resident_id"),
                    "id_number_hash": id_hash,
                    "real_name": v["real_name"],
                    "phone": v["phone"],
                    "user_id": None,
                    "created_at": now,
                    **household_values(new, now),
                }
            )
            changes.append(Change(hid, None, None, new))
            created += 1
            continue
        updated += 1
        personal_same = old_h.real_name == v["real_name"] and (v["phone"] is None or old_h.phone == v["phone"])
        if new == old and personal_same:
            continue
        row = {
            "id": old_h.id,
            "real_name": v["real_name"],
            "phone": v["phone"] or old_h.phone,
            **household_values(new, now),
        }
        if new == old:
            row["rated_at"] = old_h.rated_at
        updates.append(row)
        if new != old:
            changes.append(Change(old_h.id, old_h.user_id, old, new))

    for i in range(0, len(inserts), CHUNK):
        await session.execute(insert(Household), inserts[i : i + CHUNK])
    for i in range(0, len(updates), CHUNK):
        await session.execute(update(Household), updates[i : i + CHUNK])
    await _after_rating(session, changes, actor=actor, source="import", reason="rating:import")
    linked = await linking.link_waiting_accounts(session, hashes)
    for user_id, h in linked:
        await notifications.notify(
            session,
            user_id=user_id,
            kind="household.linked",
            title="已自动关联您的农户信用档案",
            body=(
                "您填写的真实姓名和身份证号与新导入的农户信用档案一致，账号已自动关联。"
                f"现在可以在“我的信用”中查看评级（{h.stars}星）和授信；您发布的融资需求也已显示评级。"
            ),
            data={"household_id": str(h.id)},
        )
    rejected = sum(1 for r in report if not r.ok)
    await audit.record(
        session,
        action="ratings.import",
        object_type="households",
        object_id="import",
        after={
            "created": created,
            "updated": updated,
            "rejected": rejected,
            "rating_changes": len(changes),
            "accounts_linked": len(linked),
        },
    )
    return ImportResult(created=created, updated=updated, rejected=rejected, rows=report)


def _values(s: RatingState, now: Any) -> dict[str, Any]:
    from app.credit.ratings import household_values

    return household_values(s, now)
