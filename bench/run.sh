#!/usr/bin/env bash
# City-scale benchmark (issue 10). One step per command; see bench/README.md.
#   bench/run.sh generate | prepare | serve [WORKERS] | capture | scenarios [ARGS] | stop | drop | all
#   bench/run.sh cpu [ARGS] | cpu-drop   (CPU per request on a small city, issue 16; see bench/cpu.py)
set -euo pipefail
cd "$(dirname "$0")/.."
DB=${BENCH_DB:-puhuitong_bench}
export DATABASE_URL=postgresql://postgres@127.0.0.1/$DB
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/10} APP_ENV=dev WORKER_IN_PROCESS=false LOG_LEVEL=${LOG_LEVEL:-ERROR}
# Connections per worker (app default 10 + 5): workers x 15 + the ceiling's workers x 10 stay far below
# PostgreSQL's max_connections (100 here, shared with other users of the server).
export DB_POOL_SIZE=${DB_POOL_SIZE:-10} DB_MAX_OVERFLOW=${DB_MAX_OVERFLOW:-5} DB_POOL_TIMEOUT_SECONDS=5
# Settings raised for the run (the report says so): the per-farmer daily draw-down cap, SMS send limits.
export DRAWDOWNS_PER_DAY=${DRAWDOWNS_PER_DAY:-1000} SMS_IP_PER_HOUR=1000000 SMS_GLOBAL_PER_HOUR=1000000
PY=.venv/bin/python
mkdir -p bench/var
case "${1:-}" in
  generate) $PY -m bench.generate --db "$DB" ;;
  prepare) redis-cli -n 10 flushdb >/dev/null; $PY -m bench.prepare ;;
  serve)
    W=${2:-1}
    $PY -m uvicorn app.main:app --host 127.0.0.1 --port 8000 --workers "$W" --log-level warning \
      --loop uvloop --http httptools --timeout-keep-alive 75 --no-access-log > bench/var/app.log 2>&1 & echo $! > bench/var/app.pid
    CEILING_DSN=$DATABASE_URL $PY -m uvicorn bench.ceiling:app --host 127.0.0.1 --port 8001 --workers "$W" \
      --log-level warning --timeout-keep-alive 75 --no-access-log > bench/var/ceiling.log 2>&1 & echo $! > bench/var/ceiling.pid
    for _ in $(seq 50); do curl -sf http://127.0.0.1:8000/api/v1/regions/4117 >/dev/null && break; sleep 0.2; done ;;
  capture) $PY -m bench.ceiling capture http://127.0.0.1:8000 ;;
  scenarios) shift; $PY -m bench.scenarios "$@" ;;
  stop) for f in bench/var/app.pid bench/var/ceiling.pid; do [ -f $f ] && kill "$(cat $f)" 2>/dev/null; rm -f $f; done ;;
  cpu) shift; BENCH_VAR=bench/var/cpu $PY -m bench.cpu "$@" ;;
  cpu-drop)
    CPU_DB=${BENCH_CPU_DB:-puhuitong_${BENCH_NAME:-h16bench}_cpu}
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ${CPU_DB}_import WITH (FORCE)" -c "DROP DATABASE IF EXISTS $CPU_DB WITH (FORCE)"
    rm -f bench/var/cpu/city.json bench/var/cpu/state.json ;;
  drop) psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; redis-cli -n 10 flushdb ;;
  all)
    "$0" generate; "$0" prepare; "$0" serve 1; "$0" capture
    "$0" stop; sleep 1; "$0" serve 1; "$0" scenarios --tag 1w; "$0" stop
    "$0" prepare; "$0" serve 2; "$0" scenarios --tag 2w; "$0" stop ;;
  *) echo "usage: $0 generate|prepare|serve [W]|capture|scenarios [--only a,b] [--tag t]|stop|drop|all|cpu [ARGS]|cpu-drop"; exit 2 ;;
esac
