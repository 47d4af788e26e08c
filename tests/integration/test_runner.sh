#!/usr/bin/env bash
# caretide test, the plugin test runner, driven as CI would: passing and
# failing plugins (tests/plugins/runner_demo, runner_fail), the positions
# and diffs of failures, TAP, exact coverage figures on a known plugin,
# --min-coverage, and a plugin that does not load.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
plugins=$src/tests/plugins
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
run() { # run WANTED-EXIT args...: output in $out (stdout only)
  local want=$1; shift
  "$bin" test "$@" >"$out" 2>"$tmp/err"; local got=$?
  if [ "$got" = "$want" ]; then ok; else
    bad "caretide test $* exited $got, wanted $want"; cat "$out" "$tmp/err"
  fi
}
has() { # has LINE: an exact line of the output
  grep -qxF -- "$1" "$out" && ok || { bad "missing line: $1"; cat "$out"; }
}
last() { # last LINE: the output's last line
  [ "$(tail -n 1 "$out")" = "$1" ] && ok || { bad "last line '$(tail -n 1 "$out")', wanted '$1'"; }
}

# Passing plugins: exit 0, the summary last.
run 0 "$plugins/triage_p2" "$plugins/runner_demo"
has "ok      the clock runs the plugin's schedules as it moves"
has "ok      escalate has the previous test's stub undone"
has "pending triage answers nothing for people already placed"
last "16 passed, 0 failed"

# Failing tests: exit 1; each failure at its file:line, with the diff.
run 1 --timeout 300ms "$plugins/runner_fail"
has "FAIL    failures shows a diff"
has "        runner_fail/test/fail_test.lua:11: expected tables to be equal (- expected, + actual)"
has '        - expected.pathway = "P2"'
has '        + actual.pathway = "P1"'
# An error in plugin code: the test's line, and the plugin's in the message.
has "        runner_fail/test/fail_test.lua:19: init.lua:5: cannot triage people over 90"
has "        runner_fail/test/fail_test.lua:23: expected 2 to be 3"
# The deadline names the plugin's line it stopped, or the test's own.
has "FAIL    failures stops at the deadline"
has "        runner_fail/test/fail_test.lua: deadline of 300 ms exceeded (caretide test --timeout), stopped at init.lua:11"
has "FAIL    deadline spins in the test"
has "        runner_fail/test/stop_test.lua:6: deadline of 300 ms exceeded (caretide test --timeout)"
has "ok      deadline runs after the one stopped"
has '        runner_fail/test/fail_test.lua:31: stub: no field "open_surge_now" to replace'
# A file that fails while loading is one failed test at its line.
has "FAIL    runner_fail/test/broken_test.lua"
has "        runner_fail/test/broken_test.lua:3: attempt to call a nil value (field 'no_such_helper')"
has "ok      failures passes"
has "1 pending"
last "2 passed, 7 failed"

# One file only.
run 1 --timeout 300ms "$plugins/runner_fail/test/broken_test.lua"
last "0 passed, 1 failed"
run 0 "$plugins/runner_demo/test/clock_test.lua"
last "4 passed, 0 failed"

# TAP: numbered, YAML diagnostics, plan, then the summary line.
run 1 --tap --timeout 300ms "$plugins/runner_fail"
[ "$(head -n 1 "$out")" = "TAP version 13" ] && ok || bad "TAP header first"
has "not ok 3 - failures shows a diff"
has '  at: "runner_fail/test/fail_test.lua:11"'
has '    + actual.pathway = "P1"'
has "ok 8 - failures is still to write # SKIP pending"
has "1..10"
has "# 1 pending"
last "2 passed, 7 failed"

# Coverage on a known plugin: init.lua has 25 lines of code, all run;
# lib/score.lua has 15, of which S.unused's body (18-19) never runs.
run 0 --coverage "$plugins/runner_demo"
grep -Eqx 'runner_demo/init.lua +25/25 +100\.0%' "$out" && ok || { bad "init.lua coverage"; cat "$out"; }
grep -Eqx 'runner_demo/lib/score.lua +13/15 +86\.7%  uncovered: 18-19' "$out" && ok || { bad "score.lua coverage"; cat "$out"; }
grep -Eqx 'total +38/40 +95\.0%' "$out" && ok || { bad "total coverage"; cat "$out"; }
last "12 passed, 0 failed"
run 0 --min-coverage 95 "$plugins/runner_demo"
run 1 --min-coverage 95.5 "$plugins/runner_demo"
has "coverage 95.0% is below the minimum 95.5%"
last "12 passed, 0 failed"
run 1 --tap --min-coverage 96 "$plugins/runner_demo"
grep -Eqx '# total +38/40 +95\.0%' "$out" && ok || { bad "coverage as TAP comments"; cat "$out"; }

# A plugin that does not load: each test file fails with the reason.
cp -r "$plugins/runner_demo" "$tmp/runner_demo"
printf 'local M = {}\nfunction M.triage(r)\n  return {\nend\nreturn M\n' > "$tmp/runner_demo/init.lua"
run 1 "$tmp/runner_demo"
grep -Eq "^        .*runner_demo/init.lua:4: unexpected symbol near 'end'" "$out" && ok || { bad "load error named"; cat "$out"; }
last "0 passed, 3 failed"

# An area run (--config): the area's own tests on the daemon's host, with
# the area's settings for every plugin, and t.refer taking a referral
# through intake; a plugin's tests cannot refer.
mkdir -p "$tmp/area/checks"
cat > "$tmp/area/area.yaml" <<YAML
area: {id: runner-area, name: Runner area}
pathogens: [covid]
organisations:
  - {id: demo-acute, name: Acute}
  - {id: council, name: Council}
facilities:
  - id: sedge
    name: Sedge House
    kind: step_down
    organisation: council
    zones:
      - {id: sedge-main, name: Main, beds: [{range: "S01..S03"}]}
plugin_path: ["$plugins"]
plugins:
  - name: triage_p2
    settings: {pathway: step_down}
tests: [checks]
YAML
cat > "$tmp/area/checks/sedge_test.lua" <<'LUA'
local t = require("caretide.test")
describe("the runner area", function()
  it("sends a covid-positive 84-year-old from our hospital to Sedge House", function()
    local d = assert(t.refer{ from_org = "demo-acute",
      person = { age = 84, infections = { covid = { status = "positive" } } } })
    expect(d.pathway).to_be("step_down")
    expect(d.facility).to_be("sedge")
  end)
  it("is refused a pathogen the area does not track", function()
    local d, err = t.refer{ person = { infections = { flu = { status = "positive" } } } }
    expect(d).to_be_nil()
    expect(err).to_match("pathogen flu is not tracked here")
  end)
end)
LUA
run 1 --config "$tmp/area/area.yaml"
has "ok      the runner area sends a covid-positive 84-year-old from our hospital to Sedge House"
has "ok      the runner area is refused a pathogen the area does not track"
# triage_p2's own tests expect its default P2: with the area's step_down
# setting they fail, which is what an area run is for.
grep -q '^FAIL    triage' "$out" && ok || { bad "plugin tests under the area's settings"; cat "$out"; }
mkdir -p "$tmp/referrer/test"
printf 'name: referrer\nversion: 0.1.0\napi: 1\ndescription: x\npublisher: caretide tests\nfallback: skip\n' > "$tmp/referrer/plugin.yaml"
printf 'return {}\n' > "$tmp/referrer/init.lua"
printf 'local t = require("caretide.test")\nit("refers", function() t.refer{} end)\n' > "$tmp/referrer/test/refer_test.lua"
run 1 "$tmp/referrer"
grep -q "refer works only in an area's own tests" "$out" && ok || { bad "refer in a plugin's tests"; cat "$out"; }
sed -i 's/^tests: \[checks\]/tests: [nowhere]/' "$tmp/area/area.yaml"
run 1 --config "$tmp/area/area.yaml"
grep -q "tests: .*nowhere is not there" "$tmp/err" && ok || { bad "missing area tests named"; cat "$tmp/err"; }
run 2 --coverage --config "$tmp/area/area.yaml"

# Usage errors.
run 2 "$tmp/nowhere"
run 2 --min-coverage 120 "$plugins/runner_demo"
run 2 "$plugins/runner_demo/init.lua"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
