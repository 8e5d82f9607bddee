#!/usr/bin/env bash
# Soak: 2 gateway processes over one record and a local 3-master/3-replica
# Redis Cluster as the capacity cache (AOF, appendfsync always, capacity
# cached after WAIT for 1 replica), a mixed load from `loadgen soak`
# (cmd/loadgen, the placement load generator) for DURATION, then every
# acknowledged write read back. The record is DATABASE_URL's PostgreSQL when
# set (an empty database), else a SQLite file in the working directory that
# both gateways share. Results: bench/soak.md (or OUT).
#   ./scripts/soak.sh                          # 10 minutes, 25,000 providers, no fault
#   FAULT=1 ./scripts/soak.sh                  # also kill -9 a cache master half way, restart it 30 s later
#   DURATION=2m PROVIDERS=5000 RATE=60 ./scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-10m}; providers=${PROVIDERS:-25000}; rate=${RATE:-80}; out=${OUT:-bench/soak.md}
work=$(mktemp -d); echo "== working in $work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/redis-cluster.sh stop "$work/redis" || true
}
trap cleanup EXIT
go build -o "$work/gateway" ./cmd/gateway
go build -o "$work/loadgen" ./cmd/loadgen
addrs=$(scripts/redis-cluster.sh start "$work/redis" | sed -n 's/^REDIS_ADDRS=//p')
echo "== cluster: $addrs"
if [ -z "${DATABASE_URL:-}" ]; then export GATEWAY_DATA_DIR=$work/data; fi
export REDIS_ADDRS=$addrs GATEWAY_BASE_URL=http://gateway.soak/fhir GATEWAY_RATE_LIMIT=0 REDIS_WAIT_REPLICAS=1 REDIS_TIMEOUT=2s GATEWAY_LOG_LEVEL=warn
echo "== seeding $providers synthetic providers"
"$work/gateway" seed --providers "$providers"
# Locations owned by the demo care provider, whose capacity the soak posts.
csv=$work/own.csv; echo "name,cqcLocationId,providerId,services,postcode" > "$csv"
locs=()
for i in $(seq 1 40); do
  id=$(printf '1-5%08d' "$i"); locs+=("cqc-$id")
  echo "Soak Home $i,$id,1-000000001,nursing,M$(( (i % 30) + 1 )) 1AA" >> "$csv"
done
"$work/gateway" import directory "$csv" > "$work/import.json"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
urls=()
for g in 1 2; do
  port=$(free_port)
  GATEWAY_ADDR=127.0.0.1:$port "$work/gateway" serve > "$work/gateway-$g.out" 2> "$work/gateway-$g.log" &
  pids+=($!); urls+=("http://127.0.0.1:$port")
done
for u in "${urls[@]}"; do
  for _ in $(seq 200); do curl -fsS "$u/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "$u/readyz" >/dev/null
done
trust=$("$work/gateway" token --client demo-trust-rxa --ttl 3h)
prov=$("$work/gateway" token --client demo-care-home-1 --ttl 3h)
fault_args=()
if [ "${FAULT:-0}" = 1 ]; then
  secs=$(python3 -c "import re,sys; d='$duration'; m=re.fullmatch(r'(\d+)(s|m|h)', d); print(int(m[1])*{'s':1,'m':60,'h':3600}[m[2]])")
  half=$((secs / 2))
  fault_args=(--fault-from "${half}s" --fault-to "$((half + 60))s")
  (
    sleep "$half"
    first=$(head -1 "$work/redis/ports")
    slot=$(redis-cli -p "$first" cluster keyslot "dg:{cap:${locs[0]}}")
    # The master caching the first soak home's capacity, which the soak posts.
    port=$(redis-cli -p "$first" cluster nodes | awk -v s="$slot" '$3 ~ /master/ && $8 != "" { for (i = 9; i <= NF; i++) { split($i, r, "-"); if (s >= r[1] && s <= (r[2] == "" ? r[1] : r[2])) { split($2, a, "[:@]"); print a[2] } } }' | head -1)
    pid=$(redis-cli -p "$port" info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p')
    echo "== $(date -u +%T) FAULT: kill -9 master 127.0.0.1:$port (pid $pid), serving slot $slot" | tee "$work/fault.log"
    kill -9 "$pid"
    sleep 30
    redis-server --port "$port" --bind 127.0.0.1 --dir "$work/redis/$port" --daemonize yes --logfile "$work/redis/$port/redis.log" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 --appendonly yes --appendfsync always --save "" --repl-diskless-sync-delay 0
    echo "== $(date -u +%T) FAULT: restarted 127.0.0.1:$port; it rejoins as a replica" | tee -a "$work/fault.log"
  ) &
fi
# Every 10 s: CPU seconds of each gateway and Redis node, and each node's
# role and replication state, to explain latency changes (summarised below).
(
  tick=$(getconf CLK_TCK)
  while sleep 10; do
    now=$(date +%s)
    for g in "${!pids[@]}"; do
      echo "$now gateway-$((g + 1)) $(awk -v t="$tick" '{printf "%.2f", ($14 + $15) / t}' /proc/"${pids[$g]}"/stat 2>/dev/null || echo -)"
    done
    while read -r p; do
      info=$(redis-cli -p "$p" info everything 2>/dev/null | tr -d '\r') || continue
      f() { printf '%s\n' "$info" | sed -n "s/^$1:\(.*\)/\1/p" | head -1; }
      echo "$now $p $(f used_cpu_sys) $(f used_cpu_user) $(f role) $(f sync_full) $(f rdb_bgsave_in_progress) $(f aof_rewrite_in_progress) $(f master_link_status)"
    done < "$work/redis/ports"
  done > "$work/samples.txt"
) &
sampler=$!
note="2 gateways (pids ${pids[*]}), Redis Cluster 3 masters + 3 replicas on loopback, AOF appendfsync always, REDIS_WAIT_REPLICAS=1; $providers synthetic providers; offered rate $rate req/s."
status=0
"$work/loadgen" soak --gateways "$(IFS=,; echo "${urls[*]}")" --pids "$(IFS=,; echo "${pids[*]}")" --trust-token "$trust" --provider-token "$prov" \
  --locations "$(IFS=,; echo "${locs[*]}")" --duration "$duration" --rate "$rate" --out "$out" --note "$note" "${fault_args[@]}" || status=$?
kill "$sampler" 2>/dev/null || true
{
  echo
  if [ -f "$work/fault.log" ]; then echo "Injected fault:"; echo; sed 's/^== /- /' "$work/fault.log"; echo; fi
  echo "Keys and memory per master after the run (synthetic England loaded):"
  echo
  scripts/redis-cluster.sh keys "$work/redis" | sed 's/^/- /'
  echo
  echo
  echo "CPU per minute (share of one core) and replication state, sampled every 10 s:"
  echo
  python3 scripts/soak-samples.py "$work/samples.txt"
  echo
  echo "Replication and persistence events in the Redis node logs after the fault:"
  echo
  if [ -f "$work/fault.log" ]; then
    grep -hE 'Full resync|MASTER <-> REPLICA sync: Finished|Synchronization with replica .* succeeded|Failover election won|Background AOF rewrite (finished|terminated)|Background RDB transfer|output buffer|scheduled to be closed|Starting BGSAVE|Loading the AOF|DB loaded from' "$work"/redis/*/redis.log \
      | sort -k5,5 | sed 's|^.*/redis/\([0-9]*\)/redis.log:|    \1 |' | tail -40
  fi
  echo
  echo "Gateway error log lines: $(cat "$work"/gateway-*.log | grep -c '"level":"ERROR"' || true)"
} >> "$out"
cat "$out"
exit $status
