"""Tokens and request files for the load scenarios (after `bench.generate`).

Access tokens are minted with the app's own `create_access_token` and claims (`access_claims`), as a login
would; each farmer's session gets its step-up key set directly in Redis (`stepup:<sid>`, what
`POST /auth/step-up` sets) for an hour, so draw-downs need no SMS round trip. Login is measured separately
(`login` scenario) with one-time codes written to Redis the way `otp.send_code` writes them.

    .venv/bin/python -m bench.prepare            # writes bench/var/req/*.tsv
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from pathlib import Path
from urllib.parse import quote

VAR = Path(os.environ.get("BENCH_VAR") or Path(__file__).resolve().parent / "var")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/10")
KINDS = ["certificate_loan", "credit_loan", "poverty_microcredit", "machinery_mortgage", "sme_loan"]
WORDS = ["惠农", "养殖", "农机", "授信证", "创业", "仓单", "脱贫", "粮食", "种植", "放款"]
COUNTIES = ["411702", "411721", "411722", "411723", "411724", "411725", "411726", "411727", "411728", "411729"]


def token(sub: str, role: str, extra: dict[str, str], ttl: int = 7200) -> str:
    from app.core.security import create_access_token

    t, _, _ = create_access_token(sub=sub, role=role, ttl_seconds=ttl, extra=extra)
    return t


def write(name: str, lines: list[str]) -> None:
    (VAR / "req").mkdir(parents=True, exist_ok=True)
    (VAR / "req" / f"{name}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


async def main() -> None:
    from redis.asyncio import Redis

    from app.auth import otp

    city = json.loads((VAR / "city.json").read_text())
    rng = random.Random(city["seed"])
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    farmers = city["farmers"]
    credit, draws, logins = [], [], []
    pipe = redis.pipeline(transaction=False)
    for f in farmers:
        sid = uuid.uuid4().hex
        t = token(f["id"], "farmer", {"sid": sid})
        pipe.set(f"stepup:{sid}", "1", ex=3600)
        credit.append(f"GET\t/api/v1/me/credit\t{t}\t-")
        body = json.dumps({"amount_fen": 100000, "term_months": 12, "purpose": "planting"})
        draws.append(f"POST\t/api/v1/me/drawdowns\t{t}\t{body}")
    await pipe.execute()
    # Login: a fresh one-time code per farmer, stored exactly as otp.send_code stores it.
    pipe = redis.pipeline(transaction=False)
    for f in farmers:
        code = f"{rng.randrange(1_000_000):06d}"
        key = f"otp:login:{f['phone']}"
        pipe.delete(key)
        pipe.hset(key, mapping={"h": otp._hash(f["phone"], "login", code), "fails": 0})
        pipe.expire(key, 3600)
        logins.append(f"POST\t/api/v1/auth/sessions\t-\t{json.dumps({'phone': f['phone'], 'code': code})}")
    await pipe.execute()
    await redis.aclose()

    products = []
    for _ in range(400):
        q = [f"county_code={rng.choice(COUNTIES)}", f"kind={rng.choice(KINDS)}"]
        if rng.random() < 0.5:
            q.append(f"term_months={rng.choice([6, 12, 24])}")
        products.append(f"GET\t/api/v1/products?{'&'.join(q)}&limit=20\t-\t-")
    search = [
        f"GET\t/api/v1/products?q={quote(rng.choice(WORDS))}&county_code={rng.choice(COUNTIES)}&limit=20\t-\t-"
        for _ in range(200)
    ]
    staff = {s["username"]: s for s in city["staff"]}
    bank_tokens = [
        token(s["id"], s["role"], {"sid": uuid.uuid4().hex, "bank": s["bank_id"]})
        for s in city["staff"]
        if s["role"] == "bank_staff"
    ]
    demands = [f"GET\t/api/v1/bank/demands?limit=20\t{t}\t-" for t in bank_tokens]
    admin = staff["bench-admin"]
    at = token(admin["id"], "admin", {"sid": uuid.uuid4().hex})
    coverage = [f"GET\t/api/v1/admin/stats/coverage?region=4117\t{at}\t-"]
    write("products", products)
    write("search", search)
    write("me_credit", credit)
    write("drawdowns", draws)
    write("login", logins)
    write("bank_demands", demands)
    write("coverage", coverage)
    (VAR / "admin_token").write_text(at)
    print(f"{len(farmers)} farmers, {len(bank_tokens)} bank staff; request files in {VAR / 'req'}")


if __name__ == "__main__":
    asyncio.run(main())
