"""Words a farmer understands (issue 14 item 9): every validation message in plain Chinese with its limit in the
user's units — money in yuan, rates in percent, terms in months — and English with `Accept-Language: en`."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from app.core.messages import amount_text, label_of, status_zh, validation_message
from tests.factories import Factory

DEMAND = {"amount_fen": 3_000_000, "term_months": 12, "purpose": "planting", "description": "", "collateral_types": []}
DRAWDOWN = {"amount_fen": 100_000, "term_months": 12, "purpose": "planting"}
PRODUCT = {
    "name": "农机贷",
    "kind": "machinery_mortgage",
    "min_amount_fen": 1_000_000,
    "max_amount_fen": 50_000_000,
    "min_term_months": 6,
    "max_term_months": 36,
    "min_annual_rate_bp": 450,
    "max_annual_rate_bp": 800,
    "county_codes": ["411725"],
}

CASES: list[tuple[str, str, dict[str, Any], str, str]] = [
    # (who, path, body change, field, message)
    ("farmer", "/me/demands", {"amount_fen": 99_999}, "amount_fen", "金额不能少于1,000元"),
    ("farmer", "/me/demands", {"amount_fen": 1_000_000_001}, "amount_fen", "金额不能超过10,000,000元"),
    ("farmer", "/me/demands", {"amount_fen": "三万"}, "amount_fen", "金额须为整数"),
    ("farmer", "/me/demands", {"term_months": 0}, "term_months", "期限不能少于1个月"),
    ("farmer", "/me/demands", {"term_months": 121}, "term_months", "期限不能超过120个月"),
    ("farmer", "/me/demands", {"description": "长" * 501}, "description", "说明不能超过500个字"),
    ("farmer", "/me/demands", {"purpose": None}, "purpose", "请填写用途"),
    ("farmer", "/me/demands", {"purpose": "gold"}, "purpose", "用途的取值不在允许范围内（可选：planting, livestock, farm_machinery, processing, commerce, housing, education, medical, other）"),
    ("farmer", "/me/demands", {"role": "admin"}, "role", "不能提交“role”这一项"),
    ("farmer", "/me/drawdowns", {"amount_fen": 0}, "amount_fen", "金额须大于0元"),
    ("bank", "/bank/products", {"name": "农"}, "name", "名称至少2个字"),
    ("bank", "/bank/products", {"max_annual_rate_bp": 10_001}, "max_annual_rate_bp", "最高年利率不能超过100%"),
    ("bank", "/bank/products", {"min_amount_fen": -1}, "min_amount_fen", "最低金额不能少于0元"),
    ("bank", "/bank/products", {"max_term_months": 361}, "max_term_months", "最长期限不能超过360个月"),
    ("bank", "/bank/products", {"county_codes": []}, "county_codes", "服务县区至少选1项"),
    ("bank", "/bank/products", {"county_codes": ["4117"]}, "county_codes.0", "服务县区格式不正确"),
    ("bank", "/bank/products", {"required_documents": ["证" * 65]}, "required_documents.0", "所需材料不能超过64个字"),
    ("bank", "/bank/products", {"valid_from": "明天"}, "valid_from", "生效日期须为日期（如 2026-11-26）"),
    ("bank", "/bank/products", {"guarantee_required": "也许"}, "guarantee_required", "是否需要担保须为 true 或 false"),
]  # fmt: skip


@pytest.fixture
async def callers(factory: Factory) -> dict[str, dict[str, str]]:
    farmer = factory.headers(await factory.user("farmer"))
    await factory.step_up(farmer)
    bank = await factory.bank(["411725"])
    return {"farmer": farmer, "bank": factory.headers(await factory.user("bank_admin", bank_id=bank.id))}


@pytest.mark.parametrize(("who", "path", "change", "field", "message"), CASES)
async def test_bad_input_in_plain_words(
    client: httpx.AsyncClient,
    callers: dict[str, dict[str, str]],
    who: str,
    path: str,
    change: dict[str, Any],
    field: str,
    message: str,
) -> None:
    base = {"/bank/products": PRODUCT, "/me/demands": DEMAND}.get(path, DRAWDOWN)
    body = {**base, **change}
    body = {k: v for k, v in body.items() if v is not None}
    headers = {**callers[who], "Idempotency-Key": uuid.uuid4().hex}
    r = await client.post(path, json=body, headers=headers)
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert errors == {field: message}


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"limit": 101}, "limit", "每页条数不能超过100条"),
        ({"limit": 0}, "limit", "每页条数不能少于1条"),
        ({"amount_fen": -5}, "amount_fen", "金额不能少于0元"),
        ({"kind": "gold"}, "kind", "产品类型的取值不在允许范围内（可选：certificate_loan, poverty_microcredit, credit_loan, machinery_mortgage, livestock_mortgage, warehouse_receipt_pledge, receivables_pledge, insurance_policy_loan, sme_loan, poverty_enterprise_loan）"),
    ],
)  # fmt: skip
async def test_bad_queries_in_plain_words(
    client: httpx.AsyncClient, params: dict[str, Any], field: str, message: str
) -> None:
    r = await client.get("/products", params=params)
    assert r.status_code == 422
    assert {e["field"]: e["message"] for e in r.json()["errors"]} == {field: message}


async def test_stations_radius_in_kilometres(client: httpx.AsyncClient) -> None:
    r = await client.get("/stations", params={"lat": 32.8, "lng": 114.0, "radius_km": 51})
    assert r.status_code == 422
    assert {e["field"]: e["message"] for e in r.json()["errors"]} == {"radius_km": "搜索半径不能超过50公里"}


async def test_english_keeps_english(client: httpx.AsyncClient, callers: dict[str, dict[str, str]]) -> None:
    r = await client.post(
        "/me/demands", json={**DEMAND, "amount_fen": 99_999}, headers={**callers["farmer"], "Accept-Language": "en"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["message"] == "Input should be greater than or equal to 100000"


async def test_no_machine_words_reach_a_chinese_answer(
    client: httpx.AsyncClient, callers: dict[str, dict[str, str]]
) -> None:
    bad = {k: ("x" * 3000 if isinstance(v, str) else -1 if isinstance(v, int) else "x") for k, v in PRODUCT.items()}
    r = await client.post("/bank/products", json={**bad, "extra": 1}, headers=callers["bank"])
    assert r.status_code == 422
    for e in r.json()["errors"]:
        for word in ("ge=", "le=", "max_length", "min_length", "Input should", "分"):
            assert word not in e["message"], e


def test_units_and_labels() -> None:
    assert amount_text(100_000, "fen") == "1,000元"
    assert amount_text(123_456, "fen") == "1,234.56元"
    assert amount_text(675, "bp") == "6.75%"
    assert amount_text(50, "pp") == "0.5个百分点"
    assert amount_text(36.0, "months") == "36个月"
    assert label_of(("body", "items", 3, "max_amount_fen")) == ("最高金额", "fen")
    assert label_of(("body", "star_discounts_bp", "5")) == ("5星优惠", "pp")
    assert label_of(("body", "no_such_field")) == ("该项", "")
    # our own ValueErrors are already written for people: kept as they are
    assert (
        validation_message({"type": "value_error", "loc": ("body",), "msg": "Value error, 利率上限不能小于下限"})
        is None
    )


def test_status_words() -> None:
    assert status_zh("drawdown", "approved") == "已批准"
    assert status_zh("demand", "accepted") == "已接受报价"
    assert status_zh("offer", "declined") == "已婉拒"
    assert status_zh("product", "pending_review") == "待审核"
    assert status_zh("certificate", "frozen") == "已冻结"
    assert status_zh("drawdown", "mystery") == "mystery"
