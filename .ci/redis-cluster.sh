#!/usr/bin/env bash
# A 3-node Redis Cluster on 127.0.0.1 (no replicas, nothing kept on disk), for the scale test.
#   .ci/redis-cluster.sh start DIR [PORT1 PORT2 PORT3]   (default 7101 7102 7103)
#   .ci/redis-cluster.sh stop DIR [PORTS...]
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?directory}; shift 2
ports=("$@"); [ ${#ports[@]} -gt 0 ] || ports=(7101 7102 7103)
case "$cmd" in
start)
  mkdir -p "$dir"
  for p in "${ports[@]}"; do
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$dir/nodes-$p.conf" \
      --cluster-node-timeout 5000 --dir "$dir" --save "" --appendonly no --daemonize yes \
      --pidfile "$dir/redis-$p.pid" --logfile "$dir/redis-$p.log"
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 1 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  nodes=(); for p in "${ports[@]}"; do nodes+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log"
  for _ in $(seq 1 100); do
    ok=1
    for p in "${ports[@]}"; do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
    done
    [ $ok = 1 ] && exit 0
    sleep 0.1
  done
  echo "redis cluster did not reach cluster_state:ok"; cat "$dir/create.log"; exit 1
  ;;
stop)
  for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop DIR [PORTS...]"; exit 2 ;;
esac
