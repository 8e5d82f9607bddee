#!/usr/bin/env bash
# Runs the Postman collection with newman against a gateway this script
# starts itself on a free loopback port: once on the embedded store, once on
# a private redis-server. Any failed assertion fails the script. JUnit
# reports go to postman/reports/.
#   ./scripts/interop.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "node is required (apt-get install nodejs npm)"; exit 1; }
(cd postman && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
mkdir -p postman/reports
bin=$(mktemp -d)/gateway
go build -o "$bin" ./cmd/gateway
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

run_against() { # name, REDIS_URL or empty
  local name=$1 redis=$2 port
  port=$(free_port)
  GATEWAY_ADDR="127.0.0.1:$port" GATEWAY_DATA_DIR="$(mktemp -d)" REDIS_URL="$redis" GATEWAY_LOG_LEVEL=warn "$bin" serve >/dev/null 2>"postman/reports/gateway-$name.log" &
  pids+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  tok() { "$bin" token --client "$1" --ttl 1h; }
  postman/node_modules/.bin/newman run postman/discharge-gateway.postman_collection.json \
    -e postman/local.postman_environment.json \
    --env-var "baseUrl=http://127.0.0.1:$port" \
    --env-var "accessToken=$(tok demo-trust-rxa)" \
    --env-var "otherTrustToken=$(tok demo-trust-rxb)" \
    --env-var "careHomeToken=$(tok demo-care-home-1)" \
    --env-var "careHome2Token=$(tok demo-care-home-2)" \
    --env-var "adminToken=$(tok demo-admin)" \
    --reporters cli,junit --reporter-junit-export "postman/reports/newman-$name.xml" \
    --reporter-cli-no-banner --reporter-cli-no-console
}

echo "== newman against the embedded store"
run_against embedded ""

echo "== newman against a real redis-server"
rport=$(free_port); rdir=$(mktemp -d)
redis-server --port "$rport" --bind 127.0.0.1 --dir "$rdir" --save "" --appendonly no --daemonize no --logfile "$rdir/redis.log" &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
run_against redis "redis://127.0.0.1:$rport/0"

# One plain summary line from the JUnit reports of both runs.
python3 - <<'PY'
import glob, xml.etree.ElementTree as ET
tests = failures = 0
for f in glob.glob("postman/reports/newman-*.xml"):
    root = ET.parse(f).getroot()
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    for s in suites:
        tests += int(s.get("tests", 0))
        failures += int(s.get("failures", 0)) + int(s.get("errors", 0))
print(f"newman: {tests - failures} passed, {failures} failed")
PY
