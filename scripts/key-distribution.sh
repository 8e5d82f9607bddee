#!/usr/bin/env bash
# Key distribution over a local 3-master Redis Cluster after loading
# synthetic England: the capacity cache's keys per master, by kind (the
# directory itself is in the record, a SQLite file in the working
# directory here: Redis holds none of it). Results: bench/key-distribution.md.
#   ./scripts/key-distribution.sh            # 25,000 providers
#   PROVIDERS=100000 ./scripts/key-distribution.sh
set -euo pipefail
cd "$(dirname "$0")/.."
providers=${PROVIDERS:-25000}; out=${OUT:-bench/key-distribution.md}
work=$(mktemp -d)
trap 'scripts/redis-cluster.sh stop "$work/redis" || true; rm -rf "$work"' EXIT
go build -o "$work/gateway" ./cmd/gateway
addrs=$(scripts/redis-cluster.sh start "$work/redis" | sed -n 's/^REDIS_ADDRS=//p')
REDIS_ADDRS=$addrs GATEWAY_DATA_DIR=$work/data GATEWAY_LOG_LEVEL=warn "$work/gateway" seed --providers "$providers" > "$work/seed.txt"
{
  echo "# Key distribution after loading synthetic England ($providers providers)"
  echo
  echo "$(date -u +%F), local Redis Cluster of 3 masters and 3 replicas; \`$(cat "$work/seed.txt")\`"
  echo
  echo "| master | slots | keys | geo shards (\`dg:{geo:…}\`) | home-care coverage (\`dg:{hc:…}\`) | capacity (\`dg:{cap:…}\`) | freshness index | other | used memory |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
  while read -r p; do
    [ "$(redis-cli -p "$p" role | head -1)" = master ] || continue
    redis-cli -p "$p" --scan > "$work/keys-$p"
    count() { grep -c "$1" "$work/keys-$p" || true; }
    total=$(wc -l < "$work/keys-$p")
    g=$(count '^dg:{geo:'); h=$(count '^dg:{hc:'); c=$(count '^dg:{cap:'); f=$(count '^dg:{capfresh')
    mem=$(redis-cli -p "$p" info memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p')
    # Slots this master serves: the sum of its ranges in CLUSTER SHARDS.
    id=$(redis-cli -p "$p" cluster myid)
    slots=$(redis-cli -p "$p" cluster nodes | awk -v id="$id" '$1 == id { n = 0; for (i = 9; i <= NF; i++) { split($i, r, "-"); n += (r[2] == "" ? 1 : r[2] - r[1] + 1) } print n }')
    echo "| 127.0.0.1:$p | $slots | $total | $g | $h | $c | $f | $((total - g - h - c - f)) | $mem |"
  done < "$work/redis/ports"
  echo
  echo "Largest key of each type on each master (\`redis-cli --memkeys\`, which measures every key):"
  echo
  while read -r p; do
    [ "$(redis-cli -p "$p" role | head -1)" = master ] || continue
    redis-cli -p "$p" --memkeys 2>/dev/null | sed -n "s/^Biggest *\([a-z]*\) found '\(.*\)' has \([0-9]*\) bytes/- 127.0.0.1:$p \1 \`\2\`: \3 bytes/p"
  done < "$work/redis/ports"
  echo
} > "$out"
cat "$out"
