#!/usr/bin/env bash
# Event handlers and schedules never hold the event loop for plugin code
# (docs/sandbox.md, "Decisions, events and schedules off the loop").
# Three plugins answer every event with about 200 ms of Lua work (deadline
# 240 ms), and one schedule works 1.2 s every second (schedule deadline
# 1.5 s). On the main of December 2026 the events of one referral were
# delivered in one loop turn (three handlers for each of its events, over
# a second) and the schedule held the loop for its whole call; /v1/health
# went unanswered meanwhile. /v1/health is probed every 100 ms, each probe
# bounded to 1 s, while referrals come in: every probe must answer, every
# referral be stored and answered, and every handler and the schedule run
# without failing.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

mkdir -p "$tmp/plugins"
plugin() { # plugin NAME DESCRIPTION SETUP-BODY
  mkdir -p "$tmp/plugins/$1"
  cat > "$tmp/plugins/$1/plugin.yaml" <<YAML
name: $1
version: 1.0.0
api: 1
description: $2
publisher: caretide tests
fallback: skip
YAML
  cat > "$tmp/plugins/$1/init.lua" <<LUA
local M = {}
local function work(seconds)
  local t0, x = os.clock(), 0
  repeat
    for i = 1, 20000 do x = x + i % 7 end
  until os.clock() - t0 >= seconds
end
function M.setup()
  $3
end
return M
LUA
}
names=(hears1 hears2 hears3)
for n in "${names[@]}"; do
  plugin "$n" "Answers every event with 200 ms of work (integration test)." \
    'ct.on("*", function() work(0.2) end)'
done
plugin slowjob "A schedule of 1.2 s every second (integration test)." \
  'ct.every("1s", function() work(1.2) end)'
# Two plugins that answer each other's events for ever, from the first
# referral on: each answer is heard only after the write it was recorded
# in commits, so the chain goes on over many writes; it must still stop
# after 64 answers in a row, as within one delivery.
plugin chain_a "Answers b with a (integration test)." \
  'ct.on("referral.created", function(ev) if ev.referral == 1 then ct.emit("a") end end)
  ct.on("plugin.b", function() ct.emit("a") end)'
plugin chain_b "Answers a with b (integration test)." \
  'ct.on("plugin.a", function() ct.emit("b") end)'
list=""
for n in "${names[@]}" slowjob; do list="$list\n  - name: $n"; done
demo_area "$tmp/area.yaml" \
  -e "s|^plugins: \[\]|plugin_path: [\"$tmp/plugins\", \"$src/tests/plugins\"]\nplugins:$list\n  - name: triage_p2|" \
  -e "s|^  plugin_deadline: .*|  plugin_deadline: 240ms\n  plugin_minute_budget: 60s|" \
  -e "s|^  schedule_deadline: .*|  schedule_deadline: 1500ms|"
grep -q 'name: slowjob' "$tmp/area.yaml" && grep -q 'schedule_deadline: 1500ms' "$tmp/area.yaml" \
  || { echo "FAIL: could not add plugins and limits"; exit 1; }
start main --config "$tmp/area.yaml" || { finish; exit 1; }
hospital=$(token_of hospital)
today=$(date -u +%F)

health_probe "$tmp/probe.log"
for n in 1 2 3 4; do
  req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs "$n")\", \"ready_date\": \"$today\", \"age\": 80}"
  expect 201 '.referral.id > 0 and .decision.outcome == "held"'
done
# Their events heard by every listener, and the job run, while probed.
heard() {
  req GET /v1/health
  echo "$body" | jq -e '([.plugins[] | select(.name | startswith("hears")) | .calls >= 8] | all)
    and ([.plugins[] | select(.name == "slowjob") | .calls >= 3] | all)' >/dev/null
}
wait_for 60 heard && ok || bad "handlers and the job did not all run: $body"
health_probe_check "$tmp/probe.log" 10

req GET /v1/health
expect 200 '[.plugins[] | select(.name | startswith("hears") or . == "slowjob") | [.errors, .timeouts, .state]] == [range(4) | [0, 0, "active"]]'
check "the daemon is alive" kill -0 "$pid"
kill -TERM "$pid"
ended() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 30 ended && ok || bad "the daemon did not end"
wait "$pid"; rc=$?
[ "$rc" = 0 ] && ok || { bad "exit status $rc after SIGTERM"; tail -5 "$tmp/main.err"; }

# The chain, alone in a daemon of its own: 64 answers, then the warning.
mkdir -p "$tmp/chain"
demo_area "$tmp/chain/area.yaml" \
  -e "s|^plugins: \[\]|plugin_path: [\"$tmp/plugins\", \"$src/tests/plugins\"]\nplugins:\n  - name: chain_a\n  - name: chain_b\n  - name: triage_p2|"
grep -q 'name: chain_b' "$tmp/chain/area.yaml" || { echo "FAIL: could not write the chain's area"; exit 1; }
start chain --config "$tmp/chain/area.yaml" || { finish; exit 1; }
health_probe "$tmp/chain_probe.log"
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 1)\", \"ready_date\": \"$today\", \"age\": 80}"
expect 201 '.referral.id == 1'
chain_dropped() { grep -q 'dropped 1 event still queued after 64 rounds (plugin\.[ab] x1): plugins chain_[ab], chain_[ab] kept emitting' "$tmp/chain.err"; }
wait_for 60 chain_dropped && ok || bad "the chain of answers was not stopped: $(grep -c 'dropped' "$tmp/chain.err")"
admin=$(token_of admin)
req GET "/v1/audit?limit=1000" "$admin"
expect 200 '[.events[] | select(.kind == "plugin.a" or .kind == "plugin.b")] | length == 65'
health_probe_check "$tmp/chain_probe.log" 0
finish
