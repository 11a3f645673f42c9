"""Time `GET /admin/stats/coverage?region=4117` on PostgreSQL over a generated city, then drop the database.

    .venv/bin/python -m bench.coverage [--db supervision_bench] [--households 1000000] [--drawdowns 500000] [--keep]

The city is written with set-based SQL (generate_series), not through the app: the coverage table never reads
households, certificates or draw-downs row by row, so what matters is that those tables hold city-scale rows
(for the counters' backfill and the read of loans past due) and that the per-village tables it reads hold
what they would hold. Certificates are issued over the last 900 days with 36-month validity (as
bench/generate.py does), so the certificate counters hold the worst realistic spread of expiry dates. The
counters are then built by `app.supervision.counters.rebuild` (the migration's backfill, timed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time

import asyncpg

from bench.generate import create_database, db_url, log, schema_and_regions

DATA_SQL = [
    # one bank (stations' host, draw-downs' lender)
    """INSERT INTO banks (id, name, unified_social_credit_code, region_code, is_active, created_at)
       VALUES ('00000000-0000-4000-8000-000000000001', '基准银行', '91411700MA00000001', '4117', true, now())""",
    # farmer accounts for 40 % of households
    """INSERT INTO users (id, role, is_active, sms_second_factor, created_at)
       SELECT md5('u' || i)::uuid, 'farmer', true, false, now()
       FROM generate_series(1, $1) i WHERE i % 5 < 2""",
    # households spread over the 2,423 villages (and a few communities)
    """WITH v AS (SELECT array_agg(code ORDER BY code) a, count(*) n FROM regions
                  WHERE level IN ('village', 'community') AND code LIKE '4117%')
       INSERT INTO households (id, id_number_enc, id_number_hash, real_name, village_code, township_code,
                               county_code, is_registered_poor, user_id, provincial_score, village_score,
                               composite_score, stars, is_credit_household, vetoed, positives, negatives, vetoes,
                               created_at)
       SELECT md5('h' || i)::uuid, 'x', md5('h' || i), '张三', a[1 + ((i::bigint * 7919) % n)::int],
              substr(a[1 + ((i::bigint * 7919) % n)::int], 1, 9),
              substr(a[1 + ((i::bigint * 7919) % n)::int], 1, 6), false,
              CASE WHEN i % 5 < 2 THEN md5('u' || i)::uuid END,
              CASE WHEN i % 10 <> 9 THEN 90 END, CASE WHEN i % 10 <> 9 THEN 90 END,
              CASE WHEN i % 10 <> 9 THEN 90 END, i % 6, i % 6 > 0 AND i % 10 <> 9, false,
              '[]', '[]', '[]', now()
       FROM generate_series(1, $1) i, v""",
    # a certificate for every household with stars; some frozen, some revoked
    """INSERT INTO certificates (id, number, household_id, is_current, color, stars, limit_fen,
                                 max_annual_rate_bp, status, lead_bank_id, outstanding_fen, pending_fen,
                                 issued_on, expires_on, created_at)
       SELECT md5('c' || i)::uuid, 'B' || i, md5('h' || i)::uuid, true, 'red', i % 6, (i % 6) * 1000000, 675,
              CASE WHEN i % 50 = 7 THEN 'revoked' WHEN i % 40 = 3 THEN 'frozen'
                   WHEN i % 5 < 2 THEN 'active' ELSE 'issued' END,
              CASE WHEN i % 5 < 2 THEN '00000000-0000-4000-8000-000000000001'::uuid END, 0, 0,
              current_date - (i % 900), (current_date - (i % 900) + interval '36 months')::date, now()
       FROM generate_series(1, $1) i WHERE i % 6 > 0""",
    # draw-downs on certificates: repaid, lent (a few overdue, written off, or past due with no event), refused
    """INSERT INTO drawdowns (id, certificate_id, household_id, user_id, bank_id, village_code, township_code,
                              county_code, amount_fen, outstanding_fen, term_months, purpose, repayment_method,
                              annual_rate_bp, rate_cap_bp, status, submitted_on, approved_on, disbursed_on, due_on,
                              extended_months, extension_count, created_at)
       SELECT md5('d' || j)::uuid, md5('c' || i)::uuid, md5('h' || i)::uuid, NULL,
              '00000000-0000-4000-8000-000000000001'::uuid, h.village_code, h.township_code, h.county_code,
              1000000, CASE WHEN s IN ('disbursed', 'overdue', 'written_off') THEN 800000 ELSE 0 END,
              12, 'planting', 'interest_first', 600, 675, s,
              current_date - 200, current_date - 199, current_date - 198,
              CASE WHEN s = 'disbursed' AND j % 200 = 1 THEN current_date - 3
                   WHEN s IN ('overdue', 'written_off') THEN current_date - 30
                   ELSE current_date + 165 END,
              0, 0, now()
       FROM (SELECT j, 6 * (j / 5) + (j % 5) + 1 AS i,
                    CASE WHEN j % 1000 < 300 THEN 'repaid' WHEN j % 1000 < 700 THEN 'disbursed'
                         WHEN j % 1000 < 710 THEN 'overdue' WHEN j % 1000 < 715 THEN 'written_off'
                         ELSE 'rejected' END AS s
             FROM generate_series(1, $1) j) d
       JOIN households h ON h.id = md5('h' || d.i)::uuid""",
    # per-village loan figures as the draw-down domain keeps them (past-due loans are added on read)
    """INSERT INTO area_loan_stats (village_code, township_code, county_code, outstanding_fen, overdue_fen)
       SELECT village_code, min(township_code), min(county_code), sum(outstanding_fen),
              sum(CASE WHEN status IN ('overdue', 'written_off') THEN outstanding_fen ELSE 0 END)
       FROM drawdowns WHERE status IN ('disbursed', 'overdue', 'written_off') GROUP BY village_code""",
    # per-village rating counters as the credit domain keeps them
    """INSERT INTO village_credit_stats (village_code, township_code, rated, credit, is_credit_village)
       SELECT village_code, min(township_code), count(composite_score),
              sum(CASE WHEN is_credit_household THEN 1 ELSE 0 END), false
       FROM households GROUP BY village_code""",
    # a station in about 60 % of villages
    """INSERT INTO stations (id, name, village_code, address, lat, lng, host_bank_id, manager_name, phone,
                             opening_hours, functions, created_at)
       SELECT md5('s' || code)::uuid, '服务站', code, '村委会', 32.9, 114.0,
              '00000000-0000-4000-8000-000000000001'::uuid, '站长', '0396-1234567', '', '[]', now()
       FROM regions WHERE level = 'village' AND code LIKE '4117%' AND abs(hashtext(code)) % 10 < 6""",
]


async def main_async(a: argparse.Namespace) -> None:
    t0 = time.monotonic()
    if not a.reuse:
        await generate(a, t0)
    await measure(a, t0)


async def generate(a: argparse.Namespace, t0: float) -> None:
    await create_database(a.db)
    await asyncio.to_thread(schema_and_regions, a.db)
    log("schema (alembic upgrade head) and regions", t0)
    conn = await asyncpg.connect(db_url(a.db))
    try:
        for sql in DATA_SQL:
            n = a.drawdowns if "INTO drawdowns" in sql else a.households
            await conn.execute(sql, *([n] if "$1" in sql else []))
            log(sql.split()[2], t0)
        counts = {
            t: await conn.fetchval(f"SELECT count(*) FROM {t}")
            for t in ("households", "certificates", "drawdowns", "stations")
        }
        log(f"rows: {counts}", t0)
    finally:
        await conn.close()

    os.environ.update(DATABASE_URL=db_url(a.db), APP_ENV="dev", REDIS_URL="memory://", LOG_LEVEL="WARNING")
    from app.core.db import Database
    from app.supervision import counters

    db = Database(db_url(a.db))
    t1 = time.monotonic()
    async with db.sessionmaker() as s:
        await counters.rebuild(s)
        await s.commit()
    log(f"counters rebuilt (the migration's backfill) in {time.monotonic() - t1:.1f} s", t0)
    conn = await asyncpg.connect(db_url(a.db))
    await conn.execute("ANALYZE")
    sizes = {
        t: await conn.fetchval(f"SELECT count(*) FROM {t}")
        for t in (
            "village_household_stats",
            "village_certificate_stats",
            "village_certificate_month_stats",
            "village_certificate_year_stats",
        )
    }
    await conn.close()
    log(f"ANALYZE; counter rows {sizes}", t0)
    await db.dispose()


async def measure(a: argparse.Namespace, t0: float) -> None:
    os.environ.update(DATABASE_URL=db_url(a.db), APP_ENV="dev", REDIS_URL="memory://", LOG_LEVEL="WARNING")
    import httpx

    from app.core.security import create_access_token
    from app.main import create_app

    app = create_app(start_worker=False)
    token, _, _ = create_access_token(sub="00000000-0000-4000-8000-0000000000ad", role="admin")
    headers = {"Authorization": f"Bearer {token}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench/api/v1") as client:
            times = []
            for i in range(a.runs + 3):
                t = time.perf_counter()
                r = await client.get("/admin/stats/coverage", params={"region": "4117"}, headers=headers)
                elapsed = (time.perf_counter() - t) * 1000
                assert r.status_code == 200, r.text
                if i >= 3:  # warm-up: connections, plans
                    times.append(elapsed)
            body = r.json()
    times.sort()
    total = {k: sum(i[k] for i in body["items"]) for k in ("households", "villages", "loan_balance_fen")}
    log(f"{len(body['items'])} county items, totals {total}", t0)
    log(
        f"GET /admin/stats/coverage?region=4117 over {a.runs} runs: min {times[0]:.1f} ms, "
        f"median {statistics.median(times):.1f} ms, p95 {times[int(0.95 * (len(times) - 1))]:.1f} ms, "
        f"max {times[-1]:.1f} ms",
        t0,
    )
    if not a.keep:
        conn = await asyncpg.connect(db_url("postgres"))
        await conn.execute(f'DROP DATABASE IF EXISTS "{a.db}" WITH (FORCE)')
        await conn.close()
        log(f"dropped {a.db}", t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="supervision_bench")
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--drawdowns", type=int, default=500_000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    ap.add_argument("--reuse", action="store_true", help="measure on a database kept by an earlier --keep run")
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
