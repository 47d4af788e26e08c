#!/usr/bin/env bash
# A reload runs signed bundles' own tests in a child process, so the event
# loop never waits for them (docs/sandbox.md). Found on main: the tests
# ran on the loop, and a bundle whose test makes one instruction that
# runs for minutes (a table store rehashing keys that all collide) held
# health, metrics and every request for as long.
#   - health is probed every 100 ms (each bounded to 1 s) throughout;
#   - the stalling bundle's tests are killed after limits.self_test_timeout,
#     the reload answers 422 saying so, and the running version stays;
#   - a second reload while one runs is 409; SIGHUP takes the same path;
#   - a bundle whose tests fail is refused through the child; a good one
#     is activated.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT
cd "$tmp" || exit 1

# bundle VERSION [TEST-BODY]: winter_surge at VERSION, with one more test
# file when a body is given, packed and signed into ws-VERSION.ctb.
bundle() {
  rm -rf ws && cp -r "$src/plugins/winter_surge" ws
  sed -i "s/^version: .*/version: $1/" ws/plugin.yaml
  [ -n "${2:-}" ] && printf '%s\n' "$2" > ws/test/extra_test.lua
  "$bin" plugin pack ws -o "ws-$1.ctb" >/dev/null &&
    "$bin" plugin sign "ws-$1.ctb" --key central.key >/dev/null
}
# put VERSION: onto the disk the way a careless operator might (no install,
# which would run the tests itself).
put() {
  rm -rf installed/winter_surge.new && mkdir installed/winter_surge.new &&
    tar -xf "ws-$1.ctb" -C installed/winter_surge.new &&
    rm -rf installed/winter_surge && mv installed/winter_surge.new installed/winter_surge
}
running_version() {
  req GET /v1/health
  echo "$body" | jq -r '.plugins[] | select(.name == "winter_surge") | .version'
}

"$bin" plugin keygen central >/dev/null || { bad "keygen"; finish; exit 1; }
bundle 1.1.0 || { bad "bundle 1.1.0"; finish; exit 1; }
# One instruction that does not end: 2^18 keys spread over a smaller hash
# part, then the store that grows it puts them all on one node.
stall='describe("stall", function()
  it("rehashes", function()
    local K = 19
    local M = (1 << K) - 1
    local n = 1 << (K - 1)
    local t = {}
    for i = 1, n do t[i * M] = true end
    t[(n + 1) * M] = true
  end)
end)'
bundle 1.2.0 "$stall" || { bad "bundle 1.2.0"; finish; exit 1; }
bundle 1.3.0 'describe("x", function() it("fails", function() expect(1).to_be(2) end) end)' \
  || { bad "bundle 1.3.0"; finish; exit 1; }
bundle 1.4.0 || { bad "bundle 1.4.0"; finish; exit 1; }

demo_area "$tmp/area.yaml" \
  -e "s|^plugins: \[\]|plugin_path: [installed]\ntrust:\n  require_signed: true\n  keys:\n    - file: central.pub\nplugins:\n  - name: winter_surge\n    settings: {surge_facilities: [willow-stepdown, elm-rehab], acute_beds: 400}|" \
  -e "s|^limits:|limits:\n  self_test_timeout: 20s|"
grep -q 'self_test_timeout: 20s' area.yaml || { bad "could not set the timeout"; finish; exit 1; }
mkdir installed
"$bin" plugin install ws-1.1.0.ctb --config area.yaml >/dev/null || { bad "install"; finish; exit 1; }
start main --config "$tmp/area.yaml" || { finish; exit 1; }
admin=$(token_of admin)
[ "$(running_version)" = 1.1.0 ] && ok || bad "1.1.0 runs: $body"

"$bin" plugin selftest --config area.yaml --json > st.json; rc=$?
[ $rc = 0 ] && jq -e '.plugins[0] | .result == "pass" and (.bundle_hash | test("^[0-9a-f]{64}$"))' st.json >/dev/null \
  && ok || bad "plugin selftest: exit $rc, $(cat st.json)"

health_probe "$tmp/probe.log"

stalls() { grep -c 'did not end within limits.self_test_timeout' main.err; }
# reload_api: POST /v1/admin/reload, again while another reload runs (409;
# the daemon also reloads by itself when it notices changed plugin files).
reload_api() {
  wait_for 120 eval 'req POST /v1/admin/reload "$admin"; [ "$code" != 409 ]'
}
# The stalling bundle, refused after 20 s each time, while health answers.
put 1.2.0 || bad "put 1.2.0"
# (Its own files: req's would be shared with the foreground.)
(
  for _ in $(seq 1 120); do
    c=$(curl -s --max-time 90 -o reload1.json -w '%{http_code}' -X POST \
      -H "Authorization: Bearer $admin" "$base/v1/admin/reload")
    [ "$c" != 409 ] && break
    sleep 1
  done
  echo "$c" > reload1.code
) &
first=$!
sleep 1
req POST /v1/admin/reload "$admin"
expect 409 '.error.code == "conflict" and (.error.message | test("already running"))'
wait "$first"
[ "$(cat reload1.code)" = 422 ] && jq -e '.error.diagnostics[0] | test("did not end within limits.self_test_timeout \\(20s\\)")' reload1.json >/dev/null \
  && ok || bad "the stalled reload: $(cat reload1.code) $(cat reload1.json)"
[ "$(running_version)" = 1.1.0 ] && ok || bad "1.1.0 still runs after the stalled reload: $body"
grep -q 'killing them' main.err && ok || bad "the kill is logged"

# The same through SIGHUP: refused, logged, nothing changes.
wait_for 60 eval '! pgrep -f "selftest --json.*$tmp/area.yaml" >/dev/null' || bad "no reload left running"
n=$(stalls)
kill -HUP "$pid"
wait_for 60 eval '[ "$(stalls)" -gt $n ]' && ok || bad "SIGHUP: the stall refused and logged"
[ "$(running_version)" = 1.1.0 ] && ok || bad "1.1.0 still runs after SIGHUP: $body"

health_probe_check probe.log 20

# Failing tests, through the child; then a good version.
put 1.3.0 || bad "put 1.3.0"
reload_api
expect 422 '[.error.diagnostics[] | test("plugin .winter_surge. 1.3.0 not activated: its own tests failed")] | any'
[ "$(running_version)" = 1.1.0 ] && ok || bad "1.1.0 still runs after failing tests: $body"
put 1.4.0 || bad "put 1.4.0"
reload_api
expect 200 '.status == "reloaded"'
[ "$(running_version)" = 1.4.0 ] && ok || bad "1.4.0 runs after its reload: $body"
finish
