#!/usr/bin/env bash
# The one command that runs every test: ./scripts/test.sh
#
# It installs what the tests need when it is missing (redis-server,
# postgresql, nodejs/npm, curl and jq from the distribution's packages), then
# runs formatting and vet checks and the Go test suite. Integration tests
# start their own redis-server and PostgreSQL processes on free loopback ports
# with their own temporary directories; they never use a server that is
# already running. REDISTEST_REQUIRED=1 and PGTEST_REQUIRED=1 make a missing
# redis-server or PostgreSQL a failure instead of a skip.
#
#   ./scripts/test.sh quick   unit tests and the single-Redis integration
#                             suites only, without the race detector (about
#                             two minutes): for the edit-test loop. CI runs
#                             the full command.
set -euo pipefail
mode=${1:-full}
case "$mode" in full | quick) ;; *)
  echo "usage: $0 [quick]" >&2
  exit 2
  ;;
esac
cd "$(dirname "$0")/.."

log() { printf '== %s %s\n' "$(date -u +%T)" "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

if ! command -v redis-server >/dev/null 2>&1; then
  log "redis-server not found: installing it with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  log "node/npm not found: installing them with apt-get (the Postman collection runs under newman)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  log "PostgreSQL (initdb, postgres) not found: installing postgresql with apt-get (the record store's tests start their own servers)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
for tool in curl jq; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "$tool not found: installing it with apt-get (the README quick start uses it)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
  fi
done
# The dashboard's browser test (docs/dashboard.md): Debian's chromium, and
# axe-core at the version pinned in web/testdata/axe/package-lock.json.
if ! command -v chromium >/dev/null 2>&1; then
  log "chromium not found: installing it with apt-get (the dashboard's browser test drives it headless)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
(cd web/testdata/axe && npm ci --silent --no-audit --no-fund)
export WEBTEST_REQUIRED=1
export WEBTEST_ARTIFACTS="${ARTIFACTS:-$PWD/web/testdata/out}"
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; else
    log "Go is not installed: install Go 1.26 or newer (https://go.dev/doc/install)"; exit 1; fi
fi
log "$(go version); $(redis-server --version | cut -d' ' -f1-3)"

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi

log "go vet"
go vet ./...

export REDISTEST_REQUIRED=1 PGTEST_REQUIRED=1
if [ "$mode" = quick ]; then
  log "go test (quick: no race detector, single Redis only)"
  go test -count=1 -timeout 10m ./...
  exit 0
fi
log "go test (unit, golden, integration against real redis-server and PostgreSQL, the gateway's record on SQLite, fuzz seed corpora)"
go test -race -count=1 -timeout 15m ./...

# The tests that start a PostgreSQL of their own to kill or fail it over
# (the record's fault tests) do not read GATEWAY_TEST_STORE or depend on the
# Redis topology: they run once, in the pass above, and the repeat passes
# below skip them (about a minute each).
pgfaults='^(TestPostgresKilledUnderLoad|TestPostgresFailoverToSynchronousStandby|TestRecordDownThenBack)$'

log "gateway and cmd/gateway suites again with the record on a PostgreSQL the tests start (GATEWAY_TEST_STORE=postgres: one server, a fresh database per test; the pass above ran them on SQLite; adapters/sqlstore runs both engines in every pass)"
GATEWAY_TEST_STORE=postgres go test -count=1 -timeout 10m -skip "$pgfaults" ./gateway/ ./cmd/gateway/

log "integration suites again on a Redis Cluster of 3 masters and 3 replicas that the tests start (REDISTEST_MODE=cluster)"
REDISTEST_MODE=cluster go test -count=1 -timeout 10m -skip "$pgfaults" ./adapters/rediscache/ ./gateway/ ./cmd/gateway/

log "integration suites again through Sentinel (a master, a replica and 3 Sentinels that the tests start; REDISTEST_MODE=sentinel)"
REDISTEST_MODE=sentinel go test -count=1 -timeout 10m -skip "$pgfaults" ./adapters/rediscache/ ./gateway/ ./cmd/gateway/

log "deploy/: kustomize build, kubeconform -strict (Kubernetes 1.30 and 1.34), collector config, alert rules, Redis configs, Dockerfile"
./scripts/deploy-check.sh

log "every published conformance resource and every kind of output under two FHIR validators (HL7 JSON Schema; Medplum, with FHIRPath invariants)"
./scripts/validate-outputs.sh

log "the README quick start, run as written against a gateway on the embedded store"
./scripts/quickstart.sh

log "Postman collection under newman, against the embedded store and a real redis-server"
./scripts/interop.sh
