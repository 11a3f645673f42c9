"""Risk control routes (API.md "Risk control"): county funds and their ledger, loss sharing, compensation
claims, bridge loans."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.dependencies import Admin, BankAdmin, BankLoans, BankUser, Regulator
from app.core.deps import SessionDep
from app.core.idempotency import idempotent
from app.core.pagination import Cursor, Limit, Page
from app.risk import service
from app.risk.models import BridgeStatus, ClaimStatus, FundKind
from app.risk.schemas import (
    BridgeCreate,
    BridgePublic,
    BridgeRepay,
    ClaimCreate,
    ClaimPublic,
    EntryCreate,
    EntryPublic,
    FundCreate,
    FundPublic,
    ReasonIn,
    SharingIn,
    SharingPublic,
)

router = APIRouter(tags=["risk"])
CountyQuery = Annotated[str | None, Query(pattern=r"^\d{6}$", description="县区代码（6 位）")]


# ---- funds -------------------------------------------------------------------------------------------------


@router.post("/admin/risk-funds", status_code=201, response_model=FundPublic, summary="设立县区资金池")
@idempotent()
async def create_fund(_: Admin, body: FundCreate, session: SessionDep) -> FundPublic:
    return await service.create_fund(session, body)


@router.get(
    "/admin/risk-funds",
    response_model=Page[FundPublic],
    summary="县区风险补偿金与还贷应急周转金",
    description="监管员只能看到本辖区的县区。",
)
async def list_funds(
    p: Regulator,
    session: SessionDep,
    county_code: CountyQuery = None,
    kind: FundKind | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[FundPublic]:
    items, nxt = await service.list_funds(session, p, county_code, kind, limit, cursor)
    return Page[FundPublic](items=items, next_cursor=nxt)


@router.get("/admin/risk-funds/{fund_id}", response_model=FundPublic, summary="资金池详情")
async def get_fund(p: Regulator, fund_id: uuid.UUID, session: SessionDep) -> FundPublic:
    return await service.get_fund(session, p, fund_id)


@router.post(
    "/admin/risk-funds/{fund_id}/entries",
    status_code=201,
    response_model=EntryPublic,
    summary="注资或支取（须 Idempotency-Key）",
    description="支取超过余额为 409 `insufficient_funds`，余额不变。",
)
@idempotent(required=True)
async def add_entry(_: Admin, body: EntryCreate, fund_id: uuid.UUID, session: SessionDep) -> EntryPublic:
    return await service.add_entry(session, fund_id, body)


@router.get(
    "/admin/risk-funds/{fund_id}/entries",
    response_model=Page[EntryPublic],
    summary="资金池台账（新的在前）",
)
async def list_entries(
    p: Regulator, fund_id: uuid.UUID, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[EntryPublic]:
    items, nxt = await service.entries(session, p, fund_id, limit, cursor)
    return Page[EntryPublic](items=items, next_cursor=nxt)


@router.put(
    "/admin/risk-funds/{fund_id}/sharing",
    response_model=FundPublic,
    summary="设定风险分担比例（三位一体 / 四位一体）",
    description="四方基点合计须为 10000；自现在起生效，之前提交的代偿申请保留提交时的比例。",
)
async def set_sharing(p: Admin, body: SharingIn, fund_id: uuid.UUID, session: SessionDep) -> FundPublic:
    return await service.set_sharing(session, p, fund_id, body)


@router.get(
    "/admin/risk-funds/{fund_id}/sharing",
    response_model=Page[SharingPublic],
    summary="风险分担比例的历史（新的在前）",
)
async def sharing_history(
    p: Regulator, fund_id: uuid.UUID, session: SessionDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[SharingPublic]:
    items, nxt = await service.sharing_history(session, p, fund_id, limit, cursor)
    return Page[SharingPublic](items=items, next_cursor=nxt)


# ---- compensation claims -----------------------------------------------------------------------------------


@router.post(
    "/bank/compensation-claims",
    status_code=201,
    response_model=ClaimPublic,
    summary="申请风险补偿（已核销的贷款，须 Idempotency-Key）",
)
@idempotent(required=True)
async def file_claim(p: BankLoans, body: ClaimCreate, session: SessionDep) -> ClaimPublic:
    return await service.file_claim(session, p, body)


@router.get("/bank/compensation-claims", response_model=Page[ClaimPublic], summary="本行的代偿申请")
async def list_bank_claims(
    p: BankLoans,
    session: SessionDep,
    status: ClaimStatus | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[ClaimPublic]:
    items, nxt = await service.list_claims_for_bank(session, p, status, limit, cursor)
    return Page[ClaimPublic](items=items, next_cursor=nxt)


@router.get("/bank/compensation-claims/{claim_id}", response_model=ClaimPublic, summary="代偿申请详情")
async def get_bank_claim(p: BankLoans, claim_id: uuid.UUID, session: SessionDep) -> ClaimPublic:
    return await service.get_claim_for_bank(session, p, claim_id)


@router.get("/admin/compensation-claims", response_model=Page[ClaimPublic], summary="代偿申请（监管员：本辖区）")
async def list_admin_claims(
    p: Regulator,
    session: SessionDep,
    status: ClaimStatus | None = None,
    county_code: CountyQuery = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[ClaimPublic]:
    items, nxt = await service.list_claims_for_admin(session, p, status, county_code, limit, cursor)
    return Page[ClaimPublic](items=items, next_cursor=nxt)


@router.get("/admin/compensation-claims/{claim_id}", response_model=ClaimPublic, summary="代偿申请详情")
async def get_admin_claim(p: Regulator, claim_id: uuid.UUID, session: SessionDep) -> ClaimPublic:
    return await service.get_claim_for_admin(session, p, claim_id)


@router.post(
    "/admin/compensation-claims/{claim_id}/approve",
    response_model=ClaimPublic,
    summary="批准代偿：从风险补偿金支付基金承担部分",
    description="余额不足为 409 `insufficient_funds`，不做任何改变。",
)
async def approve_claim(p: Regulator, claim_id: uuid.UUID, session: SessionDep) -> ClaimPublic:
    return await service.approve_claim(session, p, claim_id)


@router.post("/admin/compensation-claims/{claim_id}/reject", response_model=ClaimPublic, summary="驳回代偿申请")
async def reject_claim(p: Regulator, body: ReasonIn, claim_id: uuid.UUID, session: SessionDep) -> ClaimPublic:
    return await service.reject_claim(session, p, claim_id, body)


# ---- bridge loans ------------------------------------------------------------------------------------------


@router.post(
    "/bank/bridge-loans",
    status_code=201,
    response_model=BridgePublic,
    summary="申请还贷应急周转金",
    description="企业还旧贷、续新贷之间的短期周转；天数不超过政策上限（默认 30 天），县区须为本行服务的县区。",
)
@idempotent()
async def request_bridge(p: BankAdmin, body: BridgeCreate, session: SessionDep) -> BridgePublic:
    return await service.request_bridge(session, p, body)


@router.get("/bank/bridge-loans", response_model=Page[BridgePublic], summary="本行的周转申请")
async def list_bank_bridges(
    p: BankUser,
    session: SessionDep,
    status: BridgeStatus | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[BridgePublic]:
    items, nxt = await service.list_bridges_for_bank(session, p, status, limit, cursor)
    return Page[BridgePublic](items=items, next_cursor=nxt)


@router.get("/bank/bridge-loans/{bridge_id}", response_model=BridgePublic, summary="周转申请详情")
async def get_bank_bridge(p: BankUser, bridge_id: uuid.UUID, session: SessionDep) -> BridgePublic:
    return await service.get_bridge_for_bank(session, p, bridge_id)


@router.post(
    "/bank/bridge-loans/{bridge_id}/repay",
    response_model=BridgePublic,
    summary="归还周转金（全部本金，另收资金占用费）",
    description="`amount_fen` 须等于周转本金；资金占用费 = 本金 × 日费率 × 实际使用天数（至少 1 天），向下取整。",
)
@idempotent()
async def repay_bridge(p: BankAdmin, body: BridgeRepay, bridge_id: uuid.UUID, session: SessionDep) -> BridgePublic:
    return await service.repay_bridge(session, p, bridge_id, body)


@router.get("/admin/bridge-loans", response_model=Page[BridgePublic], summary="周转申请（监管员：本辖区）")
async def list_admin_bridges(
    p: Regulator,
    session: SessionDep,
    status: BridgeStatus | None = None,
    county_code: CountyQuery = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[BridgePublic]:
    items, nxt = await service.list_bridges_for_admin(session, p, status, county_code, limit, cursor)
    return Page[BridgePublic](items=items, next_cursor=nxt)


@router.get("/admin/bridge-loans/{bridge_id}", response_model=BridgePublic, summary="周转申请详情")
async def get_admin_bridge(p: Regulator, bridge_id: uuid.UUID, session: SessionDep) -> BridgePublic:
    return await service.get_bridge_for_admin(session, p, bridge_id)


@router.post(
    "/admin/bridge-loans/{bridge_id}/approve",
    response_model=BridgePublic,
    summary="批准周转：从还贷应急周转金放出",
    description="余额不足为 409 `insufficient_funds`；`due_on` = 今天（中国时间）+ 天数。",
)
async def approve_bridge(p: Regulator, bridge_id: uuid.UUID, session: SessionDep) -> BridgePublic:
    return await service.approve_bridge(session, p, bridge_id)


@router.post("/admin/bridge-loans/{bridge_id}/reject", response_model=BridgePublic, summary="驳回周转申请")
async def reject_bridge(p: Regulator, body: ReasonIn, bridge_id: uuid.UUID, session: SessionDep) -> BridgePublic:
    return await service.reject_bridge(session, p, bridge_id, body)
