#!/usr/bin/env bash
# Benchmarks, with their same-run baselines, written to bench/results.md.
#   ./scripts/bench.sh            # gateway create/read/search vs bare Echo; the record store vs a raw INSERT/SELECT through pgx
# Each figure is reported as a ratio against a baseline measured in the same
# run on the same machine, never as an absolute promise.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-server >/dev/null || { echo "redis-server missing: run ./scripts/test.sh once, or apt-get install redis-server"; exit 1; }
export REDISTEST_REQUIRED=1 PGTEST_REQUIRED=1
out=bench/results.md
raw=$(mktemp)
benchtime=${BENCHTIME:-2s}
go test -run "^$" -bench . -benchtime "$benchtime" -count 1 ./gateway/ ./adapters/sqlstore/ ./auth/ ./fhir/ | tee "$raw"
{
  echo "# Benchmark results"
  echo
  echo "Machine: $(nproc) cores, $(go version | cut -d' ' -f3), $(redis-server --version | cut -d' ' -f3), $(date -u +%F)"
  echo
  echo '```'
  grep -E '^(Benchmark|goos|goarch|cpu|pkg)' "$raw"
  echo '```'
  echo
  echo "| benchmark | ns/op | ops/s | ratio to baseline |"
  echo "|---|---:|---:|---:|"
  awk '
    /^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name); ns[name]=$3; order[++n]=name }
    END {
      for (i=1; i<=n; i++) {
        k=order[i]; base=""
        if (k ~ /^Benchmark(Create|Read|Search)Patient/) base=ns["BenchmarkBaselineEchoDecode"]
        if (k ~ /^BenchmarkStore\/postgres\/commit/) base=ns["BenchmarkStore/postgres/raw-insert"]
        if (k ~ /^BenchmarkStore\/postgres\/(read|search)/) base=ns["BenchmarkStore/postgres/raw-select"]
        ratio = (base != "" && k !~ /Baseline|raw-/) ? sprintf("%.1fx baseline time", ns[k]/base) : (k ~ /Baseline|raw-/ ? "baseline" : "-")
        printf "| %s | %.0f | %.0f | %s |\n", k, ns[k], 1e9/ns[k], ratio
      }
    }' "$raw"
} > "$out"
rm -f "$raw"
echo "wrote $out"
