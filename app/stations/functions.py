"""The "4+X" function catalogue: four standard services every station offers, plus extras (X)."""

from __future__ import annotations

from enum import StrEnum


class StationFunction(StrEnum):
    # The four standard functions (4)
    cash_withdrawal = "cash_withdrawal"
    transfer_remittance = "transfer_remittance"
    payment_collection = "payment_collection"
    inquiry = "inquiry"
    # Extras (X)
    credit_info_collection = "credit_info_collection"
    loan_assistance = "loan_assistance"
    financial_education = "financial_education"
    anti_fraud = "anti_fraud"
    insurance_agency = "insurance_agency"
    social_security_card = "social_security_card"
    e_commerce = "e_commerce"
    policy_consulting = "policy_consulting"


LABELS: dict[str, str] = {
    "cash_withdrawal": "小额取款",
    "transfer_remittance": "转账汇款",
    "payment_collection": "代理缴费",
    "inquiry": "查询",
    "credit_info_collection": "信用信息采集",
    "loan_assistance": "贷款申请代办",
    "financial_education": "金融知识宣传",
    "anti_fraud": "反假币反诈骗宣传",
    "insurance_agency": "保险代理",
    "social_security_card": "社保卡服务",
    "e_commerce": "农村电商服务",
    "policy_consulting": "惠农政策咨询",
}

STANDARD: tuple[str, ...] = ("cash_withdrawal", "transfer_remittance", "payment_collection", "inquiry")


def normalized(functions: list[StationFunction] | list[str]) -> list[str]:
    """Standard functions first in catalogue order, then the extras in catalogue order, no duplicates."""
    given = {str(f) for f in functions}
    return [f.value for f in StationFunction if f.value in given]


def missing_standard(functions: list[str]) -> list[str]:
    return [f for f in STANDARD if f not in functions]
