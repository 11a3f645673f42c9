"""Run the load scenarios against the app (port 8000) and the ceiling (port 8001); results to bench/var/.

For each read scenario: the maximum rate with wrk (closed loop, 64 connections, 15 s), the same for the
ceiling where there is one, then an open-loop run at 70 % of the app's maximum (bench/openloop.py, 30 s)
for p50/p99 without coordinated omission. Draw-downs: an open-loop run at a fixed 300/s for 30 s, then the
overdraw check in SQL. Rating import: 2 × 50,000 CSV rows (the endpoint's maximum per request), timed.

    .venv/bin/python -m bench.scenarios [--only products,me_credit] [--tag 1w]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.openloop import load_requests, run

VAR = Path(os.environ.get("BENCH_VAR") or Path(__file__).resolve().parent / "var")
APP = os.environ.get("BENCH_APP_URL", "http://127.0.0.1:8000")
CEIL = os.environ.get("BENCH_CEILING_URL", "http://127.0.0.1:8001")
LUA = str(Path(__file__).resolve().parent / "wrk" / "replay.lua")
DSN = os.environ.get("BENCH_DSN", "postgresql://postgres@127.0.0.1/puhuitong_bench")


def wrk(url: str, name: str, seconds: int = 10, conns: int = 64) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "-s", LUA, url, "--", str(VAR / "req" / f"{name}.tsv")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"WRK_JSON (\{.*\})", out)
    assert m, out
    result: dict[str, Any] = json.loads(m.group(1))
    result["load1"] = os.getloadavg()[0]
    return result


def openloop(url: str, name: str, rate: float, seconds: float = 20) -> dict[str, Any]:
    reqs = load_requests(str(VAR / "req" / f"{name}.tsv"), url.split("//")[1])
    result = asyncio.run(run(url, reqs, rate, seconds, 512))
    result["load1"] = os.getloadavg()[0]
    return result


def psql(sql: str) -> str:
    return subprocess.run(["psql", DSN, "-Atc", sql], capture_output=True, text=True, check=True).stdout.strip()


OVERDRAW_SQL = """
SELECT count(*) FROM certificates c
LEFT JOIN (SELECT certificate_id,
                  sum(CASE WHEN status IN ('submitted','approved') THEN amount_fen ELSE 0 END) AS pend,
                  sum(CASE WHEN status IN ('disbursed','overdue','written_off') THEN outstanding_fen ELSE 0 END) AS out
           FROM drawdowns GROUP BY certificate_id) d ON d.certificate_id = c.id
WHERE c.outstanding_fen + c.pending_fen > c.limit_fen
   OR c.pending_fen <> coalesce(d.pend, 0) OR c.outstanding_fen <> coalesce(d.out, 0)
"""


def read_scenario(name: str, ceiling: bool) -> dict[str, Any]:
    r: dict[str, Any] = {"app_max": wrk(APP, name)}
    if ceiling:
        r["ceiling_max"] = wrk(CEIL, name)
        r["ratio"] = round(r["app_max"]["rps"] / r["ceiling_max"]["rps"], 3)
    time.sleep(5)  # let the app drain what wrk left queued, so the open-loop run does not start behind a backlog
    r["at_70pct"] = openloop(APP, name, round(0.7 * r["app_max"]["rps"]))
    return r


def coverage(runs: int = 20) -> dict[str, Any]:
    """GET /admin/stats/coverage for the whole city, one request at a time (target < 300 ms each)."""
    import httpx

    token = (VAR / "admin_token").read_text()
    times, codes = [], []
    with httpx.Client(base_url=APP, timeout=60) as c:
        for _ in range(runs):
            t = time.perf_counter()
            r = c.get(
                "/api/v1/admin/stats/coverage", params={"region": "4117"}, headers={"Authorization": f"Bearer {token}"}
            )
            times.append((time.perf_counter() - t) * 1000)
            codes.append(r.status_code)
            if r.status_code == 404 and r.json().get("code") == "not_found" and len(codes) == 1:
                return {"measured": False, "status": 404, "note": "endpoint not on this branch"}
    first = times[0]
    times.sort()
    return {
        "measured": True,
        "runs": runs,
        "codes": sorted(set(codes)),
        "first_ms": round(first, 1),
        "min_ms": round(times[0], 1),
        "p50_ms": round(times[len(times) // 2], 1),
        "max_ms": round(times[-1], 1),
        "load1": os.getloadavg()[0],
    }


def drawdowns(rate: float, seconds: float) -> dict[str, Any]:
    before = int(psql("SELECT count(*) FROM drawdowns"))
    r = openloop(APP, "drawdowns", rate, seconds)
    r["created"] = int(psql("SELECT count(*) FROM drawdowns")) - before
    r["certificates_inconsistent_or_overdrawn"] = int(psql(OVERDRAW_SQL))
    return r


def overdraw_burst() -> dict[str, Any]:
    """200 concurrent draw-downs of 40 % of the room on each of 10 certificates: at most 2 may be admitted."""
    city = json.loads((VAR / "city.json").read_text())
    lines = (VAR / "req" / "drawdowns.tsv").read_text(encoding="utf-8").splitlines()
    burst = []
    last = list(zip(city["farmers"], lines, strict=False))[-10:]
    # the room as it is now (earlier runs may have drawn on these certificates), not as generated
    ids = ",".join(f"'{f['id']}'" for f, _ in last)
    room = dict(
        r.split("|")
        for r in psql(
            "SELECT h.user_id, c.limit_fen - c.outstanding_fen - c.pending_fen FROM households h "
            f"JOIN certificates c ON c.household_id = h.id AND c.is_current WHERE h.user_id IN ({ids})"
        ).splitlines()
    )
    for f, line in last:
        amount = int(int(room[f["id"]]) * 0.4)
        if amount <= 0:
            continue
        m, path, tok, _ = line.split("\t")
        body = json.dumps({"amount_fen": amount, "term_months": 12, "purpose": "planting"})
        burst += [f"{m}\t{path}\t{tok}\t{body}"] * 20
    random.Random(1).shuffle(burst)
    (VAR / "req" / "burst.tsv").write_text("\n".join(burst) + "\n", encoding="utf-8")
    r = openloop(APP, "burst", 400, 0.5)
    r["certificates_inconsistent_or_overdrawn"] = int(psql(OVERDRAW_SQL))
    return r


def rating_import(rows: int = 100_000, day0: int = 0) -> dict[str, Any]:
    """New households in real villages, posted as CSV in requests of 50,000 rows."""
    from app.core.identity import resident_id_check_char

    villages = psql("SELECT code FROM regions WHERE level='village' ORDER BY code").split()
    rng = random.Random(7)
    token = (VAR / "admin_token").read_text()
    lines = []
    for i in range(rows):
        v = villages[i % len(villages)]
        # Unique for every i (birth date from i // 1000, sequence from i % 1000), whatever the county: born
        # 2006-01-01 onwards, after every birth date of the city set (bench/generate.py resident_id, 1950-2004).
        born = date(2006, 1, 1) + timedelta(days=day0 + i // 1000)  # --import-day0 N: fresh IDs for a re-run
        first17 = f"{v[:6]}{born:%Y%m%d}{i % 1000:03d}"
        idn = first17 + resident_id_check_char(first17)
        lines.append(f"{idn},导入{i % 97}号,,{v},{rng.uniform(70, 100):.2f},{rng.uniform(70, 100):.2f},,false")
    header = "id_number,real_name,phone,village_code,provincial_score,village_score,vetoes,is_registered_poor"
    import httpx

    out: dict[str, Any] = {"rows": rows, "requests": []}
    t0 = time.perf_counter()
    with httpx.Client(base_url=APP, timeout=600) as c:
        for i in range(0, rows, 50_000):
            body = "\n".join([header, *lines[i : i + 50_000]]).encode()
            t = time.perf_counter()
            r = c.post(
                "/api/v1/admin/ratings/import",
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
            )
            d = r.json() if r.status_code == 200 else {"error": r.text[:300]}
            out["requests"].append(
                {
                    "status": r.status_code,
                    "seconds": round(time.perf_counter() - t, 2),
                    "created": d.get("created"),
                    "updated": d.get("updated"),
                    "rejected": d.get("rejected"),
                }
            )
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="products,search,me_credit,bank_demands,coverage,login,drawdowns,burst,import")
    ap.add_argument("--tag", default="run")
    ap.add_argument("--dd-rate", type=float, default=300)
    ap.add_argument("--import-day0", type=int, default=0, help="shift the imported birth dates (new households)")
    a = ap.parse_args()
    only = a.only.split(",")
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "tag": a.tag}
    for name, ceiling in (("products", True), ("search", True), ("me_credit", True)):
        if name in only:
            results[name] = read_scenario(name, ceiling)
            print(name, json.dumps(results[name]), flush=True)
    if "bank_demands" in only:  # no ceiling: latency target only (p99 < 100 ms)
        results["bank_demands"] = read_scenario("bank_demands", False)
        print("bank_demands", json.dumps(results["bank_demands"]), flush=True)
    if "coverage" in only:
        results["coverage"] = coverage()
        print("coverage", json.dumps(results["coverage"]), flush=True)
    if "login" in only:  # one-time codes: each line works once, so a fixed rate over fewer lines than codes
        results["login"] = openloop(APP, "login", 100, 20)
        print("login", json.dumps(results["login"]), flush=True)
    if "drawdowns" in only:
        results["drawdowns"] = drawdowns(a.dd_rate, 30)
        print("drawdowns", json.dumps(results["drawdowns"]), flush=True)
    if "burst" in only:
        results["burst"] = overdraw_burst()
        print("burst", json.dumps(results["burst"]), flush=True)
    if "import" in only:
        results["import"] = rating_import(day0=a.import_day0)
        print("import", json.dumps(results["import"]), flush=True)
    (VAR / f"results-{a.tag}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
