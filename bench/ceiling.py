"""The ceiling: a minimal raw ASGI app (no framework, no ORM, no validation) that runs the same primary SQL as
the app for `GET /api/v1/products` (filtered first page, and `q` search) and `GET /api/v1/me/credit`, with
asyncpg prepared statements, and answers with the same bytes the app answers.

The bytes are the app's own answers, captured once per distinct request by `python -m bench.ceiling capture`
(from the running app), so what the two servers put on the wire is identical; the ceiling still runs the
query for every request. The farmer is read from the token's `sub` claim without checking the signature
(a ceiling does the least work that can give the answer).

    .venv/bin/python -m bench.ceiling capture http://127.0.0.1:8000
    .venv/bin/uvicorn bench.ceiling:app --port 8001 --workers 1 --log-level warning --no-access-log
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import asyncpg

VAR = Path(os.environ.get("BENCH_VAR") or Path(__file__).resolve().parent / "var")
DSN = os.environ.get("CEILING_DSN", "postgresql://postgres@127.0.0.1/puhuitong_bench")
CHINA = ZoneInfo("Asia/Shanghai")

# The app's catalog list query (app/catalog/public.py list_products), as SQLAlchemy renders it, filtered by
# county and kind (and term when given), newest first, limit + 1.
PRODUCTS_SQL = """
SELECT products.id, products.name, products.kind, products.bank_id, banks.name AS name_1,
       products.min_amount_fen, products.max_amount_fen, products.min_term_months, products.max_term_months,
       products.min_annual_rate_bp, products.max_annual_rate_bp, products.collateral_free,
       products.guarantee_required, products.targets, products.published_at
FROM products JOIN banks ON banks.id = products.bank_id
WHERE products.status = 'published' AND banks.is_active IS true
  AND (products.valid_from IS NULL OR products.valid_from <= $1)
  AND (products.valid_until IS NULL OR products.valid_until >= $1)
  AND products.id IN (SELECT product_counties.product_id FROM product_counties
                      WHERE product_counties.county_code = $2)
  AND products.kind = $3
  AND ($4::int IS NULL OR (products.min_term_months <= $4 AND products.max_term_months >= $4))
ORDER BY products.published_at DESC, products.id DESC
LIMIT $5
"""
SEARCH_SQL = """
SELECT products.id, products.name, products.kind, products.bank_id, banks.name AS name_1,
       products.min_amount_fen, products.max_amount_fen, products.min_term_months, products.max_term_months,
       products.min_annual_rate_bp, products.max_annual_rate_bp, products.collateral_free,
       products.guarantee_required, products.targets, products.published_at
FROM products JOIN banks ON banks.id = products.bank_id
WHERE products.status = 'published' AND banks.is_active IS true
  AND (products.valid_from IS NULL OR products.valid_from <= $1)
  AND (products.valid_until IS NULL OR products.valid_until >= $1)
  AND products.id IN (SELECT product_counties.product_id FROM product_counties
                      WHERE product_counties.county_code = $2)
  AND products.id IN (SELECT product_terms.product_id FROM product_terms WHERE product_terms.term = ANY($3)
                      GROUP BY product_terms.product_id HAVING count(*) = $4)
  AND (lower(products.name) LIKE '%' || $5 || '%' OR lower(products.description) LIKE '%' || $5 || '%')
ORDER BY products.published_at DESC, products.id DESC
LIMIT $6
"""
# /me/credit: the farmer's household, current certificate and lead bank; then the village's credit counters
# and loan figures (the app reads the same rows with several smaller statements).
CREDIT_SQL = """
SELECT h.*, c.number, c.color, c.stars AS c_stars, c.limit_fen, c.outstanding_fen, c.pending_fen, c.status,
       c.max_annual_rate_bp, c.issued_on, c.expires_on, b.name AS bank_name
FROM households h
LEFT JOIN certificates c ON c.household_id = h.id AND c.is_current
LEFT JOIN banks b ON b.id = c.lead_bank_id
WHERE h.user_id = $1
"""
VILLAGE_SQL = """
SELECT r.name, s.rated, s.credit, l.outstanding_fen, l.overdue_fen,
       (SELECT count(*) FROM regions v WHERE v.parent_code = $2 AND v.level = 'village') AS villages,
       (SELECT sum(outstanding_fen) FROM area_loan_stats WHERE township_code = $2) AS t_out,
       (SELECT sum(overdue_fen) FROM area_loan_stats WHERE township_code = $2) AS t_over
FROM regions r
LEFT JOIN village_credit_stats s ON s.village_code = r.code
LEFT JOIN area_loan_stats l ON l.village_code = r.code
WHERE r.code = $1
"""

BYTES: dict[str, bytes] = {}
POOL: asyncpg.Pool | None = None


def _load_bytes() -> None:
    path = VAR / "ceiling_bytes.json"
    if path.exists():
        BYTES.update({k: v.encode() for k, v in json.loads(path.read_text()).items()})


def _answer(key: str) -> bytes:
    """The captured answer; the file is re-read on a miss (a capture taken after this process started)."""
    if key not in BYTES:
        _load_bytes()
    return BYTES[key]


def _headers(body: bytes) -> list[tuple[bytes, bytes]]:
    # Same framing as the app: Content-Length, not chunked (uvicorn chunks a body sent without it).
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]


def _sub(auth: bytes) -> str:
    tok = auth.split(b" ", 1)[1].split(b".")[1]
    return str(json.loads(base64.urlsafe_b64decode(tok + b"=" * (-len(tok) % 4)))["sub"])


async def _products(query: str) -> bytes:
    assert POOL is not None
    q = dict(parse_qsl(query))
    today = datetime.now(CHINA).date()
    limit = int(q.get("limit", 20)) + 1
    async with POOL.acquire() as conn:
        if "q" in q:
            w = q["q"].lower()
            grams = sorted({w[i : i + 2] for i in range(len(w) - 1)})
            await conn.fetch(SEARCH_SQL, today, q["county_code"], grams, len(grams), w, limit)
        else:
            term = int(q["term_months"]) if "term_months" in q else None
            await conn.fetch(PRODUCTS_SQL, today, q["county_code"], q["kind"], term, limit)
    return _answer(f"/api/v1/products?{query}")


async def _credit(auth: bytes) -> bytes:
    assert POOL is not None
    import uuid

    uid = _sub(auth)
    async with POOL.acquire() as conn:
        row = await conn.fetchrow(CREDIT_SQL, uuid.UUID(uid))
        await conn.fetchrow(VILLAGE_SQL, row["village_code"], row["village_code"][:9])
    return _answer(f"credit:{uid}")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global POOL
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                POOL = await asyncpg.create_pool(DSN, min_size=4, max_size=10)
                _load_bytes()
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                if POOL is not None:
                    await POOL.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    status, body = 200, b"{}"
    try:
        if path == "/api/v1/products":
            body = await _products(scope["query_string"].decode())
        elif path == "/api/v1/me/credit":
            auth = dict(scope["headers"]).get(b"authorization", b"")
            body = await _credit(auth)
        else:
            status = 404
    except KeyError:  # no captured answer for this request: say so instead of a framework 500
        status, body = 404, b'{"error": "not captured"}'
    await send({"type": "http.response.start", "status": status, "headers": _headers(body)})
    await send({"type": "http.response.body", "body": body})


async def capture(base: str) -> None:
    """Fetch every distinct request of the products, search and me_credit files once from the app."""
    import httpx

    out: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for name in ("products", "search", "me_credit"):
            for line in (VAR / "req" / f"{name}.tsv").read_text(encoding="utf-8").splitlines():
                _, target, tok, _ = line.split("\t")
                headers = {"Authorization": f"Bearer {tok}"} if tok != "-" else {}
                r = await client.get(target, headers=headers)
                r.raise_for_status()
                key = f"credit:{_sub(headers['Authorization'].encode())}" if tok != "-" else target
                out[key] = r.content.decode()
    (VAR / "ceiling_bytes.json").write_text(json.dumps(out, ensure_ascii=False))
    print(f"captured {len(out)} answers")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "capture":
        asyncio.run(capture(sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:8000"))
