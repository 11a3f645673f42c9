"""Who may draw on a certificate: the one place for the admission rules.

`POST /me/drawdowns` raises the first refusal; `GET /me/credit` lists them all as `blocked_reasons` and says
`can_draw` exactly when a minimum draw-down (1 fen) would be admitted — apart from step-up and the daily cap,
which are about the request rather than the household. The order is the order the farmer meets them in:
account not linked → no certificate → certificate not usable (not activated, frozen, revoked, expired) →
an overdue or unrecovered written-off loan → the village or township under credit isolation → the limit.

The limit rule is credit's `within_limit`, written once for both Python integers (the read that answers
`/me/credit`) and SQL columns (`app.credit.certificates.hold`, the conditional UPDATE that admits a draw-down
atomically).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import hooks
from app.core.dates import china_today
from app.core.errors import AppError, AreaIsolated, CertificateInactive, LimitExceeded
from app.core.money import percent_text, yuan_text
from app.credit.certificates import effective_status, within_limit
from app.credit.farmer import DRAWING_STATE, DrawingState
from app.credit.models import Certificate, Household
from app.drawdowns import isolation, repository
from app.drawdowns.models import DrawdownPolicy, DrawdownStatus
from app.regions import service as regions

S = DrawdownStatus
MIN_DRAWDOWN_FEN = 1

NO_HOUSEHOLD = ("您的账号尚未关联农户信息，暂不能用信", "Your account is not linked to a household")
NO_CERTIFICATE = ("您还没有普惠金融授信证", "No certificate")
CERT_STATUS_ZH = {
    "issued": "授信证尚未启用（请先选择主办银行启信）",
    "frozen": "授信证已冻结",
    "revoked": "授信证已撤销",
    "expired": "授信证已过期",
}
CERT_STATUS_EN = {
    "issued": "The certificate is not activated yet (choose a lead bank first)",
    "frozen": "The certificate is frozen",
    "revoked": "The certificate is revoked",
    "expired": "The certificate has expired",
}
OVERDUE = ("您有逾期或已核销未结清的贷款，结清后方可再次用信", "You have an overdue loan; repay it first")


@dataclass(frozen=True)
class Block:
    """One reason a household cannot draw: `code` for `/me/credit`, `error` for `POST /me/drawdowns`."""

    code: str
    error: AppError

    def message(self, english: bool = False) -> str:
        return self.error.detail[1] if english else self.error.detail[0]


def yuan(fen: int) -> str:
    return yuan_text(fen, always_cents=True)


def certificate_state(cert: Certificate, today: date) -> str | None:
    """The certificate's refusal state, or None when it can be drawn on. Its status as `/me/credit` shows it
    (`app.credit.certificates.effective_status`: a live certificate is expired from its `expires_on`); an active
    one without a lead bank counts as not activated."""
    status = effective_status(cert, today)
    if status != "active":
        return status
    return "issued" if cert.lead_bank_id is None else None


_STATE_CODES = {
    "issued": "certificate_not_activated",
    "frozen": "certificate_frozen",
    "revoked": "certificate_revoked",
    "expired": "certificate_expired",
}


def certificate_block(cert: Certificate, today: date) -> Block | None:
    state = certificate_state(cert, today)
    if state is None:
        return None
    zh = CERT_STATUS_ZH.get(state, "授信证不可用")
    en = CERT_STATUS_EN.get(state, "The certificate cannot be used")
    return Block(_STATE_CODES.get(state, "certificate_inactive"), CertificateInactive((zh + "，暂不能用信", en)))


@dataclass(frozen=True)
class Facts:
    """What the loans say about a household, read in one statement (`repository.admission_facts`)."""

    has_overdue: bool
    lapsed_fen: int  # approvals past their validity still held in `pending_fen` until the sweep releases them
    isolation: isolation.Isolation


async def facts_of(
    session: AsyncSession, household: Household, cert: Certificate | None, policy: DrawdownPolicy, today: date
) -> Facts:
    f = await repository.admission_facts(
        session,
        household_id=household.id,
        village_code=household.village_code,
        certificate_id=cert.id if cert is not None else None,
        today=today,
        lapse=today - timedelta(days=policy.approval_valid_days),
    )
    township = household.village_code[:9]
    iso = isolation.judged(
        policy,
        isolation.AreaFigures(household.village_code, *f.village),
        isolation.AreaFigures(township, *f.township),
    )
    return Facts(f.has_overdue, f.lapsed_fen, iso)


async def isolation_blocks(
    session: AsyncSession, village_code: str, iso: isolation.Isolation | None = None
) -> list[Block]:
    """The village's and the township's isolation (`iso`, when the caller has read it), each as a refusal
    naming the area and the line."""
    if iso is None:
        iso = await isolation.check(session, village_code)
    out = []
    for isolated, fig, line, level in (
        (iso.village_isolated, iso.village, iso.village_line_bp, "village"),
        (iso.township_isolated, iso.township, iso.township_line_bp, "township"),
    ):
        if not isolated:
            continue
        region = await regions.find(session, fig.code)
        name = regions.display_name(region.name) if region else fig.code
        ratio = fig.overdue_ratio or 0
        pct = f"{ratio * 100:.2f}"
        line_pct = percent_text(line)
        zh = (
            f"{name}的逾期贷款率为 {pct}%，已达到{'村' if level == 'village' else '乡镇'}级 {line_pct}% 的信贷隔离线，"
            f"暂停新增普惠贷款；逾期率降到 {line_pct}% 以下后自动恢复。"
        )
        en = f"{fig.code} has an overdue ratio of {pct}%, at or above the {line_pct}% isolation line for a {level}"
        err = AreaIsolated(
            (zh, en),
            extra={
                "area": {
                    "code": fig.code,
                    "name": name,
                    "level": level,
                    "overdue_ratio": str(ratio),
                    "line": str(line / 10000),
                }
            },
        )
        out.append(Block(f"{level}_isolated", err))
    return out


def limit_block(limit: int, outstanding: int, pending: int, amount_fen: int | None) -> Block | None:
    """`amount_fen` None asks whether anything at all can be drawn (the minimum draw-down)."""
    amount = MIN_DRAWDOWN_FEN if amount_fen is None else amount_fen
    if within_limit(outstanding, pending, amount, limit):
        return None
    available = max(0, limit - outstanding - pending)
    if amount_fen is None:
        zh = (
            f"授信额度 {yuan(limit)} 元已用完（未还本金 {yuan(outstanding)} 元，审批中 {yuan(pending)} 元），"
            "还款后额度自动恢复"
        )
        return Block("limit_used_up", LimitExceeded((zh, "The credit limit is used up"), extra={"available_fen": 0}))
    zh = f"可用额度为 {yuan(available)} 元，本次申请 {yuan(amount_fen)} 元，超出可用额度"
    en = f"Available {yuan(available)} yuan, requested {yuan(amount_fen)} yuan"
    return Block("limit_exceeded", LimitExceeded((zh, en), extra={"available_fen": available}))


async def blocks(
    session: AsyncSession,
    household: Household | None,
    cert: Certificate | None,
    policy: DrawdownPolicy,
    today: date,
    amount_fen: int | None = None,
    facts: Facts | None = None,
) -> list[Block]:
    """Every reason this household cannot draw `amount_fen` (None: the minimum) now, in the order above
    (`facts`: what the loans say, when the caller has already read them)."""
    if household is None:
        return [Block("household_not_linked", CertificateInactive(NO_HOUSEHOLD))]
    if facts is None:
        facts = await facts_of(session, household, cert, policy, today)
    out: list[Block] = []
    if cert is None:
        out.append(Block("no_certificate", CertificateInactive(NO_CERTIFICATE)))
    else:
        state = certificate_block(cert, today)
        if state is not None:
            out.append(state)
    if facts.has_overdue:
        out.append(Block("overdue_loan", CertificateInactive(OVERDUE)))
    out.extend(await isolation_blocks(session, household.village_code, facts.isolation))
    if cert is not None:
        pending = cert.pending_fen - facts.lapsed_fen
        over = limit_block(cert.limit_fen, cert.outstanding_fen, pending, amount_fen)
        if over is not None:
            out.append(over)
    return out


@hooks.subscribe(DRAWING_STATE)
async def drawing_state(
    session: AsyncSession,
    *,
    household: Household | None,
    certificate: Certificate | None,
    village_code: str | None,
    english: bool = False,
) -> DrawingState:
    """`GET /me/credit` (credit's) asks this: the area's isolation and the refusals of a minimum draw-down, the
    loans read once for both."""
    policy = await isolation.get_policy(session)
    today = china_today()
    village = village_code is not None and len(village_code) == 12
    facts = iso = None
    if household is not None and household.village_code == village_code:
        facts = await facts_of(session, household, certificate, policy, today)
        iso = facts.isolation
    elif village and village_code is not None:  # no household: the account's village
        iso = await isolation.check(session, village_code)
    refused = await blocks(session, household, certificate, policy, today, facts=facts)
    return DrawingState(
        village_isolated=iso.village_isolated if iso is not None else None,
        township_isolated=iso.township_isolated if iso is not None else None,
        blocked=[(b.code, b.message(english)) for b in refused],
    )
