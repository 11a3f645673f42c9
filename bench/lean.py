"""The lean comparison: the database work of a hot path done with raw asyncpg, no FastAPI, no SQLAlchemy.

Runs open-loop at a fixed rate (requests scheduled at fixed intervals, latency from the scheduled time, as
`bench/openloop.py`) over a pool of 10 connections (the app's per-worker `DB_POOL_SIZE`), prepared
statements (asyncpg's statement cache), and reports the client's CPU per transaction (this process's
utime + stime, the scheduler included) and PostgreSQL's (its backends' /proc CPU).

    .venv/bin/python -m bench.lean --scenario drawdown --rate 40 --duration 25 [--offset 0]
    .venv/bin/python -m bench.lean --scenario credit --rate 60 --duration 25

`drawdown` — what `POST /me/drawdowns` does in the database (`bench/sqltrace.py` lists the app's 15 statements
and 5 Redis calls), in 4 round trips: BEGIN; one conditional UPDATE … RETURNING that admits the draw-down
with every check folded in (household and current certificate by user, certificate active with a lead bank
and not expired, term within the policy, no overdue or written-off loan of the household, no stale approval
on the certificate, village and township overdue ratios under the isolation lines — `area_loan_stats` plus
loans past due with no event, as `app.drawdowns.isolation` computes them — and the room under the limit);
one INSERT CTE writing the draw-down, its audit entry, the `drawdown.submitted` event, the two notifications
(bank, farmer) and the idempotency record (`ON CONFLICT (caller, key) DO NOTHING`: the unique key replaces
the app's look-up before the work); COMMIT. The client builds what the app builds in Python for them: the
repayment schedule (`app.drawdowns.schedule.plan`), the response body stored in the idempotency record, the
audit summary, the event data and the notification texts, the request fingerprint (sha256).
Not included: HTTP and JSON request parsing, JWT verification, the Redis calls (revocation, step-up,
rate limit, idempotency lock), validation models, the refusal paths (a refused admission would need one
more read to explain itself), the stale-approval sweep's UPDATEs (the bench farmers have none to expire).

`credit` — the reads `GET /me/credit` needs, in one prepared statement: household, current certificate and
lead bank name; the active rating-factor labels; the drawdown policy's isolation lines and both credit-area
thresholds; the village's and township's loan figures (same two aggregates as the app); the village, the
township and the township's villages with their credit counters. The client then decides isolation and
credit village/township with the app's pure rules (`is_credit_area`) and builds and encodes the JSON answer.
Not included: HTTP, JWT and the revocation MGET, response-model validation.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from bench import procstat

VAR = Path(os.environ.get("BENCH_VAR") or Path(__file__).resolve().parent / "var")
DSN = os.environ.get("BENCH_DSN", "postgresql://postgres@127.0.0.1/puhuitong_bench")
CHINA = timedelta(hours=8)

POLICY = """
    SELECT coalesce((SELECT min_term_months FROM drawdown_policy WHERE id = 1), {min_term}) AS min_term,
           coalesce((SELECT max_term_months FROM drawdown_policy WHERE id = 1), {max_term}) AS max_term,
           coalesce((SELECT village_isolation_bp FROM drawdown_policy WHERE id = 1), {v_line}) AS v_line,
           coalesce((SELECT township_isolation_bp FROM drawdown_policy WHERE id = 1), {t_line}) AS t_line,
           coalesce((SELECT approval_valid_days FROM drawdown_policy WHERE id = 1), {valid_days}) AS valid_days
"""

ADMIT = """
WITH pol AS ({policy}),
hc AS (
    SELECT h.id AS household_id, h.village_code, h.township_code, h.county_code, h.real_name,
           c.id AS certificate_id
    FROM households h JOIN certificates c ON c.household_id = h.id AND c.is_current
    WHERE h.user_id = $1
),
area AS (
    SELECT coalesce(sum(a.outstanding_fen), 0) AS t_out, coalesce(sum(a.overdue_fen), 0) AS t_flag,
           coalesce(sum(a.outstanding_fen) FILTER (WHERE a.village_code = hc.village_code), 0) AS v_out,
           coalesce(sum(a.overdue_fen) FILTER (WHERE a.village_code = hc.village_code), 0) AS v_flag
    FROM hc JOIN area_loan_stats a ON a.township_code = hc.township_code
),
past AS (
    SELECT coalesce(sum(d.outstanding_fen), 0) AS t_past,
           coalesce(sum(d.outstanding_fen) FILTER (WHERE d.village_code = hc.village_code), 0) AS v_past
    FROM hc JOIN drawdowns d ON d.township_code = hc.township_code AND d.status = 'disbursed' AND d.due_on < $4
)
UPDATE certificates c SET pending_fen = c.pending_fen + $2, updated_at = now()
FROM hc, pol, area, past
WHERE c.id = hc.certificate_id AND c.status = 'active' AND c.lead_bank_id IS NOT NULL AND c.expires_on >= $4
  AND $3 BETWEEN pol.min_term AND pol.max_term
  AND c.outstanding_fen + c.pending_fen + $2 <= c.limit_fen
  AND NOT EXISTS (SELECT 1 FROM drawdowns d WHERE d.household_id = hc.household_id
                  AND (d.status IN ('overdue', 'written_off') OR (d.status = 'disbursed' AND d.due_on < $4)))
  AND NOT EXISTS (SELECT 1 FROM drawdowns d WHERE d.certificate_id = c.id AND d.status = 'approved'
                  AND d.approved_on < $4 - pol.valid_days)
  AND NOT (area.v_out > 0 AND (area.v_flag + past.v_past) * 10000 >= pol.v_line * area.v_out)
  AND NOT (area.t_out > 0 AND (area.t_flag + past.t_past) * 10000 >= pol.t_line * area.t_out)
RETURNING c.id, c.number, c.stars, c.lead_bank_id, c.max_annual_rate_bp, hc.household_id, hc.village_code,
          hc.township_code, hc.county_code, hc.real_name
"""

INSERT = """
WITH dd AS (
    INSERT INTO drawdowns (id, certificate_id, household_id, user_id, bank_id, village_code, township_code,
                           county_code, amount_fen, outstanding_fen, term_months, purpose, repayment_method,
                           annual_rate_bp, rate_cap_bp, status, submitted_on, extended_months, extension_count,
                           created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $12, NULL, $13, 'submitted', $14, 0, 0, $15, $15)
),
au AS (
    INSERT INTO audit_entries (id, created_at, actor_type, actor_id, actor_role, action, object_type, object_id,
                               summary, request_id)
    VALUES ($16, $15, 'user', $4::text, 'farmer', 'drawdown.submit', 'drawdown', $1::text, $17::json, $18)
),
ev AS (
    INSERT INTO events (id, type, bank_id, data, created_at, dispatched)
    VALUES ($19, 'drawdown.submitted', $5, $20::json, $15, false)
),
nt AS (
    INSERT INTO notifications (id, user_id, bank_id, kind, title, body, data, sms_status, created_at)
    VALUES ($21, NULL, $5, 'drawdown.submitted', '新的用信申请', $22, $23::json, 'none', $15),
           ($24, $4, NULL, 'drawdown.submitted', '用信申请已提交', $25, $26::json, 'none', $15)
),
ik AS (
    INSERT INTO idempotency_records (id, caller, key, fingerprint, status_code, media_type, body, created_at)
    VALUES ($27, $28, $29, $30, 201, 'application/json', $31::json, $15)
    ON CONFLICT (caller, key) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM ik
"""

CREDIT = """
WITH pol AS ({policy}),
me AS (
    SELECT h.*, c.id AS c_id, c.number AS c_number, c.color AS c_color, c.stars AS c_stars,
           c.limit_fen AS c_limit, c.outstanding_fen AS c_out, c.pending_fen AS c_pending, c.status AS c_status,
           c.lead_bank_id AS c_bank, c.max_annual_rate_bp AS c_rate, c.issued_on AS c_issued,
           c.expires_on AS c_expires, b.name AS bank_name
    FROM households h
    LEFT JOIN certificates c ON c.household_id = h.id AND c.is_current
    LEFT JOIN banks b ON b.id = c.lead_bank_id
    WHERE h.user_id = $1
)
SELECT me.*, pol.v_line, pol.t_line,
       (SELECT json_object_agg(code, label_zh) FROM rating_factors WHERE is_active) AS factors,
       (SELECT json_object_agg(key, value) FROM credit_settings
         WHERE key IN ('credit_village_ratio', 'credit_township_ratio')) AS thresholds,
       (SELECT json_build_array(coalesce(sum(a.outstanding_fen), 0), coalesce(sum(a.overdue_fen), 0),
                 coalesce(sum(a.outstanding_fen) FILTER (WHERE a.village_code = me.village_code), 0),
                 coalesce(sum(a.overdue_fen) FILTER (WHERE a.village_code = me.village_code), 0))
          FROM area_loan_stats a WHERE a.township_code = me.township_code) AS loans,
       (SELECT json_build_array(coalesce(sum(d.outstanding_fen), 0),
                 coalesce(sum(d.outstanding_fen) FILTER (WHERE d.village_code = me.village_code), 0))
          FROM drawdowns d WHERE d.township_code = me.township_code AND d.status = 'disbursed'
           AND d.due_on < $2) AS past_due,
       (SELECT json_agg(json_build_array(r.code, r.name, r.level, r.parent_code, s.rated, s.credit))
          FROM regions r LEFT JOIN village_credit_stats s ON s.village_code = r.code
         WHERE r.code IN (me.village_code, me.township_code)
            OR (r.parent_code = me.township_code AND r.level = 'village')) AS areas
FROM me, pol
"""


def china_today() -> date:
    return (datetime.now(UTC) + CHINA).date()


def policy_sql() -> str:
    from app.drawdowns.models import DrawdownPolicy

    d = DrawdownPolicy()
    return POLICY.format(
        min_term=d.min_term_months,
        max_term=d.max_term_months,
        v_line=d.village_isolation_bp,
        t_line=d.township_isolation_bp,
        valid_days=d.approval_valid_days,
    )


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str, separators=(",", ":"))


async def drawdown(conn: asyncpg.Connection, user_id: uuid.UUID, amount: int, term: int, purpose: str) -> bool:
    from app.core.crypto import mask_name
    from app.core.money import yuan_text
    from app.drawdowns.schedule import plan

    today = china_today()
    now = datetime.now(UTC)
    method = "equal_installment"
    key = uuid.uuid4().hex
    caller = f"user:{user_id.hex}"
    request = {"amount_fen": amount, "term_months": term, "purpose": purpose}
    fingerprint = hashlib.sha256(
        dumps({"method": "POST", "path": "/api/v1/me/drawdowns", "body": request}).encode()
    ).hexdigest()
    async with conn.transaction():
        row = await conn.fetchrow(ADMIT_SQL, user_id, amount, term, today)
        if row is None:
            return False
        did = uuid.uuid4()
        items = plan(method, amount, row["max_annual_rate_bp"], term, today)
        yuan = yuan_text(amount, always_cents=True)
        body = {
            "id": str(did),
            "status": "submitted",
            "amount_fen": amount,
            "outstanding_fen": 0,
            "annual_rate_bp": None,
            "term_months": term,
            "purpose": purpose,
            "repayment_method": method,
            "submitted_on": today.isoformat(),
            "approved_on": None,
            "approval_expires_on": None,
            "disbursed_on": None,
            "due_on": None,
            "extended_months": 0,
            "renewed_from_id": None,
            "renewed_to_id": None,
            "reason": None,
            "repayments": [],
            "schedule": {
                "method": method,
                "annual_rate_bp": row["max_annual_rate_bp"],
                "estimated": True,
                "total_principal_fen": sum(i.principal_fen for i in items),
                "total_interest_fen": sum(i.interest_fen for i in items),
                "items": [
                    {
                        "period": i.period,
                        "due_on": i.due_on.isoformat(),
                        "principal_fen": i.principal_fen,
                        "interest_fen": i.interest_fen,
                        "payment_fen": i.payment_fen,
                    }
                    for i in items
                ],
            },
            "created_at": now.isoformat(),
            "updated_at": now.isoformat(),
        }
        masked = mask_name(row["real_name"])
        data = {"drawdown_id": str(did)}
        stored = await conn.fetchval(
            INSERT,
            did,
            row["id"],
            row["household_id"],
            user_id,
            row["lead_bank_id"],
            row["village_code"],
            row["township_code"],
            row["county_code"],
            amount,
            term,
            purpose,
            method,
            row["max_annual_rate_bp"],
            today,
            now,
            uuid.uuid4(),
            dumps(
                {
                    "after": {"status": "submitted", "amount_fen": amount, "term_months": term},
                    "certificate_id": str(row["id"]),
                }
            ),
            uuid.uuid4().hex,
            uuid.uuid4(),
            dumps(
                {
                    "drawdown_id": str(did),
                    "certificate_number": row["number"],
                    "amount_fen": amount,
                    "term_months": term,
                    "purpose": purpose,
                    "borrower": {"name": masked, "village_code": row["village_code"], "stars": row["stars"]},
                }
            ),
            uuid.uuid4(),
            f"{masked}申请用信 {yuan} 元，期限 {term} 个月，请审批。",
            dumps(data),
            uuid.uuid4(),
            f"您 {yuan} 元的用信已提交。请等待主办银行审批。",
            dumps({**data, "status": "submitted"}),
            uuid.uuid4(),
            caller,
            key,
            fingerprint,
            dumps(body),
        )
        if stored != 1:
            raise RuntimeError("idempotency key taken")  # rolls the transaction back; the app would replay
    return True


async def credit(conn: asyncpg.Connection, user_id: uuid.UUID) -> bool:
    from app.credit.rating_engine import is_credit_area

    r = await conn.fetchrow(CREDIT_SQL, user_id, china_today())
    if r is None:
        return False
    ratios = {k: Decimal(v) for k, v in json.loads(r["thresholds"]).items()}
    t_out, t_flag, v_out, v_flag = json.loads(r["loans"]) if r["loans"] else (0, 0, 0, 0)
    t_past, v_past = json.loads(r["past_due"])
    v_iso = v_out > 0 and (v_flag + v_past) * 10000 >= r["v_line"] * v_out
    t_iso = t_out > 0 and (t_flag + t_past) * 10000 >= r["t_line"] * t_out
    village, township = r["village_code"], r["township_code"]
    names, v_rated, v_credit, villages, credit_villages = {}, 0, 0, 0, 0
    for code, name, level, parent, rated, cr in json.loads(r["areas"]):
        names[code] = name
        if code == village and rated is not None:
            v_rated, v_credit = rated, cr
        if level == "village" and parent == township:
            villages += 1
            credit_villages += int(rated is not None and is_credit_area(cr, rated, ratios["credit_village_ratio"]))
    factors = json.loads(r["factors"]) or {}
    answer = {
        "rating": {
            "stars": r["stars"] if r["is_credit_household"] else 0,
            "composite_score": str(r["composite_score"]),
            "provincial_score": str(r["provincial_score"]),
            "village_score": str(r["village_score"]),
            "is_credit_household": r["is_credit_household"],
            "vetoed": r["vetoed"],
            "factors": {
                "vetoes": [{"code": c, "label": factors.get(c, c)} for c in json.loads(r["vetoes"] or "[]")],
                "positives": [{"code": c, "label": factors.get(c, c)} for c in json.loads(r["positives"] or "[]")],
                "negatives": [{"code": c, "label": factors.get(c, c)} for c in json.loads(r["negatives"] or "[]")],
            },
            "rated_at": r["rated_at"].isoformat() if r["rated_at"] else None,
        },
        "certificate": None
        if r["c_id"] is None
        else {
            "id": str(r["c_id"]),
            "number": r["c_number"],
            "color": r["c_color"],
            "stars": r["c_stars"],
            "limit_fen": r["c_limit"],
            "outstanding_fen": r["c_out"],
            "pending_fen": r["c_pending"],
            "available_fen": max(0, r["c_limit"] - r["c_out"] - r["c_pending"]),
            "status": r["c_status"],
            "lead_bank": {"id": str(r["c_bank"]), "name": r["bank_name"]} if r["c_bank"] else None,
            "max_annual_rate_bp": r["c_rate"],
            "issued_on": r["c_issued"].isoformat(),
            "expires_on": r["c_expires"].isoformat(),
        },
        "village": {
            "code": village,
            "name": names.get(village, village),
            "is_credit_village": is_credit_area(v_credit, v_rated, ratios["credit_village_ratio"]),
            "isolated": v_iso,
        },
        "township": {
            "code": township,
            "name": names.get(township, township),
            "is_credit_township": is_credit_area(credit_villages, villages, ratios["credit_township_ratio"]),
            "isolated": t_iso,
        },
    }
    return len(json.dumps(answer, ensure_ascii=False).encode()) > 0


ADMIT_SQL = ""
CREDIT_SQL = ""


async def run(scenario: str, users: list[uuid.UUID], rate: float, duration: float, warmup: float) -> dict[str, Any]:
    global ADMIT_SQL, CREDIT_SQL
    ADMIT_SQL = ADMIT.format(policy=policy_sql())
    CREDIT_SQL = CREDIT.format(policy=policy_sql())
    pool = await asyncpg.create_pool(DSN, min_size=10, max_size=10, server_settings={"application_name": "bench-lean"})
    conns = [await pool.acquire() for _ in range(10)]
    backends = [await c.fetchval("SELECT pg_backend_pid()") for c in conns]
    for c in conns:
        await pool.release(c)
    work = drawdown if scenario == "drawdown" else credit
    counter = 0

    async def one(scheduled: float, lat: list[float], fails: list[int]) -> None:
        nonlocal counter
        user = users[counter % len(users)]
        counter += 1
        async with pool.acquire() as conn:
            ok = await (drawdown(conn, user, 100_000, 12, "planting") if work is drawdown else credit(conn, user))
        if not ok:
            fails.append(1)
        lat.append(time.perf_counter() - scheduled)

    async def phase(seconds: float) -> tuple[list[float], list[int], float]:
        lat: list[float] = []
        fails: list[int] = []
        n = int(rate * seconds)
        start = time.perf_counter() + 0.05
        tasks = []
        for i in range(n):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scheduled, lat, fails)))
        await asyncio.gather(*tasks)
        return lat, fails, time.perf_counter() - start

    if warmup:
        await phase(warmup)
    m0 = procstat.machine()
    pg0 = procstat.snapshot(backends)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    lat, fails, elapsed = await phase(duration)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    pg1 = procstat.snapshot(backends)
    m = procstat.machine_delta(m0, procstat.machine())
    await pool.close()
    lat.sort()
    n = len(lat)
    client = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    pg = procstat.delta(pg0, pg1)

    def pct(p: float) -> float:
        return round(lat[min(n - 1, int(p * n))] * 1000, 2) if lat else float("nan")

    return {
        "scenario": f"lean_{scenario}",
        "target_rate": rate,
        "completed": n,
        "refused": len(fails),
        "achieved_rate": round(n / elapsed, 1),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": round(lat[-1] * 1000, 2) if lat else None,
        "client_cpu_ms_per_req": round(client * 1000 / max(n, 1), 3),
        "pg_cpu_ms_per_req": round(pg["seconds"] * 1000 / max(n, 1), 3),
        "pg_backends": pg,
        "load1": procstat.load1(),
        "machine_busy": m["busy"],
        "steal": m["steal"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=["drawdown", "credit"], required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--duration", type=float, default=25)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--offset", type=int, default=0, help="first bench farmer to use (fresh farmers per run)")
    a = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    farmers = json.loads((VAR / "city.json").read_text())["farmers"]
    users = [uuid.UUID(f["id"]) for f in farmers]
    users = users[a.offset :] + users[: a.offset]
    print(json.dumps(asyncio.run(run(a.scenario, users, a.rate, a.duration, a.warmup)), ensure_ascii=False))


if __name__ == "__main__":
    main()
