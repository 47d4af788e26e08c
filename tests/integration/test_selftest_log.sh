#!/usr/bin/env bash
# A signed bundle's self-tests at start and at REPL start: what the tests
# make the plugin log (demo facilities, a busy store) goes to debug under
# "self-test:", and one info line sums them up; a start at the default
# level shows no self-test noise.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT
cd "$tmp" || exit 1

# winter_surge signed by a central key, installed into an area that
# requires signatures, with the demo's settings for it.
"$bin" plugin keygen central >/dev/null || { bad "keygen"; finish; exit 1; }
"$bin" plugin pack "$src/plugins/winter_surge" -o ws.ctb >/dev/null &&
  "$bin" plugin sign ws.ctb --key central.key >/dev/null || { bad "pack and sign"; finish; exit 1; }
demo_area "$tmp/area.yaml" \
  -e "s|^plugins: \[\]|plugin_path: [installed]\ntrust:\n  require_signed: true\n  keys:\n    - file: central.pub\nplugins:\n  - name: winter_surge\n    settings: {surge_facilities: [willow-stepdown, elm-rehab], acute_beds: 400}|"
mkdir installed
"$bin" plugin install ws.ctb --config area.yaml >/dev/null || { bad "install"; finish; exit 1; }

start main --config "$tmp/area.yaml" || { finish; exit 1; }
err=$tmp/main.err
n=$(grep -c 'self-tests: 1 plugin, [1-9][0-9]* passed' "$err")
[ "$n" = 1 ] && ok || bad "one summary line at start, got $n: $(cat "$err")"
grep 'self-test' "$err" | grep -vq 'self-tests: ' && bad "self-test records at info: $(grep self-test "$err")" || ok
grep -Eq 'surge beds at elm-rehab|store busy|escalation level' "$err" && bad "self-test noise at start: $(cat "$err")" || ok
grep -Eq '"level":"(warn|error)"|warn |error ' "$err" && bad "warnings at start: $(cat "$err")" || ok
kill -TERM "$pid"; wait "$pid" 2>/dev/null

# At debug level the same records are there, under their own prefix.
"$bin" repl -c area.yaml --log-level debug -e '1' >repl.out 2>repl.err || bad "repl exits 0: $(cat repl.err)"
grep -q 'self-test:plugin:winter_surge' repl.err && ok || bad "debug records under self-test: $(head -5 repl.err)"
grep -Eq '"level":"(warn|error)"' repl.err && bad "warnings at REPL start: $(grep -E 'warn|error' repl.err | head -3)" || ok
"$bin" repl -c area.yaml --log-level info -e '1' >repl.out 2>repl.err || bad "repl exits 0: $(cat repl.err)"
[ "$(grep -c self-test repl.err)" = 1 ] && grep -q 'self-tests: 1 plugin' repl.err && ok || bad "REPL start at info: one summary line: $(cat repl.err)"
finish
