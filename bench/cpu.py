"""CPU per request of the hot paths (issue 16 item 1), on a small generated city, next to the lean comparison.

    bench/run.sh cpu [--workers 1,2] [--only drawdowns,me_credit,bank_demands,coverage,lean,import]
                     [--duration 25] [--rates drawdowns=20,me_credit=30,bank_demands=10,coverage=3] [--rebuild]

1. The city: `bench.generate` into `puhuitong_<BENCH_NAME>_cpu` (default 50,000 households, 15,000 open
   demands, the same 50 banks and 5,000 products as the bench city: the shape of the 1,000,000-household city
   at 1/20 of its households), built once (≈ 40 s) and reused; `--rebuild` builds it again. Its files live in
   `bench/var/cpu/` (`BENCH_VAR`), apart from the big city's.
2. Tokens and request files (`bench.prepare`, Redis db of `REDIS_URL`, flushed first).
3. For each worker count: the app under uvicorn (`--loop uvloop --http httptools`, port `BENCH_PORT`,
   18300 by default) on PostgreSQL + Redis; the first coverage requests of the fresh process, timed; then each
   hot path open-loop at a fixed rate (`bench/openloop.py`): a warm-up (`--warmup` s, not counted), then the
   measured run. Draw-downs: each request from a farmer not used before in this city (`state.json` keeps the
   next one; the list wraps when used up), with a step-up key and a fresh Idempotency-Key; then the overdraw
   check over every certificate.
4. Per run: achieved rate, p50/p99, HTTP codes, and CPU ms per completed request — the uvicorn worker processes
   (utime + stime from /proc/<pid>/stat, before vs after), the PostgreSQL backends connected to the city's
   database (found by their process title, sampled every 0.2 s so a connection closed during the run still
   counts), PostgreSQL's shared background processes (walwriter, checkpointer, background writer: shared
   with every other database on the server, so only indicative), and the load generator itself — with
   `load1` before and after.
5. The lean comparison (`bench/lean.py`) at the same rates: client CPU and PostgreSQL CPU per transaction.
6. The 100,000-row rating import (`bench.scenarios.rating_import`: 2 × 50,000 CSV rows of new households) on a
   copy of the city (`CREATE DATABASE … TEMPLATE`, dropped afterwards), timed, with its CPU.
Results: `bench/var/cpu/results-cpu-<tag>.json`, and a Markdown summary on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import procstat
from bench.openloop import load_requests, run

ROOT = Path(__file__).resolve().parents[1]
VAR = Path(os.environ.get("BENCH_VAR") or ROOT / "bench" / "var" / "cpu")
NAME = os.environ.get("BENCH_NAME", "h16bench")
DB = os.environ.get("BENCH_CPU_DB", f"puhuitong_{NAME}_cpu")
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1")
PORT = int(os.environ.get("BENCH_PORT", "18300"))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/10")
PY = sys.executable
# Rates one worker keeps up with on this machine (achieved = offered), so CPU per request is not that of overload.
RATES = {"drawdowns": 20.0, "me_credit": 30.0, "bank_demands": 10.0, "coverage": 3.0}
PATHS = {
    "drawdowns": "POST /me/drawdowns",
    "me_credit": "GET /me/credit",
    "bank_demands": "GET /bank/demands",
    "coverage": "GET /admin/stats/coverage?region=4117",
}


def env(db: str = DB) -> dict[str, str]:
    e = dict(os.environ)
    e.update(
        BENCH_VAR=str(VAR),
        BENCH_DSN=f"{PG}/{db}",
        DATABASE_URL=f"{PG}/{db}",
        REDIS_URL=REDIS_URL,
        APP_ENV="dev",
        WORKER_IN_PROCESS="false",
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "ERROR"),
        DB_POOL_SIZE=os.environ.get("DB_POOL_SIZE", "10"),
        DB_MAX_OVERFLOW=os.environ.get("DB_MAX_OVERFLOW", "5"),
        DB_POOL_TIMEOUT_SECONDS="5",
        DRAWDOWNS_PER_DAY=os.environ.get("DRAWDOWNS_PER_DAY", "1000"),
        SMS_IP_PER_HOUR="1000000",
        SMS_GLOBAL_PER_HOUR="1000000",
    )
    return e


def psql(sql: str, db: str = DB) -> str:
    out = subprocess.run(["psql", f"{PG}/{db}", "-Atc", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def db_exists(db: str) -> bool:
    return psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'", "postgres") == "1"


# ---- the city -------------------------------------------------------------------------------------------------


def ensure_city(a: argparse.Namespace) -> dict[str, Any]:
    city_file = VAR / "city.json"
    fresh = a.rebuild or not db_exists(DB) or not city_file.exists()
    if not fresh and json.loads(city_file.read_text()).get("db") != DB:
        fresh = True
    if fresh:
        VAR.mkdir(parents=True, exist_ok=True)
        t = time.monotonic()
        cmd = [PY, "-m", "bench.generate", "--db", DB, "--households", str(a.households), "--demands",
               str(a.demands), "--bench-users", str(a.bench_users)]  # fmt: skip
        subprocess.run(cmd, cwd=ROOT, env=env(), check=True)
        (VAR / "state.json").write_text(json.dumps({"next_farmer": 0, "used": 0}))
        print(f"city built in {time.monotonic() - t:.0f} s", flush=True)
    city: dict[str, Any] = json.loads(city_file.read_text())
    return city


def prepare() -> None:
    subprocess.run(["redis-cli", "-u", REDIS_URL, "flushdb"], check=True, capture_output=True)
    subprocess.run([PY, "-m", "bench.prepare"], cwd=ROOT, env=env(), check=True)


def take_farmers(n: int, total: int) -> tuple[int, bool]:
    """The first of n farmers, in order through the list; True when some of them drew before in this city
    (the list wrapped around: each bench farmer has room for ≥ 25 draw-downs of the bench's 1,000 yuan, and
    the daily cap is raised, so a reused farmer is still admitted)."""
    path = VAR / "state.json"
    state = json.loads(path.read_text()) if path.exists() else {"next_farmer": 0}
    used = state.get("used", state["next_farmer"])  # draw-downs taken from the list so far, over all runs
    start = used % total
    state["used"] = used + n
    state["next_farmer"] = state["used"] % total
    path.write_text(json.dumps(state))
    return start, used + n > total


# ---- the app --------------------------------------------------------------------------------------------------


class App:
    def __init__(self, workers: int, db: str = DB) -> None:
        self.workers, self.db = workers, db
        self.url = f"http://127.0.0.1:{PORT}"
        log = open(VAR / f"app-{workers}w.log", "ab")  # noqa: SIM115 - closed in stop()
        cmd = [
            PY, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(PORT), "--workers",
            str(workers), "--log-level", "warning", "--loop", "uvloop", "--http", "httptools",
            "--timeout-keep-alive", "75", "--no-access-log",
        ]  # fmt: skip
        self.log = log
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env(db), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        for _ in range(600):  # workers import the app in parallel: 30 s or more when others hold the cores
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:
                    if r.status == 200 and len(self.worker_pids()) >= workers:
                        break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"the app did not start; see {VAR / f'app-{workers}w.log'}")

    def worker_pids(self) -> list[int]:
        """The serving processes: the one process with 1 worker; the spawned workers (not the supervisor nor
        multiprocessing's resource tracker) with more."""
        if self.workers == 1:
            return [self.proc.pid]
        return [p for p in procstat.tree(self.proc.pid) if b"spawn_main" in _cmdline(p)]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def pg_processes(db: str) -> tuple[list[int], list[int]]:
    """(backends connected to `db`, the server's shared background processes), by process title."""
    backends, aux = [], []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            title = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if not title.startswith("postgres: "):
            continue
        words = title.split()
        if db in words:
            backends.append(int(p.name))
        elif any(w in title for w in ("walwriter", "checkpointer", "background writer", "autovacuum")):
            aux.append(int(p.name))
    return backends, aux


class PgSampler:
    """Last-seen CPU of every PostgreSQL process of the run, sampled every 0.2 s in a thread."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.first: dict[str, dict[int, float]] = {}
        self.last: dict[str, dict[int, float]] = {"backends": {}, "aux": {}}
        self._stop = threading.Event()
        self.first = self._sample()
        self.last = {k: dict(v) for k, v in self.first.items()}
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self) -> dict[str, dict[int, float]]:
        backends, aux = pg_processes(self.db)
        return {"backends": procstat.snapshot(backends), "aux": procstat.snapshot(aux)}

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            for k, v in self._sample().items():
                self.last[k].update(v)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        for k, v in self._sample().items():
            self.last[k].update(v)
        return {k: procstat.delta(self.first[k], self.last[k]) for k in self.first}


def measured(fn: Any, pids: list[int], db: str) -> tuple[Any, dict[str, Any]]:
    """Run fn() and return (its result, CPU seconds of the workers, PostgreSQL and this process)."""
    w0 = procstat.snapshot(pids)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    load0 = procstat.load1()
    m0 = procstat.machine()
    pg = PgSampler(db)
    t = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t
    pgd = pg.stop()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    w1 = procstat.snapshot(pids)
    cpu = {
        "wall_seconds": round(wall, 2),
        "workers": procstat.delta(w0, w1),
        "pg_backends": pgd["backends"],
        "pg_aux": pgd["aux"],
        "client_seconds": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
        "load1": [load0, procstat.load1()],
        "machine": procstat.machine_delta(m0, procstat.machine()),
    }
    return result, cpu


def per_request(cpu: dict[str, Any], n: int, ok: int) -> dict[str, Any]:
    """CPU per completed request (what the table shows) and per 2xx answer (differs when some were refused
    with a cheap 503 under overload)."""
    n, ok = max(n, 1), max(ok, 1)
    return {
        "ok": ok,
        "worker_cpu_ms_per_ok": round(cpu["workers"]["seconds"] * 1000 / ok, 2),
        "pg_cpu_ms_per_ok": round(cpu["pg_backends"]["seconds"] * 1000 / ok, 2),
        "worker_cpu_ms_per_req": round(cpu["workers"]["seconds"] * 1000 / n, 2),
        "pg_cpu_ms_per_req": round(cpu["pg_backends"]["seconds"] * 1000 / n, 2),
        "pg_aux_cpu_ms_per_req": round(cpu["pg_aux"]["seconds"] * 1000 / n, 2),
        "client_cpu_ms_per_req": round(cpu["client_seconds"] * 1000 / n, 2),
        "load1": cpu["load1"],
        "machine_busy": cpu["machine"]["busy"],
        "steal": cpu["machine"]["steal"],
    }


def openloop_lines(app: App, lines: list[str], rate: float, seconds: float) -> dict[str, Any]:
    path = VAR / "req" / "_run.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reqs = load_requests(str(path), app.url.split("//")[1])
    result: dict[str, Any] = asyncio.run(run(app.url, reqs, rate, seconds, 512))
    return result


def scenario(app: App, name: str, rate: float, a: argparse.Namespace, city: dict[str, Any]) -> dict[str, Any]:
    lines = (VAR / "req" / f"{name}.tsv").read_text(encoding="utf-8").splitlines()
    warm_n, run_n = int(rate * a.warmup), int(rate * a.duration)
    wrapped = False
    if name == "drawdowns":  # fresh farmers: one draw-down each, none seen before in this city
        start, wrapped = take_farmers(warm_n + run_n, len(lines))
        lines = (lines[start:] + lines[:start])[: warm_n + run_n]
        while len(lines) < warm_n + run_n:
            lines += lines
        warm, main = lines[:warm_n], lines[warm_n : warm_n + run_n]
    else:
        warm, main = lines, lines[len(lines) // 2 :] + lines[: len(lines) // 2]
    if warm_n:
        openloop_lines(app, warm, rate, a.warmup)
    before = int(psql("SELECT count(*) FROM drawdowns", app.db)) if name == "drawdowns" else 0
    r, cpu = measured(lambda: openloop_lines(app, main, rate, a.duration), app.worker_pids(), app.db)
    ok = sum(n for code, n in r["codes"].items() if 200 <= int(code) < 300)
    out = {"path": PATHS[name], "workers": app.workers, **r, **per_request(cpu, r["completed"], ok), "cpu": cpu}
    if name == "drawdowns":
        from bench.scenarios import OVERDRAW_SQL

        out["created"] = int(psql("SELECT count(*) FROM drawdowns", app.db)) - before
        out["certificates_inconsistent_or_overdrawn"] = int(psql(OVERDRAW_SQL, app.db))
        out["farmers_reused"] = wrapped
    return out


def cold_coverage(app: App, n: int = 3) -> list[float]:
    """The first requests of a fresh process (connections, statement compilation), one after another."""
    token = (VAR / "admin_token").read_text()
    times = []
    for _ in range(n):
        req = urllib.request.Request(
            f"{app.url}/api/v1/admin/stats/coverage?region=4117", headers={"Authorization": f"Bearer {token}"}
        )
        t = time.perf_counter()
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
        times.append(round((time.perf_counter() - t) * 1000, 1))
    return times


# ---- lean, import ---------------------------------------------------------------------------------------------


def lean(kind: str, rate: float, a: argparse.Namespace, total: int) -> dict[str, Any]:
    offset = 0
    if kind == "drawdown":
        offset, _ = take_farmers(int(rate * (a.warmup + a.duration)), total)
    cmd = [PY, "-m", "bench.lean", "--scenario", kind, "--rate", str(rate), "--duration", str(a.duration),
           "--warmup", str(a.warmup), "--offset", str(offset)]  # fmt: skip
    out = subprocess.run(cmd, cwd=ROOT, env=env(), check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def rating_import(rows: int) -> dict[str, Any]:
    copy = f"{DB}_import"
    psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)', "postgres")
    t = time.perf_counter()
    psql(f'CREATE DATABASE "{copy}" TEMPLATE "{DB}" STRATEGY FILE_COPY', "postgres")
    copy_s = time.perf_counter() - t
    app = App(1, copy)
    try:
        from bench import scenarios

        scenarios.APP, scenarios.DSN, scenarios.VAR = app.url, f"{PG}/{copy}", VAR
        r, cpu = measured(lambda: scenarios.rating_import(rows), app.worker_pids(), copy)
    finally:
        app.stop()
        psql(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)', "postgres")
    return {
        **r,
        "copy_seconds": round(copy_s, 1),
        "worker_cpu_seconds": round(cpu["workers"]["seconds"], 1),
        "pg_cpu_seconds": round(cpu["pg_backends"]["seconds"], 1),
        "load1": cpu["load1"],
        "cpu": cpu,
    }


# ---- report ---------------------------------------------------------------------------------------------------


def summary(results: dict[str, Any]) -> str:
    rows = [
        "| path | workers | offered/s | achieved/s | p50 ms | p99 ms | codes | worker CPU ms/req | "
        "PG CPU ms/req | PG aux ms/req | client ms/req | load1 | machine busy / steal |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"].values():
        codes = ", ".join(f"{c}×{n}" for c, n in sorted(r["codes"].items()))
        rows.append(
            f"| {r['path']} | {r['workers']} | {r['target_rate']:g} | {r['achieved_rate']} | {r['p50_ms']} | "
            f"{r['p99_ms']} | {codes} | {r['worker_cpu_ms_per_req']} | {r['pg_cpu_ms_per_req']} | "
            f"{r['pg_aux_cpu_ms_per_req']} | {r['client_cpu_ms_per_req']} | "
            f"{r['load1'][0]}–{r['load1'][1]} | {r['machine_busy']:.0%} / {r['steal']:.0%} |"
        )
    for key, r in results.get("lean", {}).items():
        rows.append(
            f"| lean {key} (asyncpg) | – | {r['target_rate']:g} | {r['achieved_rate']} | {r['p50_ms']} | "
            f"{r['p99_ms']} | ok×{r['completed'] - r['refused']} | client {r['client_cpu_ms_per_req']} | "
            f"{r['pg_cpu_ms_per_req']} | – | – | {r['load1']} | {r['machine_busy']:.0%} / {r['steal']:.0%} |"
        )
    for w, times in results.get("cold_coverage", {}).items():
        rows.append(f"\ncoverage, first requests of a fresh {w}-worker app: {times} ms")
    for key, r in results["runs"].items():
        if "created" in r:
            rows.append(
                f"\n{key}: {r['created']} created, overdrawn or inconsistent certificates: "
                f"{r['certificates_inconsistent_or_overdrawn']}"
            )
    if "import" in results:
        r = results["import"]
        per = ", ".join(f"{q['status']} {q['seconds']} s ({q['created']} created)" for q in r["requests"])
        rows.append(
            f"\nrating import {r['rows']} rows: {r['seconds']} s ({per}); worker CPU {r['worker_cpu_seconds']} s, "
            f"PG CPU {r['pg_cpu_seconds']} s; load1 {r['load1'][0]}–{r['load1'][1]}"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--only", default="drawdowns,me_credit,bank_demands,coverage,lean,import")
    ap.add_argument("--duration", type=float, default=25)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--rates", default="", help="e.g. drawdowns=20,me_credit=30,bank_demands=10,coverage=3")
    ap.add_argument("--households", type=int, default=50_000)
    ap.add_argument("--demands", type=int, default=15_000)
    ap.add_argument("--bench-users", type=int, default=5000)
    ap.add_argument("--import-rows", type=int, default=100_000)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--tag", default=time.strftime("%Y%m%d-%H%M"))
    a = ap.parse_args()
    only = a.only.split(",")
    rates = dict(RATES)
    for kv in filter(None, a.rates.split(",")):
        k, v = kv.split("=")
        rates[k] = float(v)
    os.environ.update(BENCH_VAR=str(VAR))
    city = ensure_city(a)
    prepare()
    total = len(city["farmers"])
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "db": DB,
        "city": city["counts"] | {"demands": city["demands"], "bench_farmers": total},
        "settings": {"duration": a.duration, "warmup": a.warmup, "rates": rates},
        "runs": {},
        "cold_coverage": {},
    }

    def save() -> None:
        (VAR / f"results-cpu-{a.tag}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))

    app_runs = [n for n in ("drawdowns", "me_credit", "bank_demands", "coverage") if n in only]
    for w in [int(x) for x in a.workers.split(",") if x] if app_runs else []:
        app = App(w)
        try:
            if "coverage" in only:
                results["cold_coverage"][w] = cold_coverage(app)
            for name in ("drawdowns", "me_credit", "bank_demands", "coverage"):
                if name in only:
                    r = scenario(app, name, rates[name], a, city)
                    results["runs"][f"{name}-{w}w"] = r
                    print(name, w, json.dumps({k: v for k, v in r.items() if k != "cpu"}), flush=True)
                    save()
        finally:
            app.stop()
    if "lean" in only:
        results["lean"] = {}
        for kind, rate in (("drawdown", rates["drawdowns"]), ("credit", rates["me_credit"])):
            results["lean"][kind] = lean(kind, rate, a, total)
            print("lean", kind, json.dumps(results["lean"][kind]), flush=True)
            save()
    if "import" in only:
        results["import"] = rating_import(a.import_rows)
        print("import", json.dumps({k: v for k, v in results["import"].items() if k != "cpu"}), flush=True)
    save()
    print()
    print(summary(results))


if __name__ == "__main__":
    main()
