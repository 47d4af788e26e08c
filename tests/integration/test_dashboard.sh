#!/usr/bin/env bash
# The dashboard in a real headless Chromium (Debian's chromium package,
# driven by playwright-core from npm) against `caretide run` on a free
# port with a scratch database: see dashboard/dashboard.test.mjs.
#
# Skipped (exit 77) when chromium, node or npm is missing. Installs the
# pinned playwright-core with `npm ci` on first run (package-lock.json).
# Screenshots go to ARTIFACTS (default: ./artifacts under the working
# directory, the build directory under CTest) and are kept.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
need_browser

tmp=$(mktemp -d)
trap lib_cleanup EXIT

# One plugin that answers triage with the pathway asked for: each decision's
# trace then holds one step.
demo_area "$tmp/area.yaml" \
  -e "s|^plugins: \[\]|plugin_path: [\"$src/tests/plugins\"]\nplugins:\n  - name: triage_p2\n    settings: {pathway: P3}|"
start main --config "$tmp/area.yaml" || { finish; exit 1; }

# The wall's display link (docs/reports.md "The wall").
req POST /v1/displays "$(token_of hub)" '{"name": "test-wall"}'
display=$(echo "$body" | jq -r .secret)
[ "$code" = 201 ] || { echo "FAIL: cannot issue a display credential: $code $body"; exit 1; }

BASE=$base VIEWER_TOKEN=$(token_of viewer) HUB_TOKEN=$(token_of hub) DISPLAY_TOKEN=$display \
HOSPITAL_TOKEN=$(token_of hospital) PROVIDER_TOKEN=$(token_of provider) \
ARTIFACTS=$artifacts CHROMIUM=$chromium \
  timeout 240 node "$dir/dashboard.test.mjs"
rc=$?
# The runner printed its own "N passed, N failed" line; a daemon that
# died under it fails the test as well.
if ! kill -0 "$pid" 2>/dev/null; then
  echo "FAIL: the daemon died:"; grep -v '^{' "$tmp/main.err" | tail -20; rc=1
fi
exit $rc
