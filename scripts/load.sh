#!/usr/bin/env bash
# Load test of $placement-options at 1,000, 25,000 and 100,000 providers,
# each against its own private redis-server on a free loopback port (the
# capacity cache) and a record in a SQLite file in a temporary directory
# (loadgen's default; DATABASE_URL=postgres://… an empty database instead,
# one size per run).
# Results go to bench/placement-<N>.md. Each run also measures capacity
# postings (PUT /api/v1/capacity/{id}) against a bare Echo handler decoding
# and re-encoding the same body, and intake (POST /fhir/Patient, a new patient
# each time) against a bare Echo handler decoding the same Patient into the
# FHIR model and re-encoding it; LOADGEN_ARGS passes more flags, e.g.
#   LOADGEN_ARGS="--cpuprofile /tmp/place.cpu --capacity-cpuprofile /tmp/cap.cpu"
#   ./scripts/load.sh                 # all three sizes, 15 s per phase
#   SIZES="25000" DURATION=30s ./scripts/load.sh
#   SIZES="25000" LOADGEN_ARGS="--half-runs 5" ./scripts/load.sh   # five p99s at half saturation
#   SIZES="1000" LOADGEN_ARGS="--placement=false --workers 16 --intake-cpuprofile /tmp/in.cpu" ./scripts/load.sh
#                                     # the write phases only, 16 clients
#   SIZES="25000" LOADGEN_ARGS="--half-runs 5 --open-rate 600" ./scripts/load.sh
#                                     # the open loops at a fixed rate: two builds at one load
#   SIZES="25000" LOADGEN_ARGS="--half-runs 5 --stall-trace /tmp/stall.trace" ./scripts/load.sh
#                                     # at each open loop's first request over 100 ms
#                                     # (--stall-after), the runtime's flight recorder
#                                     # writes the seconds before it: go tool trace reads it
# Each report also gives the memory after the saturation phase (process RSS,
# Go heap, redis-server RSS) and the per-request wall time against bare Echo's.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || { echo "redis-server missing: run ./scripts/test.sh once, or apt-get install redis-server"; exit 1; }
sizes=${SIZES:-"1000 25000 100000"}
duration=${DURATION:-15s}
go build -o /tmp/dg-loadgen ./cmd/loadgen
for n in $sizes; do
  dir=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize yes --logfile "$dir/redis.log"
  trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
  sleep 0.3
  /tmp/dg-loadgen --redis "redis://127.0.0.1:$port/0" --providers "$n" --duration "$duration" --out "bench/placement-$n.md" ${DATABASE_URL:+--database "$DATABASE_URL"} ${LOADGEN_ARGS:-}
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$dir"
  trap - EXIT
  cat "bench/placement-$n.md"
done
