#!/usr/bin/env bash
# The scale test: the app on real distributed parts, all on this machine, all stopped at the end.
#   - a PostgreSQL streaming replica of the machine's server (127.0.0.1:5432) on :5442 (.ci/replica.sh)
#   - a 3-node Redis Cluster on :7101-7103 (.ci/redis-cluster.sh)
#   - two API processes (uvicorn, :18201 and :18202) with DATABASE_READ_URLS and REDIS_URL=redis+cluster://…
#   - two workers (python -m app.cli worker), and nginx on :18280 (deploy/*.template) in front of the API
# then: the cross-process tests through nginx (tests/scale, tests/multiprocess when present), a stopped replica
# falling back to the primary, and the whole suite with TEST_DATABASE_READ_URLS and a cluster TEST_REDIS_URL.
# Needs root for apt-get (nginx) and to run the replica as the postgres OS user. Ports: SCALE_PORT_BASE (18200).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
BASE=${SCALE_PORT_BASE:-18200}
API_PORTS=($((BASE + 1)) $((BASE + 2)))
NGINX_PORT=$((BASE + 80))
REPLICA_PORT=${SCALE_REPLICA_PORT:-5442}
CLUSTER_PORTS=(${SCALE_CLUSTER_PORTS:-7101 7102 7103})
WORK="$(mktemp -d /tmp/puhuitong-scale.XXXXXX)"
chmod 755 "$WORK"
DB="puhuitong_scale_$$"          # what the running servers use
SUITE_DB="puhuitong_scale_suite_$$"  # what the whole suite uses (in-process, like the other passes)
PIDS=()
suite_failed=0
PRIMARY="host=127.0.0.1 port=5432 user=postgres"

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  [ -f "$WORK/nginx/nginx.pid" ] && kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  .ci/redis-cluster.sh stop "$WORK/cluster" "${CLUSTER_PORTS[@]}" >/dev/null 2>&1
  .ci/replica.sh stop "$WORK/replica" "$REPLICA_PORT" >/dev/null 2>&1
  psql "$PRIMARY" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "DROP DATABASE IF EXISTS $SUITE_DB WITH (FORCE)" \
    >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "-- nginx"
if ! command -v nginx >/dev/null; then
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null
fi

echo "-- databases, a streaming replica on :$REPLICA_PORT, a Redis Cluster on ${CLUSTER_PORTS[*]}"
psql "$PRIMARY" -qc "CREATE DATABASE $DB" -c "CREATE DATABASE $SUITE_DB"
.ci/replica.sh start "$WORK/replica" "$REPLICA_PORT"
.ci/redis-cluster.sh start "$WORK/cluster" "${CLUSTER_PORTS[@]}"
CLUSTER_URL="redis+cluster://$(printf '127.0.0.1:%s,' "${CLUSTER_PORTS[@]}" | sed 's/,$//')"

# The servers run with the test settings of tests/conftest.py (the cross-process tests log in through them).
export APP_ENV=test SECRET_KEY="test-secret-key-0123456789abcdef0123456789" SMS_BACKEND=file \
  SMS_OUTBOX_PATH="$WORK/sms-outbox.jsonl" MEDIA_ROOT="$WORK/media" WORKER_IN_PROCESS=false \
  WEBHOOK_ALLOW_PRIVATE_URLS=true ARGON2_MEMORY_KIB=1024 ARGON2_TIME_COST=1 ARGON2_PARALLELISM=1 \
  SMS_IP_PER_HOUR=1000000 SMS_GLOBAL_PER_HOUR=1000000 LOG_LEVEL=WARNING \
  DATABASE_URL="postgresql://postgres@127.0.0.1:5432/$DB" \
  DATABASE_READ_URLS="postgresql://postgres@127.0.0.1:$REPLICA_PORT/$DB" \
  REDIS_URL="$CLUSTER_URL" DB_POOL_SIZE=5 DB_MAX_OVERFLOW=5
mkdir -p "$WORK/media"
.venv/bin/alembic upgrade head >/dev/null
.venv/bin/python -m app.cli seed-demo >/dev/null
ADMIN_PASSWORD="Ladder-Quartz-Orbit-73"
.venv/bin/python -m app.cli create-user --role admin --username scale-admin --password "$ADMIN_PASSWORD" >/dev/null

echo "-- two API processes (:${API_PORTS[*]}), two workers, nginx on :$NGINX_PORT"
for port in "${API_PORTS[@]}"; do
  .venv/bin/python -m uvicorn app.main:app --host 127.0.0.1 --port "$port" --log-level warning \
    >"$WORK/api-$port.log" 2>&1 &
  PIDS+=($!)
done
for n in 1 2; do
  .venv/bin/python -m app.cli worker >"$WORK/worker-$n.log" 2>&1 &
  PIDS+=($!)
done
mkdir -p "$WORK/nginx/tmp"
servers=""
for port in "${API_PORTS[@]}"; do servers+="server 127.0.0.1:$port max_fails=3 fail_timeout=10s; "; done
sed -e "s|\${API_UPSTREAM_SERVERS}|$servers|" -e "s|\${NGINX_LISTEN}|127.0.0.1:$NGINX_PORT|" \
  -e "s|\${MEDIA_ROOT}|$WORK/media|" deploy/puhuitong.conf.template >"$WORK/nginx/puhuitong.conf"
sed -e "s|\${NGINX_PREFIX}|$WORK/nginx|g" deploy/nginx.conf.template >"$WORK/nginx/nginx.conf"
if [ "$(id -u)" = 0 ]; then
  sed -i '1i user www-data;' "$WORK/nginx/nginx.conf"; chown -R www-data "$WORK/nginx/tmp"
fi
nginx -t -q -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
for port in "${API_PORTS[@]}"; do
  for _ in $(seq 1 120); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { tail -n 40 "$WORK/api-$port.log"; exit 1; }
done
curl -fs "http://127.0.0.1:$NGINX_PORT/readyz" >/dev/null

show_logs() {
  for f in "$WORK"/api-*.log "$WORK"/worker-*.log "$WORK/nginx/error.log"; do
    echo "-- $f (last 30 lines)"; tail -n 30 "$f"
  done
}

echo "-- nginx answers its own refusals as problem+json"
big=$(head -c 1300000 /dev/zero | tr '\0' 'a')
code=$(printf '{"x":"%s"}' "$big" | curl -s -o "$WORK/413.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @- "http://127.0.0.1:$NGINX_PORT/api/v1/auth/sessions")
[ "$code" = 413 ] && grep -q '"code":"payload_too_large"' "$WORK/413.json" || { echo "413: $code"; exit 1; }
echo test >"$WORK/media/probe.txt"
curl -fsI "http://127.0.0.1:$NGINX_PORT/media/probe.txt" | grep -qi '^cache-control: public, max-age=31536000' \
  || { echo "media not served with a long cache"; exit 1; }

echo "-- cross-process tests through nginx"
targets=(tests/scale/test_cross_process.py)
[ -d tests/multiprocess ] && targets+=(tests/multiprocess)
# The multiprocess races check the database and Redis the servers use (TEST_DATABASE_URL, TEST_REDIS_URL: the
# same database and cluster as the two API processes); without them they would skip.
if ! env -u DATABASE_URL -u DATABASE_READ_URLS -u REDIS_URL \
  TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/$DB" TEST_REDIS_URL="$CLUSTER_URL" \
  SCALE_API_URLS="http://127.0.0.1:$NGINX_PORT/api/v1" SCALE_SMS_OUTBOX="$WORK/sms-outbox.jsonl" \
  SCALE_ADMIN_USERNAME=scale-admin SCALE_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  .venv/bin/python -m pytest "${targets[@]}" 2>&1 | tee "$WORK/cross.log"; then
  show_logs; exit 1
fi
grep -qE '[0-9]+ passed' "$WORK/cross.log" || { echo "the cross-process tests ran nothing"; exit 1; }
if grep -qE '[0-9]+ skipped' "$WORK/cross.log"; then echo "cross-process tests skipped through nginx"; exit 1; fi

if [ "${SCALE_SKIP_SUITE:-}" = 1 ]; then echo "0 passed, 0 failed" >"$WORK/suite.log"; else
echo "-- the whole suite with the replica and the cluster (TEST_DATABASE_READ_URLS, TEST_REDIS_URL)"
redis-cli -p "${CLUSTER_PORTS[0]}" -c flushall >/dev/null
for p in "${CLUSTER_PORTS[@]}"; do redis-cli -p "$p" flushall >/dev/null; done
env -u DATABASE_URL -u DATABASE_READ_URLS -u REDIS_URL -u APP_ENV -u SECRET_KEY -u SMS_OUTBOX_PATH -u MEDIA_ROOT \
  -u DB_POOL_SIZE -u DB_MAX_OVERFLOW \
  TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/$SUITE_DB" \
  TEST_DATABASE_READ_URLS="postgresql://postgres@127.0.0.1:$REPLICA_PORT/$SUITE_DB" \
  TEST_REDIS_URL="$CLUSTER_URL" .venv/bin/python -m pytest 2>&1 | tee "$WORK/suite.log" || suite_failed=1
fi

echo "-- a stopped replica: reads fall back to the primary"
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
runuser -u postgres -- "$bin/pg_ctl" -D "$WORK/replica" -m immediate -w stop >/dev/null
sleep 2  # past DATABASE_READ_CHECK_SECONDS: the next read re-checks the replicas before choosing one
for _ in 1 2 3 4; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/api/v1/regions/411702")
  [ "$code" = 200 ] || { echo "read with the replica down: $code"; show_logs; exit 1; }
done
echo "replica stopped: every read answered 200 from the primary"
echo "scale: $(tail -n 1 "$WORK/cross.log" | tr -d '=') through nginx; whole suite: $(tail -n 1 "$WORK/suite.log")"
[ "$suite_failed" = 0 ] || { echo "the whole suite failed on the replica and the cluster"; exit 1; }
