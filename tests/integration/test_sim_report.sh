#!/usr/bin/env bash
# caretide sim's report.html in a real headless Chromium (Debian's
# chromium package, driven by playwright-core from npm, as the dashboard
# test): see dashboard/sim_report.test.mjs. A capacity-bound run with two
# surge variants writes the report; the browser opens it from the file
# system. Skipped (exit 77) when chromium, node or npm is missing. The
# screenshot goes to ARTIFACTS (default: ./artifacts) and is kept.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
t=$src/tests/integration/sim
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
need_browser
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" sim -q -c "$t/surge-area.yaml" -s "$t/capacity-bound.yaml" \
  -v surge_2="$t/surge-2.yaml" -v surge_4="$t/surge-4.yaml" -o "$tmp/out" ||
  { echo "FAIL: caretide sim"; echo "0 passed, 1 failed"; exit 1; }
REPORT=$tmp/out/report.html ARTIFACTS=$artifacts CHROMIUM=$chromium \
  timeout 120 node "$dir/sim_report.test.mjs"
