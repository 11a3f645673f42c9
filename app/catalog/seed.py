"""Demo data: the banks that work in Zhumadian's counties, a bank_admin for each, and published products.

Idempotent: banks are looked up by their unified social credit code, users by username, products by
(bank, external id). The codes are generated with a valid GB 32100 check character (not the banks' real codes).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import User
from app.auth.users import create_platform_user
from app.banks.models import Bank, BankCounty
from app.catalog import compliance, product
from app.catalog.models import Product, ProductStatus
from app.catalog.schemas import ProductCreate
from app.core.db import utcnow
from app.core.identity import uscc_check_char

DEMO_PASSWORD = "Puhuitong-Bank-2026"
ALL = ["411702", "411721", "411722", "411723", "411724", "411725", "411726", "411727", "411728", "411729", "411771"]
_USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# short name, full name, head-office region, counties served, contact phone
BANKS: list[tuple[str, str, str, list[str], str]] = [
    ("abc", "中国农业银行驻马店分行", "411702", ALL, "95599"),
    ("psbc", "中国邮政储蓄银行驻马店市分行", "411702", ALL, "95580"),
    ("zmdrcb", "驻马店农村商业银行", "411702", ["411702", "411771"], "0396-2619999"),
    ("qsrcb", "确山农商银行", "411725", ["411725"], "0396-7022266"),
    ("byrcb", "泌阳农商银行", "411726", ["411726"], "0396-7922801"),
    ("zybank", "中原银行驻马店分行", "411702", ALL, "95186"),
    ("scrcu", "河南省农村信用社上蔡县联社", "411722", ["411722"], "96288"),
]


async def demo_bank_id(session: AsyncSession, short: str) -> uuid.UUID | None:
    """The id of a demo bank by its short name (None before `seed_catalog` made it)."""
    return await session.scalar(select(Bank.id).where(Bank.unified_social_credit_code == demo_uscc(short)))


def demo_uscc(short: str) -> str:
    digest = hashlib.sha256(f"puhuitong-demo-{short}".encode()).digest()
    body = "914117" + "".join(_USCC[b % 31] for b in digest[:11])
    return body + uscc_check_char(body)


def _p(
    ext: str,
    name: str,
    kind: str,
    description: str,
    amount: tuple[int, int],
    term: tuple[int, int],
    rate: tuple[int, int],
    **kw: Any,
) -> dict[str, Any]:
    return {
        "external_id": ext,
        "name": name,
        "kind": kind,
        "description": description,
        "min_amount_fen": amount[0] * 100,
        "max_amount_fen": amount[1] * 100,
        "min_term_months": term[0],
        "max_term_months": term[1],
        "min_annual_rate_bp": rate[0],
        "max_annual_rate_bp": rate[1],
        **kw,
    }


NO_COLLATERAL: dict[str, Any] = {"collateral_types": [], "guarantee_required": False}
PRODUCTS: dict[str, list[dict[str, Any]]] = {
    "abc": [
        _p(
            "demo-abc-cert",
            "惠农e贷·普惠授信证贷款",
            "certificate_loan",
            "持普惠金融授信证即可申请，一次核定、随贷随用、循环使用，无需抵押担保。",
            (3000, 50000),
            (1, 36),
            (435, 675),
            repayment_methods=["interest_first", "lump_sum"],
            targets=["farmer", "registered_poor"],
            required_documents=["身份证", "普惠金融授信证"],
            star_discounts_bp={"3": 10, "4": 25, "5": 50},  # 守信激励
            **NO_COLLATERAL,
        ),
        _p(
            "demo-abc-machinery",
            "农机具抵押贷款",
            "machinery_mortgage",
            "以拖拉机、联合收割机等大型农机具抵押，支持种植大户和农机合作社购置、更新农机。",
            (50000, 1000000),
            (6, 36),
            (450, 750),
            repayment_methods=["equal_installment", "equal_principal"],
            collateral_types=["machinery"],
            targets=["farmer", "new_agri_entity"],
            required_documents=["身份证", "农机购置发票", "农机行驶证"],
        ),
        _p(
            "demo-abc-warehouse",
            "粮食仓单质押贷款",
            "warehouse_receipt_pledge",
            "小麦、玉米、芝麻入库后凭标准仓单质押融资，解决收购季流动资金需求。",
            (100000, 5000000),
            (3, 12),
            (430, 650),
            repayment_methods=["lump_sum", "interest_first"],
            collateral_types=["warehouse_receipt"],
            targets=["new_agri_entity", "small_business"],
            required_documents=["营业执照", "仓单"],
        ),
    ],
    "psbc": [
        _p(
            "demo-psbc-poverty",
            "扶贫小额信贷",
            "poverty_microcredit",
            "面向建档立卡贫困户（含已脱贫户），5 万元以下、3 年以内、免抵押免担保，财政贴息，可续贷展期。",
            (5000, 50000),
            (1, 36),
            (435, 435),
            repayment_methods=["interest_first", "lump_sum"],
            targets=["registered_poor"],
            required_documents=["身份证", "户口簿"],
            **NO_COLLATERAL,
        ),
        _p(
            "demo-psbc-farm",
            "家庭农场贷",
            "credit_loan",
            "面向家庭农场、种养大户的信用贷款，依据信用评级核定额度，手机银行线上支用。",
            (10000, 300000),
            (1, 36),
            (500, 800),
            repayment_methods=["equal_installment", "interest_first"],
            targets=["new_agri_entity"],
            required_documents=["身份证", "土地流转合同"],
            **NO_COLLATERAL,
        ),
        _p(
            "demo-psbc-sme",
            "小微易贷",
            "sme_loan",
            "面向纳入名录库的小微企业，依据纳税和结算记录线上审批，随借随还。",
            (100000, 3000000),
            (3, 12),
            (385, 600),
            repayment_methods=["interest_first"],
            targets=["small_business"],
            required_documents=["营业执照", "纳税证明"],
            **NO_COLLATERAL,
        ),
    ],
    "zmdrcb": [
        _p(
            "demo-zmdrcb-cert",
            "金燕普惠授信贷",
            "certificate_loan",
            "驿城区信用户凭授信证申请，红本最高 5 万元，利率最低 4.35%，免抵押免担保。",
            (10000, 50000),
            (1, 36),
            (435, 600),
            repayment_methods=["interest_first"],
            targets=["farmer"],
            required_documents=["身份证", "普惠金融授信证"],
            star_discounts_bp={"4": 20, "5": 40},  # 守信激励
            **NO_COLLATERAL,
        ),
        _p(
            "demo-zmdrcb-livestock",
            "活体畜禽抵押贷",
            "livestock_mortgage",
            "以存栏生猪、肉牛、羊等活体畜禽抵押，配合养殖保险，支持养殖户扩栏。",
            (50000, 500000),
            (6, 24),
            (520, 800),
            repayment_methods=["equal_installment"],
            collateral_types=["livestock", "insurance_policy"],
            targets=["farmer", "new_agri_entity"],
            required_documents=["身份证", "动物防疫合格证", "养殖保险单"],
        ),
    ],
    "qsrcb": [
        _p(
            "demo-qsrcb-cert",
            "确山普惠授信证贷款",
            "certificate_loan",
            "确山做法：整村授信、信用户凭证贷款，一次核定、随贷随用。",
            (10000, 50000),
            (1, 36),
            (435, 675),
            repayment_methods=["interest_first", "lump_sum"],
            targets=["farmer", "registered_poor"],
            required_documents=["身份证", "普惠金融授信证"],
            star_discounts_bp={"3": 15, "4": 30, "5": 60},  # 守信激励
            **NO_COLLATERAL,
        ),
        _p(
            "demo-qsrcb-insurance",
            "农业保险保单融资",
            "insurance_policy_loan",
            "以政策性种植、养殖保险保单质押融资，灾后理赔优先还款。",
            (20000, 300000),
            (3, 12),
            (480, 700),
            repayment_methods=["lump_sum"],
            collateral_types=["insurance_policy"],
            targets=["farmer", "new_agri_entity"],
            required_documents=["身份证", "农业保险保单"],
        ),
    ],
    "byrcb": [
        _p(
            "demo-byrcb-cattle",
            "夏南牛活体抵押贷",
            "livestock_mortgage",
            "泌阳县夏南牛养殖户以存栏肉牛抵押，电子耳标监管，最长两年。",
            (50000, 800000),
            (6, 24),
            (500, 780),
            repayment_methods=["equal_installment", "interest_first"],
            collateral_types=["livestock"],
            targets=["farmer", "new_agri_entity"],
            required_documents=["身份证", "牛只耳标登记"],
        ),
    ],
    "zybank": [
        _p(
            "demo-zybank-credit",
            "惠农信用贷",
            "credit_loan",
            "依据普惠授信评级核定，线上申请、线上支用，适合种植、养殖、农村商贸。",
            (10000, 200000),
            (1, 36),
            (480, 780),
            repayment_methods=["equal_installment", "interest_first"],
            targets=["farmer", "new_agri_entity"],
            required_documents=["身份证"],
            **NO_COLLATERAL,
        ),
        _p(
            "demo-zybank-enterprise",
            "带贫企业贷",
            "poverty_enterprise_loan",
            "面向吸纳贫困户就业或带动贫困户增收的企业，财政风险补偿金增信。",
            (500000, 10000000),
            (6, 36),
            (400, 600),
            repayment_methods=["equal_principal", "interest_first"],
            collateral_types=["workshop"],
            guarantee_required=True,
            targets=["small_business"],
            required_documents=["营业执照", "带贫协议"],
        ),
        _p(
            "demo-zybank-receivables",
            "应收账款质押贷",
            "receivables_pledge",
            "农产品加工企业以对大型商超、粮库的应收账款质押融资。",
            (200000, 5000000),
            (3, 12),
            (420, 650),
            repayment_methods=["lump_sum"],
            collateral_types=["receivables"],
            targets=["small_business"],
            required_documents=["营业执照", "购销合同", "应收账款凭证"],
        ),
    ],
    "scrcu": [
        _p(
            "demo-scrcu-poverty",
            "上蔡扶贫小额信贷",
            "poverty_microcredit",
            "上蔡县建档立卡贫困户 5 万元以下、3 年以内免抵押免担保贷款，基准利率，财政全额贴息。",
            (10000, 50000),
            (12, 36),
            (435, 435),
            repayment_methods=["interest_first"],
            targets=["registered_poor"],
            required_documents=["身份证", "户口簿"],
            **NO_COLLATERAL,
        ),
    ],
}


async def _bank(session: AsyncSession, short: str, name: str, region: str, counties: list[str], phone: str) -> Bank:
    code = demo_uscc(short)
    bank = (await session.execute(select(Bank).where(Bank.unified_social_credit_code == code))).scalar_one_or_none()
    if bank is None:
        bank = Bank(name=name, unified_social_credit_code=code, region_code=region, contact_phone=phone)
        session.add(bank)
        await session.flush()
        session.add_all([BankCounty(bank_id=bank.id, county_code=c) for c in counties])
        await session.flush()
    username = f"{short}-admin"
    if (await session.execute(select(User.id).where(User.username == username))).first() is None:
        await create_platform_user(
            session, role="bank_admin", username=username, password=DEMO_PASSWORD, bank_id=bank.id
        )
    return bank


async def seed_catalog(session: AsyncSession) -> None:
    rules = await compliance.load_rules(session)
    for short, name, region, counties, phone in BANKS:
        bank = await _bank(session, short, name, region, counties, phone)
        for raw in PRODUCTS.get(short, []):
            ext = raw["external_id"]
            found = await session.execute(
                select(Product.id).where(Product.bank_id == bank.id, Product.external_id == ext)
            )
            if found.first() is not None:
                continue
            content = ProductCreate.model_validate(
                {**{k: v for k, v in raw.items() if k != "external_id"}, "county_codes": counties[:20]}
            ).content()
            compliance.enforce(content, rules)
            p = product.new_product(bank.id, ext)
            product.apply_content(p, content)
            p.status = ProductStatus.published
            p.published_at = utcnow()
            session.add(p)
            await session.flush()
            await product.sync_counties(session, [p])
            await product.sync_terms(session, p)
            session.add(product.review(p, "approved"))
    await session.flush()
