#!/usr/bin/env bash
# Checks the deployable artefacts under deploy/, offline but for the Go
# module proxy, the npm registry and Debian's packages:
#
#   ./scripts/deploy-check.sh
#
#  1. go test ./deploy/...: every manifest decoded strictly into the
#     k8s.io/api types, policy rules (probes, limits, non-root, seccomp…).
#  2. kustomize build of deploy/k8s and deploy/k8s/example, validated by
#     kubeconform -strict against the JSON Schemas of each Kubernetes version
#     in K8S_VERSIONS. kubeconform's own schemas live on GitHub, out of reach
#     here, so they are made from the OpenAPI document in the k8s.io/kubernetes
#     module (module proxy) by deploy/openapi2jsonschema, once per version,
#     into the cache.
#  3. The OpenTelemetry collector config: YAML, every component a pipeline
#     names is defined, every pipeline limits memory first and redacts
#     (and otelcol-contrib validate, when it is on PATH).
#  4. deploy/alerts.yaml with Prometheus's rule checker (rulefmt, the code
#     behind promtool check rules, from the pinned Go module).
#  5. Every Redis config (the local node config, the ConfigMap's, the Helm
#     values', Sentinel's) started with redis-server, which must accept it and
#     then report the durability settings in force.
#  6. deploy/Dockerfile: parsed by dockerfile-utils, and hadolint-style rules.
#  7. deploy/compose.yaml: docker compose config -q, or the strict Go check.
#
# Any check that cannot run is a failure, never a skip. Tools are pinned and
# cached in DEPLOY_CHECK_CACHE (default ~/.cache/discharge-gateway-deploy-check);
# the first run downloads and builds them (about 2 minutes on 2 cores), later
# runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBECONFORM_VERSION=v0.8.0
KUSTOMIZE_VERSION=v5.8.1 # v5.8.2+ needs Go 1.27
YQ_VERSION=v4.54.2
DOCKERFILE_UTILS_VERSION=0.16.3
# The oldest Kubernetes the manifests support (the preStop sleep action is
# on by default from 1.30) and a current one.
K8S_VERSIONS=${K8S_VERSIONS:-"1.30.14 1.34.4"}
CACHE=${DEPLOY_CHECK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/discharge-gateway-deploy-check}

log() { printf '== %s\n' "$*" >&2; }
fail() {
  printf 'deploy-check FAILED: %s\n' "$*" >&2
  exit 1
}
passed=0
pass() {
  passed=$((passed + 1))
  printf 'ok   %s\n' "$*"
}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    fail "need root to run: $*"
  fi
}
apt_install() { # command package
  command -v "$1" >/dev/null 2>&1 && return
  command -v apt-get >/dev/null 2>&1 || fail "$1 not found and no apt-get to install $2"
  log "$1 not found: installing $2 with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
  command -v "$1" >/dev/null 2>&1 || fail "$2 installed but $1 is not on PATH"
}

# go_tool NAME PACKAGE VERSION: path of the pinned binary, built once.
go_tool() {
  local bin="$CACHE/bin/$1-$3"
  if [ ! -x "$bin" ]; then
    log "building $2@$3 (once; cached in $CACHE)"
    mkdir -p "$CACHE/bin"
    GOBIN="$WORK/gobin" go install "$2@$3" >&2 || fail "go install $2@$3"
    mv "$WORK/gobin/$1" "$bin" || fail "go install $2@$3 made no $1"
  fi
  echo "$bin"
}

command -v go >/dev/null || fail "go is not installed"
command -v npx >/dev/null || fail "npx (npm) is not installed"
KUBECONFORM=$(go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION")
KUSTOMIZE=$(go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION")
YQ=$(go_tool yq github.com/mikefarah/yq/v4 "$YQ_VERSION")

# --- 1. Go schema test --------------------------------------------------------
log "go test ./deploy/..."
go test -count=1 ./deploy/... || fail "go test ./deploy/..."
pass "go test ./deploy/... (strict k8s.io/api decoding, pod policy, redis-server accepts the ConfigMap's redis.conf)"

# --- 2. kustomize + kubeconform -----------------------------------------------
SCHEMAS="$CACHE/schemas"
for v in $K8S_VERSIONS; do
  if [ ! -s "$SCHEMAS/v$v-standalone-strict/deployment-apps-v1.json" ]; then
    log "Kubernetes v$v OpenAPI document from the k8s.io/kubernetes module"
    info=$(cd "$WORK" && go mod download -json "k8s.io/kubernetes@v$v") || fail "go mod download k8s.io/kubernetes@v$v: $info"
    dir=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -f "$dir/api/openapi-spec/swagger.json" ] || fail "no api/openapi-spec/swagger.json in k8s.io/kubernetes@v$v ($dir)"
    go run ./deploy/openapi2jsonschema -version "$v" -out "$SCHEMAS" "$dir/api/openapi-spec/swagger.json" >&2 ||
      fail "openapi2jsonschema for v$v"
  fi
done

# Canary: the strict schemas must reject an unknown field and a wrong type,
# or a green run below would mean nothing.
cat >"$WORK/canary.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: canary}
spec:
  replicas: "three"
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers: [{name: c, image: i, readinesProbe: {}}]
EOF
for v in $K8S_VERSIONS; do
  if "$KUBECONFORM" -strict -kubernetes-version "$v" -schema-location "$SCHEMAS" "$WORK/canary.yaml" >"$WORK/canary.out" 2>&1; then
    fail "kubeconform accepted a Deployment with an unknown field and a wrong type (v$v schemas are not strict)"
  fi
  grep -q "readinesProbe" "$WORK/canary.out" || fail "kubeconform's canary failure does not name the unknown field: $(cat "$WORK/canary.out")"
done

for k in deploy/k8s deploy/k8s/example; do
  out="$WORK/$(echo "$k" | tr / _).yaml"
  "$KUSTOMIZE" build "$k" >"$out" || fail "kustomize build $k"
  docs=$("$YQ" ea '[.] | length' "$out")
  [ "$docs" -gt 0 ] || fail "kustomize build $k produced no objects"
  for v in $K8S_VERSIONS; do
    echo "kubeconform -strict -summary -kubernetes-version $v: kustomize build $k"
    "$KUBECONFORM" -strict -summary -output text -kubernetes-version "$v" -schema-location "$SCHEMAS" "$out" | tee "$WORK/kc.out" ||
      fail "kubeconform: $k against Kubernetes v$v"
    grep -q "^Summary: $docs resources found in 1 file - Valid: $docs, Invalid: 0, Errors: 0, Skipped: 0$" "$WORK/kc.out" ||
      fail "kubeconform did not validate all $docs objects of $k"
  done
  pass "kustomize build $k: $docs objects valid against Kubernetes $(echo "$K8S_VERSIONS" | sed 's/ / and /g') (strict)"
done

# --- 3. OpenTelemetry collector config ---------------------------------------
otel=deploy/otel-collector.yaml
"$YQ" -e 'type == "!!map"' "$otel" >/dev/null || fail "$otel is not a YAML map"
for section in receivers processors exporters; do
  for name in $("$YQ" ".service.pipelines[].$section[]" "$otel" | sort -u); do
    "$YQ" -e ".$section | has(\"$name\")" "$otel" >/dev/null || fail "$otel: a pipeline names $section '$name', which is not defined"
  done
done
for name in $("$YQ" '.service.extensions[]' "$otel"); do
  "$YQ" -e ".extensions | has(\"$name\")" "$otel" >/dev/null || fail "$otel: extension '$name' is not defined"
done
for p in $("$YQ" '.service.pipelines | keys | .[]' "$otel"); do
  [ "$("$YQ" ".service.pipelines.\"$p\".processors[0]" "$otel")" = memory_limiter ] || fail "$otel: pipeline $p does not start with memory_limiter"
  "$YQ" -e ".service.pipelines.\"$p\".processors | contains([\"attributes/redact\"])" "$otel" >/dev/null ||
    fail "$otel: pipeline $p does not redact (attributes/redact)"
done
for key in db.statement url.query url.full http.url; do
  "$YQ" -e ".processors.\"attributes/redact\".actions[] | select(.key == \"$key\" and .action == \"delete\")" "$otel" >/dev/null ||
    fail "$otel: attributes/redact does not delete $key"
done
if command -v otelcol-contrib >/dev/null 2>&1; then
  otelcol-contrib validate --config "$otel" || fail "otelcol-contrib validate $otel"
  pass "$otel: otelcol-contrib validate"
else
  log "otelcol-contrib not on PATH: its own validation is not run (the checks below are structural)"
fi
pass "$otel: YAML, every referenced component defined, memory_limiter first and redaction in every pipeline"

# --- 4. Alert rules -----------------------------------------------------------
# promtool's own rule checker (github.com/prometheus/prometheus/model/rulefmt,
# pinned in go.mod) runs in go test ./deploy (TestAlertRules), so nothing is
# installed for it; promtool, when it is on PATH, checks again.
go test -count=1 -run '^TestAlertRules' ./deploy/ || fail "go test -run TestAlertRules ./deploy/"
if command -v promtool >/dev/null 2>&1; then
  promtool check rules deploy/alerts.yaml || fail "promtool check rules deploy/alerts.yaml"
fi
pass "deploy/alerts.yaml: Prometheus rule checks (rulefmt, as promtool check rules)"

# --- 5. Redis configs ---------------------------------------------------------
apt_install redis-server redis-server
command -v redis-cli >/dev/null || fail "redis-cli not on PATH"

free_port() { # a port free on loopback, with port+10000 (cluster bus) free too
  local p
  for _ in $(seq 50); do
    p=$((10000 + RANDOM % 12000)) # p and p+10000 below the ephemeral range (32768+)
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  fail "no free port"
}

# redis_accepts NAME CONF PORT [redis-server args...]: starts it, waits for
# PONG, and leaves its port in $port for the checks. A port (or its cluster
# bus port) taken between free_port and the start, e.g. as the source port of
# a client connection, is retried on a fresh port; any other refusal fails.
redis_accepts() {
  local name=$1 conf=$2 attempt pid
  port=$3
  shift 3
  for attempt in 1 2 3 4 5; do
    redis-server "$conf" --port "$port" "$@" >"$WORK/$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do
      if ! kill -0 "$pid" 2>/dev/null; then
        if grep -q 'Failed listening on port' "$WORK/$name.log" && [ "$attempt" -lt 5 ]; then
          port=$(free_port)
          continue 2
        fi
        cat "$WORK/$name.log" >&2
        fail "redis-server refused $name"
      fi
      [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return
      sleep 0.1
    done
    cat "$WORK/$name.log" >&2
    fail "redis-server did not answer with $name within 10 s"
  done
}
# expect_config NAME directive value…
expect_config() {
  local name=$1
  shift
  while [ $# -gt 0 ]; do
    got=$(redis-cli -p "$port" config get "$1" | sed -n 2p)
    [ "$got" = "$2" ] || fail "$name: $1 is '$got', want '$2'"
    shift 2
  done
}
durable=(appendonly yes appendfsync always min-replicas-to-write 1 maxmemory-policy noeviction)

mkdir -p "$WORK/node"
redis_accepts redis-cluster-node.conf deploy/redis/redis-cluster-node.conf "$(free_port)" --dir "$WORK/node"
expect_config redis-cluster-node.conf "${durable[@]}" cluster-enabled yes cluster-node-timeout 5000
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
pass "deploy/redis/redis-cluster-node.conf: redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') accepts it; AOF always, min-replicas-to-write 1, noeviction, cluster on"

mkdir -p "$WORK/cm"
"$YQ" 'select(.kind == "ConfigMap" and .metadata.name == "redis-cluster") | .data["redis.conf"]' "$WORK/deploy_k8s.yaml" |
  sed "s#/data#$WORK/cm#g" >"$WORK/cm.conf"
[ -s "$WORK/cm.conf" ] || fail "no redis.conf in the redis-cluster ConfigMap"
REDISCLI_AUTH=x redis_accepts configmap-redis.conf "$WORK/cm.conf" "$(free_port)" --bind 127.0.0.1 \
  --requirepass x --masterauth x --cluster-announce-hostname localhost
REDISCLI_AUTH=x expect_config configmap-redis.conf "${durable[@]}" cluster-enabled yes cluster-node-timeout 5000 dir "$WORK/cm"
REDISCLI_AUTH=x redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
pass "ConfigMap redis-cluster (kustomize output): redis-server accepts it with the StatefulSet's arguments; same durability settings"

mkdir -p "$WORK/helm"
{
  echo "cluster-enabled yes"
  echo "bind 127.0.0.1"
  "$YQ" '.redis.configmap' deploy/redis/values-redis-cluster.yaml
} >"$WORK/helm.conf"
redis_accepts values-redis-cluster.yaml "$WORK/helm.conf" "$(free_port)" --dir "$WORK/helm"
expect_config values-redis-cluster.yaml "${durable[@]}"
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
pass "deploy/redis/values-redis-cluster.yaml redis.configmap: redis-server accepts it; same durability settings"

# Sentinel rewrites its config: a copy, with the master's DNS name (not
# resolvable here) on loopback.
sed -e 's/ redis-master / 127.0.0.1 /' -e 's/^bind .*/bind 127.0.0.1/' deploy/redis/sentinel.conf >"$WORK/sentinel.conf"
redis_accepts sentinel.conf "$WORK/sentinel.conf" "$(free_port)" --sentinel
[ "$(redis-cli -p "$port" sentinel get-master-addr-by-name discharge | head -1)" = 127.0.0.1 ] ||
  fail "sentinel.conf: Sentinel does not monitor the master 'discharge'"
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
pass "deploy/redis/sentinel.conf: redis-server --sentinel accepts it and monitors 'discharge'"

# Canary: a directive redis-server does not know must make it refuse.
printf 'appendfsync alwayz\n' >"$WORK/bad.conf"
redis-server "$WORK/bad.conf" --port "$(free_port)" >/dev/null 2>&1 &
bad=$!
PIDS+=("$bad")
sleep 0.5
if kill -0 "$bad" 2>/dev/null; then
  fail "redis-server accepted a bad config: the Redis checks above prove nothing"
fi

# --- 6. Dockerfile ------------------------------------------------------------
df=deploy/Dockerfile
npx --yes "dockerfile-utils@$DOCKERFILE_UTILS_VERSION" lint "$df" || fail "dockerfile-utils lint $df"
# hadolint's rules that matter here (no hadolint binary is to be had from
# these registries): DL3006/DL3007 tagged, non-latest bases; DL3002 the last
# USER not root; DL3025 exec-form ENTRYPOINT/CMD; DL3020 COPY not ADD;
# DL3003 WORKDIR not cd; DL4000 no MAINTAINER; and static, non-root output.
awk '
  toupper($1) == "FROM" {
    img = $2; stages[tolower($4)] = 1
    if (!(tolower(img) in stages) && img != "scratch") {
      if (img !~ /:/ && img !~ /@sha256:/) { print FILENAME ":" NR ": FROM " img " has no tag (DL3006)"; bad = 1 }
      if (img ~ /:latest(@|$)/) { print FILENAME ":" NR ": FROM " img " uses latest (DL3007)"; bad = 1 }
    }
    user = ""
  }
  toupper($1) == "USER" { user = $2 }
  toupper($1) == "ADD" { print FILENAME ":" NR ": ADD; use COPY (DL3020)"; bad = 1 }
  toupper($1) == "MAINTAINER" { print FILENAME ":" NR ": MAINTAINER is deprecated (DL4000)"; bad = 1 }
  toupper($1) == "RUN" && / cd / { print FILENAME ":" NR ": RUN cd; use WORKDIR (DL3003)"; bad = 1 }
  (toupper($1) == "ENTRYPOINT" || toupper($1) == "CMD") && $2 !~ /^\[/ { print FILENAME ":" NR ": " $1 " in shell form (DL3025)"; bad = 1 }
  /CGO_ENABLED=0/ { static = 1 }
  END {
    if (user == "" || user ~ /^(root|0)(:|$)/) { print FILENAME ": the final stage does not set a non-root USER (DL3002)"; bad = 1 }
    if (!static) { print FILENAME ": the build is not CGO_ENABLED=0 (static)"; bad = 1 }
    exit bad
  }' "$df" || fail "$df breaks the rules above"
pass "$df: parses (dockerfile-utils $DOCKERFILE_UTILS_VERSION); pinned tagged bases, non-root USER, exec form, static build"

# --- 7. Compose file ----------------------------------------------------------
# deploy/compose.yaml: Compose's own parser where Docker Compose is installed;
# otherwise the strict Go check (also part of step 1), run here by name so
# this step is never a silent skip.
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  POSTGRES_PASSWORD=deploy-check SUBSCRIPTION_SECRET_KEY=deploy-check docker compose -f deploy/compose.yaml config -q || fail "docker compose config deploy/compose.yaml"
  pass "deploy/compose.yaml: docker compose config -q"
else
  go test -count=1 -run '^TestCompose$' ./deploy/ || fail "go test -run TestCompose ./deploy/"
  pass "deploy/compose.yaml: strict decoding and references (no docker compose here: go test -run TestCompose)"
fi

echo "deploy-check: $passed passed, 0 failed"
