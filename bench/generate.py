"""Load a whole city into a fresh PostgreSQL database through the app's own schema, deterministically.

    .venv/bin/python -m bench.generate [--db puhuitong_bench] [--households 1000000] [--seed 2026]

What it writes (every figure derived with the app's own rules, see below):
- the schema with `alembic upgrade head`, the 2,423 villages with the app's region seeder;
- 50 banks with the counties they serve, a bank_admin and a bank_staff each; 5,000 published products with
  their counties and search bigrams (`app.catalog.search.bigrams`, as `sync_terms` writes them);
- 1,000,000 households in the villages: GB 11643 resident IDs, encrypted and hashed with `app.core.crypto`,
  rated with `app.credit.rating_updates.compute` (the app's composite, stars, veto rules); a certificate for every
  credit household from the seeded certificate policy (`certificates.add_months` for expiry), a `granted`
  ledger row each; farmer accounts for activated households with their consent to the lead bank;
- about 500,000 draw-downs in every state on active certificates, with repayments; the certificate's
  `outstanding_fen`/`pending_fen`, `village_credit_stats` and `area_loan_stats` summed from exactly the rows
  written (the same definitions as the app: LENT, FLAGGED_OVERDUE, PENDING);
- 300,000 open demands when the `demands` table exists (see `demands_phase`).

Rows go in with COPY (asyncpg `copy_records_to_table`); households are generated and copied by one process
per core, each owning a deterministic shard of villages (one `random.Random` per village, seeded from
`--seed` and the village code), so the data does not depend on the number of processes. AES-GCM nonces are
random (the app's `encrypt`), so ciphertexts differ between runs; the plaintexts and keyed hashes do not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
VAR = Path(os.environ.get("BENCH_VAR") or ROOT / "bench" / "var")  # the cpu mode keeps its small city apart
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1")
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "建国秀英桂兰志强丽娟红梅海燕玉兰春华永刚明亮文静金凤德胜小军立新淑珍俊杰晓东"
PURPOSES = ["planting", "livestock", "farm_machinery", "processing", "commerce", "housing", "education", "medical"]
DD_METHODS = ["equal_installment", "interest_first"]
# Draw-down states and their share (per mille) of the city's 500,000: every state appears, and overdue and
# written-off loans stay near 1.5 % of the balance, so most areas are not isolated (line: 5 % / 3 %).
DD_STATES = [
    ("repaid", 300),
    ("disbursed", 393),
    ("submitted", 40),
    ("approved", 30),
    ("overdue", 5),
    ("written_off", 2),
    ("rejected", 90),
    ("cancelled", 70),
    ("expired", 70),
]


def db_url(db: str) -> str:
    return f"{PG}/{db}"


def log(msg: str, t0: float) -> None:
    print(f"[{time.monotonic() - t0:7.1f}s] {msg}", flush=True)


def rid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def app_env(db: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=db_url(db), APP_ENV="dev", REDIS_URL="memory://", LOG_LEVEL="WARNING")
    return env


# ---- phase 1: schema, regions ---------------------------------------------------------------------------------


async def create_database(db: str) -> None:
    conn = await asyncpg.connect(db_url("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{db}"')
    finally:
        await conn.close()


def schema_and_regions(db: str) -> None:
    env = app_env(db)
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True)
    code = (
        "import asyncio\n"
        "from app.core.config import get_settings\n"
        "from app.core.db import Database\n"
        "from app.seed import seed_regions\n"
        "async def main():\n"
        "    db = Database(get_settings().database_url)\n"
        "    async with db.sessionmaker() as s:\n"
        "        await seed_regions(s)\n"
        "        await s.commit()\n"
        "    await db.dispose()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


# ---- phase 2: banks, staff, products --------------------------------------------------------------------------


def uscc(rng: random.Random) -> str:
    from app.core.identity import uscc_check_char

    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "914117" + "".join(rng.choice(chars) for _ in range(11))
    return body + uscc_check_char(body)


PRODUCT_WORDS = [
    ("惠农", "面向种植户的普惠信用贷款，随借随还"),
    ("养殖", "支持生猪、肉牛、家禽养殖户扩大规模，活体抵押可选"),
    ("农机", "购置拖拉机、收割机等农业机械，分期还款"),
    ("授信证", "持普惠金融授信证即可申请，一次核定、循环使用"),
    ("创业", "返乡创业人员和小微企业主的经营贷款"),
    ("仓单", "粮食仓单质押，收购季快速放款"),
    ("脱贫", "脱贫户小额信贷，财政贴息，免抵押免担保"),
    ("粮食", "小麦玉米种植大户流转土地、购买农资"),
]
KINDS = [
    ("certificate_loan", True),
    ("credit_loan", True),
    ("poverty_microcredit", True),
    ("machinery_mortgage", False),
    ("livestock_mortgage", False),
    ("warehouse_receipt_pledge", False),
    ("sme_loan", True),
]
COLLATERAL = {
    "machinery_mortgage": ["machinery"],
    "livestock_mortgage": ["livestock"],
    "warehouse_receipt_pledge": ["warehouse_receipt"],
}


async def banks_and_products(conn: asyncpg.Connection, seed: int, n_banks: int, n_products: int) -> dict[str, Any]:
    from app.catalog import search
    from app.catalog.models import TARGET_BITS

    rng = random.Random(f"{seed}:banks")
    now = datetime.now(UTC)
    counties = [r["code"] for r in await conn.fetch("SELECT code FROM regions WHERE level='county' ORDER BY code")]
    banks, bank_counties, users = [], [], []
    by_county: dict[str, list[uuid.UUID]] = defaultdict(list)
    bank_ids = []
    for i in range(n_banks):
        bid = rid(rng)
        served = counties if i < 8 else sorted(rng.sample(counties, rng.randint(1, 3)))
        banks.append((bid, f"驻马店测试银行{i + 1:02d}", uscc(rng), served[0], "95599", None, True, now))
        for c in served:
            bank_counties.append((bid, c))
            by_county[c].append(bid)
        bank_ids.append((bid, served))
        for role in ("bank_admin", "bank_staff"):
            users.append((rid(rng), role, f"bench-{role}-{i + 1:02d}", None, True, False, bid, None, now))
    users.append((rid(rng), "admin", "bench-admin", None, True, False, None, None, now))
    users.append((rid(rng), "regulator", "bench-regulator", None, True, False, None, "4117", now))
    await conn.copy_records_to_table(
        "banks",
        records=banks,
        columns=[
            "id", "name", "unified_social_credit_code", "region_code", "contact_phone", "logo_url", "is_active",
            "created_at",
        ],
    )  # fmt: skip
    await conn.copy_records_to_table("bank_counties", records=bank_counties, columns=["bank_id", "county_code"])
    await conn.copy_records_to_table(
        "users",
        records=users,
        columns=[
            "id", "role", "username", "password_hash", "is_active", "sms_second_factor", "bank_id", "region_code",
            "created_at",
        ],
    )  # fmt: skip

    products, pcounties, terms = [], [], []
    for j in range(n_products):
        bid, served = bank_ids[j % n_banks]
        word, desc = PRODUCT_WORDS[rng.randrange(len(PRODUCT_WORDS))]
        kind, free = KINDS[rng.randrange(len(KINDS))]
        name = f"{word}贷{j + 1:04d}号"
        description = f"{desc}。{rng.choice(['县域', '乡镇', '村级'])}网点办理，最快当天放款。"
        targets = ["farmer"] + (["registered_poor"] if kind == "poverty_microcredit" else [])
        if kind == "sme_loan":
            targets = ["small_business", "new_agri_entity"]
        mask = 0
        for t in targets:
            mask |= TARGET_BITS[t]
        pc = served if len(served) <= 3 else sorted(rng.sample(served, rng.randint(1, len(served))))
        pid = rid(rng)
        min_amount = rng.choice([1000, 3000, 5000, 10000]) * 100
        max_amount = rng.choice([50000, 100000, 200000, 300000]) * 100
        min_rate = rng.randint(380, 520)
        published = now - timedelta(minutes=j * 7)
        products.append(
            (
                pid, bid, f"bench-{j}", "published", None, None, None, name, kind, description, min_amount,
                max_amount, 1, rng.choice([12, 24, 36]), min_rate, min_rate + rng.randint(0, 150),
                json.dumps(["equal_installment", "interest_first"]), json.dumps(COLLATERAL.get(kind, [])),
                free, False, json.dumps(targets), mask, json.dumps(pc), json.dumps(["身份证", "户口簿"]),
                "95599", None, None, None, None, None, published, published, published,
            )
        )  # fmt: skip
        pcounties += [(pid, c) for c in pc]
        terms += [(t, pid) for t in sorted(search.bigrams(name) | search.bigrams(description))]
    await conn.copy_records_to_table(
        "products",
        records=products,
        columns=[
            "id", "bank_id", "external_id", "status", "review_status", "submitted_at", "reject_reason", "name",
            "kind", "description", "min_amount_fen", "max_amount_fen", "min_term_months", "max_term_months",
            "min_annual_rate_bp", "max_annual_rate_bp", "repayment_methods", "collateral_types", "collateral_free",
            "guarantee_required", "targets", "target_mask", "county_codes", "required_documents", "contact_phone",
            "valid_from", "valid_until", "revision", "revision_status", "revision_reject_reason", "created_at",
            "updated_at", "published_at",
        ],
    )  # fmt: skip
    await conn.copy_records_to_table("product_counties", records=pcounties, columns=["product_id", "county_code"])
    await conn.copy_records_to_table("product_terms", records=terms, columns=["term", "product_id"])
    return {"by_county": {c: [str(b) for b in bs] for c, bs in by_county.items()}, "terms": len(terms)}


# ---- phase 3: households and everything hanging off them (one process per shard) ----------------------------


def resident_id(county: str, k: int, rng: random.Random) -> str:
    """Unique per county for k < 20,000,000: birth date from k // 1000, sequence from k % 1000."""
    from app.core.identity import resident_id_check_char

    born = date(1950, 1, 1) + timedelta(days=(k // 1000) % 20000)
    first17 = f"{county}{born:%Y%m%d}{k % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def score(rng: random.Random, mean: float) -> Decimal:
    v = min(100.0, max(40.0, rng.gauss(mean, 7.0)))
    return Decimal(f"{v:.2f}")


COLUMNS = {
    "users": [
        "id", "role", "phone", "real_name", "village_code", "is_active", "sms_second_factor", "created_at",
    ],
    "households": [
        "id", "id_number_enc", "id_number_hash", "real_name", "phone", "village_code", "township_code",
        "county_code", "is_registered_poor", "user_id", "provincial_score", "village_score", "composite_score",
        "stars", "is_credit_household", "vetoed", "positives", "negatives", "vetoes", "rated_at", "created_at",
        "updated_at",
    ],
    "certificates": [
        "id", "number", "household_id", "is_current", "color", "stars", "limit_fen", "max_annual_rate_bp",
        "status", "lead_bank_id", "outstanding_fen", "pending_fen", "issued_on", "expires_on", "activated_at",
        "status_reason", "created_at", "updated_at",
    ],
    "certificate_ledger": [
        "id", "certificate_id", "household_id", "kind", "old_limit_fen", "new_limit_fen", "old_status",
        "new_status", "reason", "actor_type", "actor_id", "created_at",
    ],
    "consents": [
        "id", "user_id", "household_id", "bank_id", "fields", "purpose", "wording_version", "source", "granted_at",
    ],
    "drawdowns": [
        "id", "certificate_id", "household_id", "user_id", "bank_id", "village_code", "township_code",
        "county_code", "amount_fen", "outstanding_fen", "term_months", "purpose", "repayment_method",
        "annual_rate_bp", "rate_cap_bp", "status", "submitted_on", "approved_on", "disbursed_on", "due_on",
        "extended_months", "extension_count", "reason", "created_at", "updated_at",
    ],
    "drawdown_repayments": ["id", "drawdown_id", "amount_fen", "paid_on", "created_at"],
}  # fmt: skip


def _pick_state(rng: random.Random) -> str:
    x = rng.randrange(1000)
    for state, share in DD_STATES:
        if x < share:
            return state
        x -= share
    return "repaid"


def _drawdowns(
    rng: random.Random, n: int, cert: dict[str, Any], hh: dict[str, Any], today: date, now: datetime
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """n draw-downs on one active certificate; keeps outstanding + pending <= limit as the app admits them."""
    from app.credit.certificates import add_months

    rows, reps = [], []
    room = cert["limit_fen"]
    for _ in range(n):
        state = _pick_state(rng)
        amount = rng.choice([2000, 3000, 5000, 10000, 20000]) * 100
        if state in ("disbursed", "overdue", "written_off", "submitted", "approved") and amount > room:
            state = "repaid"  # the app would not have admitted it while the others were held
        term = rng.choice([6, 12, 12, 24, 36])
        sub = today - timedelta(days=rng.randint(20, 700))
        approved = disbursed = due = None
        rate = None
        outstanding = 0
        if state == "submitted":
            sub = today - timedelta(days=rng.randint(0, 3))
        elif state == "approved":
            sub = today - timedelta(days=rng.randint(2, 6))
            approved, rate = sub + timedelta(days=1), rng.randint(400, 675)
        elif state in ("disbursed", "repaid", "overdue", "written_off"):
            approved, disbursed, rate = sub + timedelta(days=1), sub + timedelta(days=3), rng.randint(400, 675)
            due = add_months(disbursed, term)
            if state == "disbursed":
                while due <= today:  # not yet due: past-due loans with no event would count as overdue
                    term = min(36, term + 12)
                    due = add_months(disbursed, term)
                    if term == 36 and due <= today:
                        disbursed = today - timedelta(days=rng.randint(10, 300))
                        due = add_months(disbursed, term)
                paid = amount // 4 if rng.random() < 0.3 else 0
                outstanding = amount - paid
            elif state == "repaid":
                paid = amount
            else:
                due = today - timedelta(days=rng.randint(5, 200))
                disbursed = add_months(due, -term)
                approved, sub = disbursed - timedelta(days=2), disbursed - timedelta(days=3)
                paid = amount // 5 if rng.random() < 0.3 else 0
                outstanding = amount - paid
            if paid:
                reps.append((rid(rng), None, paid, min(today, disbursed + timedelta(days=60)), now))
        elif state in ("rejected", "cancelled"):
            pass
        elif state == "expired":
            approved, rate = sub + timedelta(days=1), rng.randint(400, 675)
        if state in ("disbursed", "overdue", "written_off"):
            cert["outstanding_fen"] += outstanding
            room -= outstanding
        elif state in ("submitted", "approved"):
            cert["pending_fen"] += amount
            room -= amount
        did = rid(rng)
        reps = [(r[0], did, *r[2:]) if r[1] is None else r for r in reps]
        created = datetime.combine(sub, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)
        rows.append(
            (
                did, cert["id"], hh["id"], hh["user_id"], cert["lead_bank_id"], hh["village"], hh["village"][:9],
                hh["village"][:6], amount, outstanding, term, rng.choice(PURPOSES), rng.choice(DD_METHODS), rate,
                cert["max_annual_rate_bp"], state, sub, approved, disbursed, due, 0, 0,
                "bench" if state in ("rejected", "cancelled", "expired") else None, created, now,
            )
        )  # fmt: skip
    return rows, reps


def shard_worker(args: tuple[str, int, list[tuple[str, int, int]], dict[str, list[str]], dict[str, Any]]) -> dict:
    """Generate and COPY the households of a list of villages: (village, first global index, count)."""
    db, seed, villages, by_county, opts = args
    return asyncio.run(_shard(db, seed, villages, by_county, opts))


async def _shard(
    db: str, seed: int, villages: list[tuple[str, int, int]], by_county: dict[str, list[str]], opts: dict[str, Any]
) -> dict[str, Any]:
    from app.core import crypto
    from app.credit.certificates import add_months, china_today
    from app.credit.rating_updates import compute

    policies = opts["policies"]
    today = china_today()
    now = datetime.now(UTC)
    target_dd = opts["drawdown_ratio"]
    conn = await asyncpg.connect(db_url(db))
    buf: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    agg: dict[str, Any] = {"villages": {}, "loans": {}, "counts": defaultdict(int), "years": {}}
    t_crypto = 0.0

    async def flush() -> None:
        for table in COLUMNS:
            if buf[table]:
                await conn.copy_records_to_table(table, records=buf[table], columns=COLUMNS[table])
                agg["counts"][table] += len(buf[table])
                buf[table].clear()

    for village, start, count in villages:
        rng = random.Random(f"{seed}:{village}")
        county = village[:6]
        banks = by_county[county]
        v_mean = rng.uniform(82, 92)  # villages differ: some become credit villages, some do not
        rated = credit = 0
        outstanding = overdue = 0
        for i in range(count):
            g = start + i
            k = g  # unique per county because g is unique city-wide
            idn = resident_id(county, k, rng)
            t = time.perf_counter()
            enc = crypto.encrypt(idn, "resident_id")
            h = crypto.index_hash(idn, "resident_id")
            t_crypto += time.perf_counter() - t
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            unrated = rng.random() < 0.04
            prov = None if unrated else score(rng, v_mean)
            vill = None if unrated else score(rng, v_mean + 1)
            vetoes = ["malicious_default"] if rng.random() < 0.015 else []
            poor = rng.random() < 0.06
            st = compute(village, prov, vill, [], [], vetoes, poor)
            hid = rid(rng)
            phone = f"+8613{g:09d}"
            cert = None
            if st.stars > 0:
                p = policies[st.stars]
                issued = today - timedelta(days=rng.randint(1, 900))
                active = rng.random() < 0.45
                frozen = active and rng.random() < 0.03
                cert = {
                    "id": rid(rng),
                    "limit_fen": p["limit_fen"],
                    "max_annual_rate_bp": p["max_annual_rate_bp"],
                    "lead_bank_id": uuid.UUID(rng.choice(banks)) if active else None,
                    "outstanding_fen": 0,
                    "pending_fen": 0,
                    "status": "frozen" if frozen else "active" if active else "issued",
                    "issued": issued,
                    "color": p["color"],
                    "expires": add_months(issued, p["validity_months"]),
                }
            user_id = rid(rng) if cert is not None and cert["lead_bank_id"] is not None else None
            if user_id is not None:
                buf["users"].append((user_id, "farmer", phone, name, village, True, False, now))
            buf["households"].append(
                (
                    hid, enc, h, name, phone if user_id else None, village, village[:9], county, poor, user_id,
                    st.provincial_score, st.village_score, st.composite_score, st.stars, st.is_credit_household,
                    st.vetoed, "[]", "[]", json.dumps(vetoes), now if st.rated else None, now, now,
                )
            )  # fmt: skip
            if st.rated:
                rated += 1
                credit += int(st.is_credit_household)
            if cert is None:
                continue
            hh = {"id": hid, "user_id": user_id, "village": village}
            if cert["status"] == "active":
                n = rng.choice([0, 1, 2, 2, 3, 3, 4, 5]) if rng.random() < target_dd else 0
                rows, reps = _drawdowns(rng, n, cert, hh, today, now)
                buf["drawdowns"] += rows
                buf["drawdown_repayments"] += reps
                for r in rows:
                    if r[15] in ("disbursed", "overdue", "written_off"):
                        outstanding += r[9]
                        if r[15] != "disbursed":
                            overdue += r[9]
            number = g + 1
            year = cert["issued"].year
            agg["years"][year] = max(agg["years"].get(year, 0), number)
            activated = now - timedelta(days=rng.randint(1, 300)) if user_id else None
            buf["certificates"].append(
                (
                    cert["id"], f"ZMD-{year}-{number:07d}", hid, True, cert["color"], st.stars, cert["limit_fen"],
                    cert["max_annual_rate_bp"], cert["status"], cert["lead_bank_id"], cert["outstanding_fen"],
                    cert["pending_fen"], cert["issued"], cert["expires"], activated,
                    "bench" if cert["status"] == "frozen" else None, now, now,
                )
            )  # fmt: skip
            buf["certificate_ledger"].append(
                (
                    rid(rng), cert["id"], hid, "granted", 0, cert["limit_fen"], None, "issued", "rating:import",
                    "system", "bench", now,
                )
            )  # fmt: skip
            if user_id is not None:
                buf["consents"].append(
                    (
                        rid(rng), user_id, hid, cert["lead_bank_id"], opts["consent_fields"], opts["consent_purpose"],
                        opts["consent_version"], "activation", activated,
                    )
                )  # fmt: skip
        agg["villages"][village] = (rated, credit)
        agg["loans"][village] = (outstanding, overdue)
        if len(buf["households"]) >= 20000:
            await flush()
    await flush()
    await conn.close()
    agg["counts"] = dict(agg["counts"])
    agg["crypto_seconds"] = t_crypto
    return agg


# ---- phase 4: per-area figures, counters, bench users ---------------------------------------------------------


async def area_figures(conn: asyncpg.Connection, aggs: list[dict[str, Any]]) -> None:
    from app.credit.rating_engine import is_credit_area

    ratio = Decimal(await conn.fetchval("SELECT value FROM credit_settings WHERE key='credit_village_ratio'"))
    now = datetime.now(UTC)
    stats, loans, years = [], [], {}
    for a in aggs:
        for v, (rated, credit) in a["villages"].items():
            stats.append((v, v[:9], rated, credit, is_credit_area(credit, rated, ratio), now))
        for v, (out, over) in a["loans"].items():
            if out:
                loans.append((v, v[:9], v[:6], out, over))
        for y, n in a["years"].items():
            years[y] = max(years.get(y, 0), n)
    await conn.copy_records_to_table(
        "village_credit_stats",
        records=stats,
        columns=["village_code", "township_code", "rated", "credit", "is_credit_village", "updated_at"],
    )
    await conn.copy_records_to_table(
        "area_loan_stats",
        records=loans,
        columns=["village_code", "township_code", "county_code", "outstanding_fen", "overdue_fen"],
    )
    await conn.executemany(
        "INSERT INTO certificate_counters (year, last) VALUES ($1, $2)"
        " ON CONFLICT (year) DO UPDATE SET last = GREATEST(certificate_counters.last, EXCLUDED.last)",
        sorted(years.items()),
    )


async def pick_bench_users(conn: asyncpg.Connection, n: int) -> list[dict[str, Any]]:
    """Farmers who can draw: active certificate, no overdue loan, village and township not isolated, room left."""
    rows = await conn.fetch(
        """
        WITH vil AS (
            SELECT village_code, township_code, outstanding_fen, overdue_fen FROM area_loan_stats
        ), twn AS (
            SELECT township_code, sum(outstanding_fen) o, sum(overdue_fen) d FROM area_loan_stats GROUP BY 1
        )
        SELECT u.id, u.phone, h.village_code, c.limit_fen - c.outstanding_fen - c.pending_fen AS room
        FROM certificates c
        JOIN households h ON h.id = c.household_id
        JOIN users u ON u.id = h.user_id
        LEFT JOIN vil ON vil.village_code = h.village_code
        LEFT JOIN twn ON twn.township_code = h.township_code
        WHERE c.is_current AND c.status = 'active' AND c.stars >= 4
          AND c.limit_fen - c.outstanding_fen - c.pending_fen >= 2500000
          AND coalesce(vil.overdue_fen, 0) * 10000 < 500 * greatest(coalesce(vil.outstanding_fen, 0), 1)
          AND coalesce(twn.d, 0) * 10000 < 300 * greatest(coalesce(twn.o, 0), 1)
          AND NOT EXISTS (SELECT 1 FROM drawdowns d WHERE d.household_id = h.id
                          AND d.status IN ('overdue', 'written_off'))
        ORDER BY u.phone
        LIMIT $1
        """,
        n,
    )
    return [{"id": str(r["id"]), "phone": r["phone"], "village": r["village_code"], "room": r["room"]} for r in rows]


# ---- phase 5: demands (when the demands table exists on main) ------------------------------------------------


async def demands_phase(conn: asyncpg.Connection, seed: int, n: int) -> int:
    """300,000 open demands; written once app/demands lands (`bench/demands_gen.py`)."""
    exists = await conn.fetchval("SELECT to_regclass('public.demands') IS NOT NULL")
    if not exists:
        return -1
    try:
        from bench import demands_gen
    except ImportError:
        return -1
    result: int = await demands_gen.generate(conn, seed, n)
    return result


# ---- main -----------------------------------------------------------------------------------------------------


async def main_async(a: argparse.Namespace) -> None:
    t0 = time.monotonic()
    await create_database(a.db)
    await asyncio.to_thread(schema_and_regions, a.db)
    log("schema (alembic upgrade head) and regions (app seeder)", t0)
    conn = await asyncpg.connect(db_url(a.db))
    meta = await banks_and_products(conn, a.seed, 50, a.products)
    log(f"50 banks, {a.products} products, {meta['terms']} search bigrams", t0)
    villages = [r["code"] for r in await conn.fetch("SELECT code FROM regions WHERE level='village' ORDER BY code")]
    policies = {
        r["stars"]: dict(r)
        for r in await conn.fetch(
            "SELECT stars, color, limit_fen, max_annual_rate_bp, validity_months FROM certificate_policies"
        )
    }
    text = await conn.fetchrow("SELECT version, fields, purpose FROM consent_texts WHERE is_current LIMIT 1")
    # Village sizes: deterministic weights (0.4x-1.6x the mean), scaled to the requested total.
    wr = random.Random(f"{a.seed}:sizes")
    weights = [wr.uniform(0.4, 1.6) for _ in villages]
    scale = a.households / sum(weights)
    sizes = [int(w * scale) for w in weights]
    sizes[-1] += a.households - sum(sizes)
    plan, start = [], 0
    for v, s in zip(villages, sizes, strict=True):
        plan.append((v, start, s))
        start += s
    opts = {
        "policies": policies,
        "drawdown_ratio": a.drawdown_ratio,
        "consent_version": text["version"],
        "consent_fields": text["fields"],
        "consent_purpose": text["purpose"],
    }
    shards = [plan[i :: a.procs] for i in range(a.procs)]
    args = [(a.db, a.seed, s, meta["by_county"], opts) for s in shards]
    if a.procs == 1:
        aggs = [shard_worker(args[0])]
    else:
        with mp.get_context("spawn").Pool(a.procs) as pool:
            aggs = pool.map(shard_worker, args)
    counts: dict[str, int] = defaultdict(int)
    for ag in aggs:
        for k, v in ag["counts"].items():
            counts[k] += v
    crypto_s = sum(ag["crypto_seconds"] for ag in aggs)
    log(f"households and dependants in {a.procs} processes: {dict(counts)}; crypto {crypto_s:.1f} CPU-s", t0)
    await area_figures(conn, aggs)
    log("village_credit_stats, area_loan_stats, certificate counters", t0)
    if await conn.fetchval("SELECT to_regclass('village_household_stats') IS NOT NULL"):
        from app.supervision.counters import BUCKET_ROWS_SQL, REBUILD_SQL

        for sql in (*REBUILD_SQL, *BUCKET_ROWS_SQL["postgresql"]):
            await conn.execute(sql)
        log("supervision counters (households, links, certificate holders) rebuilt from the rows", t0)
    nd = await demands_phase(conn, a.seed, a.demands)
    log(f"demands: {nd if nd >= 0 else 'skipped (no demands table / generator yet)'}", t0)
    await conn.execute("ANALYZE")
    log("ANALYZE", t0)
    users = await pick_bench_users(conn, a.bench_users)
    staff = await conn.fetch(
        "SELECT id::text, role, username, bank_id::text, region_code FROM users WHERE username LIKE 'bench-%'"
    )
    out = {
        "db": a.db,
        "seed": a.seed,
        "farmers": users,
        "staff": [dict(r) for r in staff],
        "counts": dict(counts),
        "demands": nd,
        "load_seconds": round(time.monotonic() - t0, 1),
        "crypto_cpu_seconds": round(crypto_s, 1),
    }
    (VAR / "city.json").write_text(json.dumps(out, ensure_ascii=False, indent=1))
    await conn.close()
    log(f"done: {len(users)} bench farmers in bench/var/city.json", t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="puhuitong_bench")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--products", type=int, default=5000)
    ap.add_argument("--demands", type=int, default=300_000)
    ap.add_argument("--drawdown-ratio", type=float, default=0.51, help="share of active certificates that drew")
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--bench-users", type=int, default=5000)
    os.environ.setdefault("APP_ENV", "dev")
    VAR.mkdir(parents=True, exist_ok=True)
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
