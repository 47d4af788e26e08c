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
chromium=${CHROMIUM:-/usr/bin/chromium}
artifacts=${ARTIFACTS:-$PWD/artifacts}
dir=$src/tests/integration/dashboard
t=$src/tests/integration/sim

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "$tool not installed: skipped"; exit 77; }
done
[ -x "$chromium" ] || { echo "$chromium not installed: skipped"; exit 77; }
if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
   [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) ||
    { echo "FAIL: npm ci in $dir"; echo "0 passed, 1 failed"; exit 1; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" sim -q -c "$t/surge-area.yaml" -s "$t/capacity-bound.yaml" \
  -v surge_2="$t/surge-2.yaml" -v surge_4="$t/surge-4.yaml" -o "$tmp/out" ||
  { echo "FAIL: caretide sim"; echo "0 passed, 1 failed"; exit 1; }
REPORT=$tmp/out/report.html ARTIFACTS=$artifacts CHROMIUM=$chromium \
  timeout 120 node "$dir/sim_report.test.mjs"
