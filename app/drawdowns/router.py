from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from app.auth.dependencies import BankLoans, Farmer, StepUp
from app.core.deps import RedisDep, SessionDep
from app.core.idempotency import idempotent
from app.core.pagination import Cursor, Limit, Page
from app.drawdowns import lending, service
from app.drawdowns.models import DrawdownStatus
from app.drawdowns.schemas import (
    ApproveIn,
    BankDrawdownPublic,
    DisburseIn,
    DrawdownCreate,
    DrawdownPublic,
    ExtendIn,
    ReasonIn,
    RenewIn,
    RepaymentCreate,
)

router = APIRouter(tags=["drawdowns"])


@router.post("/me/drawdowns", status_code=201, response_model=DrawdownPublic, summary="用信（提款）申请")
@idempotent(required=True)
async def submit(p: Farmer, _: StepUp, body: DrawdownCreate, session: SessionDep, redis: RedisDep) -> DrawdownPublic:
    return await service.submit(session, redis, p, body)


@router.get("/me/drawdowns", response_model=Page[DrawdownPublic], summary="我的用信记录")
async def list_mine(
    p: Farmer,
    session: SessionDep,
    status: DrawdownStatus | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[DrawdownPublic]:
    items, nxt = await service.list_mine(session, p, status, limit, cursor)
    return Page[DrawdownPublic](items=items, next_cursor=nxt)


@router.get("/me/drawdowns/{drawdown_id}", response_model=DrawdownPublic, summary="用信详情（含还款计划）")
async def get_mine(p: Farmer, drawdown_id: uuid.UUID, session: SessionDep) -> DrawdownPublic:
    return await service.get_mine(session, p, drawdown_id)


@router.post("/me/drawdowns/{drawdown_id}/cancel", response_model=DrawdownPublic, summary="取消待审批的用信")
async def cancel_mine(p: Farmer, drawdown_id: uuid.UUID, session: SessionDep) -> DrawdownPublic:
    return await service.cancel_mine(session, p, drawdown_id)


@router.get("/bank/drawdowns", response_model=Page[BankDrawdownPublic], summary="本行作为主办银行的用信队列")
async def list_for_bank(
    p: BankLoans,
    session: SessionDep,
    status: DrawdownStatus | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[BankDrawdownPublic]:
    items, nxt = await lending.list_for_bank(session, p, status, limit, cursor)
    return Page[BankDrawdownPublic](items=items, next_cursor=nxt)


@router.get(
    "/bank/drawdowns/{drawdown_id}", response_model=BankDrawdownPublic, summary="用信详情（借款人、评级、授信证）"
)
async def get_for_bank(
    p: BankLoans, drawdown_id: uuid.UUID, session: SessionDep, response: Response
) -> BankDrawdownPublic:
    return await lending.get_for_bank(session, p, drawdown_id)


@router.post("/bank/drawdowns/{drawdown_id}/approve", response_model=BankDrawdownPublic, summary="审批通过（定价）")
async def approve(p: BankLoans, body: ApproveIn, drawdown_id: uuid.UUID, session: SessionDep) -> BankDrawdownPublic:
    return await lending.approve(session, p, drawdown_id, body)


@router.post("/bank/drawdowns/{drawdown_id}/reject", response_model=BankDrawdownPublic, summary="拒绝")
async def reject(p: BankLoans, body: ReasonIn, drawdown_id: uuid.UUID, session: SessionDep) -> BankDrawdownPublic:
    return await lending.reject(session, p, drawdown_id, body)


@router.post(
    "/bank/drawdowns/{drawdown_id}/cancel", response_model=BankDrawdownPublic, summary="取消已审批未放款的用信"
)
async def cancel(p: BankLoans, body: ReasonIn, drawdown_id: uuid.UUID, session: SessionDep) -> BankDrawdownPublic:
    return await lending.cancel(session, p, drawdown_id, body)


@router.post("/bank/drawdowns/{drawdown_id}/disburse", response_model=BankDrawdownPublic, summary="放款")
async def disburse(
    p: BankLoans, drawdown_id: uuid.UUID, session: SessionDep, body: DisburseIn | None = None
) -> BankDrawdownPublic:
    return await lending.disburse(session, p, drawdown_id, body or DisburseIn())


@router.post(
    "/bank/drawdowns/{drawdown_id}/repayments",
    status_code=201,
    response_model=BankDrawdownPublic,
    summary="登记还款（本金），恢复额度",
)
@idempotent(required=True)
async def repay(p: BankLoans, body: RepaymentCreate, drawdown_id: uuid.UUID, session: SessionDep) -> BankDrawdownPublic:
    return await lending.repay(session, p, drawdown_id, body)


@router.post(
    "/bank/drawdowns/{drawdown_id}/extend", response_model=BankDrawdownPublic, summary="展期（建档立卡贫困户）"
)
async def extend(p: BankLoans, body: ExtendIn, drawdown_id: uuid.UUID, session: SessionDep) -> BankDrawdownPublic:
    return await lending.extend(session, p, drawdown_id, body)


@router.post(
    "/bank/drawdowns/{drawdown_id}/renew",
    response_model=BankDrawdownPublic,
    summary="续贷：到期未还本金转入新的已放款贷款（返回原贷款：已结清，renewed_to_id 指向新贷款）",
)
async def renew(p: BankLoans, body: RenewIn, drawdown_id: uuid.UUID, session: SessionDep) -> BankDrawdownPublic:
    return await lending.renew(session, p, drawdown_id, body)


@router.post("/bank/drawdowns/{drawdown_id}/overdue", response_model=BankDrawdownPublic, summary="核心系统报告逾期")
async def report_overdue(p: BankLoans, drawdown_id: uuid.UUID, session: SessionDep) -> BankDrawdownPublic:
    return await lending.report_overdue(session, p, drawdown_id)


@router.post("/bank/drawdowns/{drawdown_id}/write-off", response_model=BankDrawdownPublic, summary="核销")
async def write_off(p: BankLoans, drawdown_id: uuid.UUID, session: SessionDep) -> BankDrawdownPublic:
    return await lending.write_off(session, p, drawdown_id)
