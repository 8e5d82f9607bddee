#!/usr/bin/env bash
# Validates what the gateway publishes and answers with two independent FHIR
# R4 validators:
#   1. HL7's R4 JSON Schema, in Go (fhir.Validate): TestOutputsForValidation
#      drives a gateway over a real redis-server through the walk-through and
#      writes every kind of answer (conformance resources, transaction and
#      batch responses, searchsets, reads, placement, $translate, audit,
#      OperationOutcomes of each error kind) to a folder, validating each.
#   2. Medplum's validator (scripts/fhir-validate, pinned in its
#      package-lock.json), which also evaluates the FHIRPath invariants, over
#      the same folder, the shipped ConceptMaps and the profiles
#      (configs/profiles, which validator 1 reads into the folder too).
# Either finding an error fails the script. Needs node/npm and redis-server.
#   ./scripts/validate-outputs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "node is required (apt-get install nodejs npm)"; exit 1; }

(cd scripts/fhir-validate && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >/dev/null)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

status=0
echo "== validator 1: HL7 R4 JSON Schema (go test -run TestOutputsForValidation)"
if ! FHIR_OUTPUT_DIR="$out" REDISTEST_REQUIRED=1 go test -count=1 -run '^TestOutputsForValidation$' ./gateway/; then
  status=1
fi
files=$(find "$out" -name '*.json' | wc -l)
if [ "$files" -eq 0 ]; then
  echo "no outputs were written"; exit 1
fi

echo "== validator 2: Medplum $(node -p 'require("./scripts/fhir-validate/node_modules/@medplum/core/package.json").version') on node $(node --version) (FHIRPath invariants)"
if ! node scripts/fhir-validate/validate.mjs "$out" configs/conceptmaps configs/profiles; then
  status=1
fi

if [ "$status" -eq 0 ]; then
  echo "validate-outputs: $files gateway outputs, the shipped ConceptMaps and profiles valid under both validators"
else
  echo "validate-outputs: FAILED (see the errors above)"
fi
exit "$status"
