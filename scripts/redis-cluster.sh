#!/usr/bin/env bash
# A local Redis Cluster of 3 masters and 3 replicas on free loopback ports,
# each node with its own directory, AOF on with appendfsync always.
#   scripts/redis-cluster.sh start DIR     # prints REDIS_ADDRS=host:port,...
#   scripts/redis-cluster.sh stop DIR
#   scripts/redis-cluster.sh keys DIR      # keys per master (DBSIZE)
# The gateway then runs with REDIS_ADDRS set to the printed list.
set -euo pipefail
cmd=${1:?start, stop or keys}; dir=${2:?a directory for the nodes}
# A cluster node also listens on its port + 10000 (the cluster bus), so the
# port must be at most 55535 and both must be free.
free_port() { python3 - <<'PY'
import random, socket
while True:
    p = random.randint(10000, 22000)  # p and p+10000 below the ephemeral range (32768+)
    try:
        for q in (p, p + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", q)); s.close()
        print(p); break
    except OSError:
        pass
PY
}
case "$cmd" in
start)
  mkdir -p "$dir"
  ports=()
  for i in 1 2 3 4 5 6; do
    p=$(free_port); ports+=("$p"); mkdir -p "$dir/$p"
    redis-server --port "$p" --bind 127.0.0.1 --dir "$dir/$p" --daemonize yes --logfile "$dir/$p/redis.log" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --appendonly yes --appendfsync always --save "" --repl-diskless-sync-delay 0
  done
  for p in "${ports[@]}"; do
    up=0
    for _ in $(seq 200); do redis-cli -p "$p" ping >/dev/null 2>&1 && { up=1; break; }; sleep 0.05; done
    [ "$up" = 1 ] || { echo "node on port $p did not start:" >&2; cat "$dir/$p/redis.log" >&2; exit 1; }
  done
  printf '%s\n' "${ports[@]}" > "$dir/ports"
  addrs=$(printf '127.0.0.1:%s ' "${ports[@]}")
  redis-cli --cluster create $addrs --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 || { cat "$dir/create.log"; exit 1; }
  for _ in $(seq 200); do
    ok=1
    for p in "${ports[@]}"; do redis-cli -p "$p" cluster info | grep -q 'cluster_state:ok' || ok=0; done
    [ "$ok" = 1 ] && break; sleep 0.1
  done
  [ "$ok" = 1 ] || { echo "cluster did not reach cluster_state:ok" >&2; exit 1; }
  echo "REDIS_ADDRS=$(printf '127.0.0.1:%s,' "${ports[@]}" | sed 's/,$//')"
  ;;
stop)
  [ -f "$dir/ports" ] || exit 0
  while read -r p; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done < "$dir/ports"
  ;;
keys)
  while read -r p; do
    role=$(redis-cli -p "$p" role 2>/dev/null | head -1) || continue
    if [ "$role" = master ]; then
      echo "127.0.0.1:$p master keys=$(redis-cli -p "$p" dbsize) used_memory=$(redis-cli -p "$p" info memory | grep '^used_memory_human' | cut -d: -f2 | tr -d '\r')"
    fi
  done < "$dir/ports"
  ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
