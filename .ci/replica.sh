#!/usr/bin/env bash
# A PostgreSQL streaming replica of the machine's server (127.0.0.1:5432) on another port, for the scale test.
#   .ci/replica.sh start DIR [PORT]   pg_basebackup -R into DIR, start it (as the postgres OS user), wait for it
#   .ci/replica.sh stop DIR           stop it and remove DIR (and the pg_hba.conf line, if this script added it)
# The primary must accept replication connections from 127.0.0.1: if it does not, one
# `host replication all 127.0.0.1/32 trust` line is added to its pg_hba.conf (marked, and removed on stop).
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?data directory}; port=${3:-5442}
PRIMARY="host=127.0.0.1 port=5432 user=postgres"
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }
MARK="# added by puhuitong .ci/replica.sh"

case "$cmd" in
start)
  hba="$(psql "$PRIMARY" -Atc 'SHOW hba_file')"
  if ! psql "$PRIMARY replication=true" -Atc IDENTIFY_SYSTEM >/dev/null 2>&1; then
    echo "host replication all 127.0.0.1/32 trust $MARK" >>"$hba"
    psql "$PRIMARY" -qAtc 'SELECT pg_reload_conf()' >/dev/null
    sleep 0.5
  fi
  rm -rf "$dir"; mkdir -p "$dir"; chown postgres:postgres "$dir"; chmod 700 "$dir"
  as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p 5432 -U postgres -D "$dir" -R -X stream -c fast -w
  # Debian keeps the configuration outside the data directory: give the replica its own, minimal one.
  as_pg tee "$dir/postgresql.conf" >/dev/null <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
hot_standby = on
hot_standby_feedback = on
max_connections = 200
shared_buffers = 128MB
fsync = off
logging_collector = off
CONF
  as_pg tee "$dir/pg_hba.conf" >/dev/null <<'CONF'
local all all trust
host all all 127.0.0.1/32 trust
CONF
  : | as_pg tee "$dir/pg_ident.conf" >/dev/null
  as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null
  for _ in $(seq 1 60); do
    [ "$(psql -h 127.0.0.1 -p "$port" -U postgres -Atc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ] && exit 0
    sleep 0.5
  done
  echo "replica on :$port did not come up"; tail -n 30 "$dir/server.log"; exit 1
  ;;
stop)
  if [ -f "$dir/postmaster.pid" ]; then as_pg "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true; fi
  rm -rf "$dir"
  hba="$(psql "$PRIMARY" -Atc 'SHOW hba_file' 2>/dev/null || true)"
  if [ -n "$hba" ] && grep -qF "$MARK" "$hba"; then
    sed -i "\|$MARK|d" "$hba"
    psql "$PRIMARY" -qAtc 'SELECT pg_reload_conf()' >/dev/null || true
  fi
  ;;
*) echo "usage: $0 start|stop DIR [PORT]"; exit 2 ;;
esac
