#!/usr/bin/env bash
# Long fuzzing: every Go fuzz target in the module (every decoder of
# outside input: FHIR resources and Bundles, BaRS messages, search and
# operation parameters, tokens and assertions, CSV imports, web forms),
# each for FUZZTIME with the coverage-guided engine of `go test -fuzz`.
#
#   ./scripts/fuzz.sh                      # every target, 60 s each (about 50 minutes)
#   FUZZTIME=10m ./scripts/fuzz.sh         # longer
#   ONLY='mappings|FuzzParseBearer' ./scripts/fuzz.sh   # targets whose "package Name" matches
#
# `./scripts/test.sh` runs every target's seed corpus (testdata/fuzz and its
# f.Add seeds) as ordinary tests; this is the search for new inputs. A
# target that finds a failing input writes it under the package's
# testdata/fuzz/<Name>/, where the test suite then runs it for good: commit
# it with the fix. Each target runs under a time limit (its FUZZTIME plus
# HANG_GRACE, default 10 minutes, for compiling, the seed corpus and
# minimising a failing input), so a target that hangs is reported as such
# and the others still run. The summary at the end lists every target that
# failed or hung; the exit status is non-zero when any did.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60s}
grace=${HANG_GRACE:-600}
only=${ONLY:-.}
command -v go >/dev/null || { echo "go missing: run ./scripts/test.sh once (it installs Go)"; exit 1; }

# seconds of a Go duration such as 90s, 10m or 1h30m (the fuzz time only).
seconds() {
  local d=$1 total=0 n
  while [[ $d =~ ^([0-9]+)(h|m|s)(.*)$ ]]; do
    n=${BASH_REMATCH[1]}
    case ${BASH_REMATCH[2]} in h) total=$((total + n * 3600)) ;; m) total=$((total + n * 60)) ;; s) total=$((total + n)) ;; esac
    d=${BASH_REMATCH[3]}
  done
  [[ -z $d ]] || { echo "FUZZTIME must be a duration such as 60s, 10m or 1h30m (got $fuzztime)" >&2; exit 2; }
  echo "$total"
}
limit=$(( $(seconds "$fuzztime") + grace ))

# "package Name" for every fuzz target, from the test binaries themselves.
mapfile -t targets < <(go test -list '^Fuzz' ./... | awk '
  /^Fuzz/ { names[++n] = $1; next }
  /^(ok|\?)/ { for (i = 1; i <= n; i++) print $2, names[i]; n = 0 }' | grep -E -- "$only" || true)
[[ ${#targets[@]} -gt 0 ]] || { echo "no fuzz target matches ONLY=$only"; exit 1; }
echo "fuzzing ${#targets[@]} targets for $fuzztime each (each stopped after ${limit}s at most)"

failed=()
for t in "${targets[@]}"; do
  pkg=${t% *} name=${t#* }
  echo "== $pkg $name"
  rc=0
  timeout --kill-after=30 "$limit" go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" || rc=$?
  case $rc in
    0) ;;
    124 | 137) failed+=("$pkg $name: hung (stopped after ${limit}s)") ;;
    *) failed+=("$pkg $name: failed (exit $rc; a failing input is kept under testdata/fuzz/$name/)") ;;
  esac
done

if [[ ${#failed[@]} -gt 0 ]]; then
  printf '\n%d of %d targets did not pass:\n' "${#failed[@]}" "${#targets[@]}"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
printf '\nall %d targets passed %s of fuzzing each\n' "${#targets[@]}" "$fuzztime"
