#!/usr/bin/env bash
# Runs the README's quick start exactly as written, so it cannot rot:
#
#   ./scripts/quickstart.sh
#
# It builds the gateway, starts it on the embedded store (demo world and demo
# registry) on a free loopback port, extracts every ```sh block between the
# README's quickstart:begin and quickstart:end markers, runs them in order in
# one bash with `set -euo pipefail` and GW pointing at that gateway, then
# checks what they produced: every entry created, a shortlist of at least
# three real homes with telephone numbers, the If-Match outcomes, the
# OperationOutcome, and the referral loop from offer to discharge with the
# case's timeline and measures. Needs curl and jq (installed by scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "quickstart: $tool is required"; exit 1; }
done

work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "${KEEP:-}" ] && cp "$work/out.txt" /tmp/quickstart-out.txt; rm -rf "$work" created.json options.json enc.json home.json offer.json accept.json finished.json case.json
}
trap cleanup EXIT

go build -o "$work/gateway" ./cmd/gateway
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
GATEWAY_ADDR="127.0.0.1:$port" GATEWAY_DATA_DIR="$work/data" "$work/gateway" >"$work/stdout.log" 2>"$work/stderr.log" &
pid=$!
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "quickstart: the gateway exited"; cat "$work/stderr.log"; exit 1; }
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "quickstart: the gateway never became ready"; tail -20 "$work/stderr.log"; exit 1; }

# The blocks, in order, as one script.
awk '/<!-- quickstart:begin -->/{on=1} /<!-- quickstart:end -->/{on=0}
     on && /^```sh$/{inblock=1; next} on && inblock && /^```$/{inblock=0; print ""; next}
     on && inblock {print}' README.md >"$work/blocks.sh"
blocks=$(grep -c '^```sh$' <(awk '/<!-- quickstart:begin -->/{on=1} /<!-- quickstart:end -->/{on=0} on' README.md))
[ "$blocks" -ge 5 ] || { echo "quickstart: found only $blocks sh blocks in the README's quick start"; exit 1; }

if ! GW="http://127.0.0.1:$port" bash -euo pipefail "$work/blocks.sh" >"$work/out.txt" 2>"$work/err.txt"; then
  echo "quickstart: a README block failed"; cat "$work/out.txt" "$work/err.txt"; tail -20 "$work/stderr.log"; exit 1
fi

fail() { echo "quickstart: $*"; echo "--- output:"; cat "$work/out.txt"; exit 1; }
statuses=$(jq -r '.entry[].response.status' created.json | sort -u | tr '\n' ' ')
[ "$statuses" = "201 Created " ] || fail "transaction entries answered $statuses, want all 201 Created"
total=$(jq '.total' options.json)
[ "$total" -ge 3 ] || fail "placement found $total options, want at least 3 real homes"
matches=$(jq '[.entry[] | select(.search.mode=="match")] | length' options.json)
[ "$matches" -ge 3 ] || fail "placement showed $matches matches"
phones=$(jq '[.entry[] | select(.resource.resourceType=="Location") | .resource.telecom[]? | select(.system=="phone")] | length' options.json)
[ "$phones" -ge 1 ] || fail "no telephone number on the shortlist's Locations"
grep -q '{"applied":true,"freshness":"fresh"}' "$work/out.txt" || fail "the care home's posting was not applied fresh"
loc=$(jq -r '.entry[].response.location | select(startswith("Location/")) | split("/")[1]' home.json)
grep -q "\"locationId\":\"$loc\"" "$work/out.txt" || fail "the capacity summary near M14 does not start with the new home"
grep -q '"trust":"RXA"' "$work/out.txt" || fail "the case is not the sending trust's (RXA)"
grep -qx '200' "$work/out.txt" || fail "the update with the current If-Match did not answer 200"
grep -qx 'conflict' "$work/out.txt" || fail "the stale If-Match did not answer conflict"
grep -q '"code":"value"' "$work/out.txt" || fail "the bad NHS number did not answer issue code value"
grep -q 'Patient.identifier\[0\].value' "$work/out.txt" || fail "the bad NHS number's expression is missing"
# The referral loop: offered, accepted with a hold, confirmed, discharged.
grep -qx 'requested' "$work/out.txt" || fail "the offer was not created requested"
grep -qx 'accepted' "$work/out.txt" || fail "the home's acceptance did not answer accepted"
grep -q '{"name":null,"identifier":null}' "$work/out.txt" || fail "the referral pack before acceptance showed the patient's identity"
grep -qx 'in-progress' "$work/out.txt" || fail "the confirmation did not answer in-progress"
[ "$(jq -r .state case.json)" = discharged ] || fail "the case is $(jq -r .state case.json), want discharged"
for kind in offer-sent offer-accepted confirmed discharged; do
  jq -e --arg k "$kind" '[.timeline[].kind] | index($k)' case.json >/dev/null || fail "the case's timeline has no $kind"
done
jq -e '.measures.drdToConfirmationSeconds != null and .measures.drdToDischargeSeconds != null' case.json >/dev/null ||
  fail "the case's measures lack the time to confirmation or discharge: $(jq -c .measures case.json)"
grep -qx 'completed' "$work/out.txt" || fail "the confirmed Task did not become completed at discharge"
echo "quickstart: $blocks README blocks ran; $total options, $matches shown, $phones with a telephone; all checks passed"
