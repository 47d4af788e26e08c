#!/usr/bin/env bash
# Hostile plugins inside `caretide run`, with /v1/health probed every
# 100 ms (each probe bounded to 1 s) throughout: the daemon must not crash,
# intake must never be blocked (every referral stored and answered), health
# must answer every probe, memory must stay bounded, and the misbehaving
# plugins must be counted and quarantined, also those that fail only now
# and then (a failure rate) or overrun their budget once per decision.
#   crasher    nested coroutine.close chain (SIGSEGV on main)
#   overflow   out-of-range triage answers (every POST a 400 on main)
#   amplifier  a result holding one 256 KiB string 400 times (GBs on main)
#   hog        rank repeating beds, admits and event handlers that add up
#   rehasher   one table store that rehashes colliding keys for seconds (on
#              main health stalled 5-16 s and the call counted a success)
#   stormer    a hundred schedules due every second, 40 ms each
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

demo_area "$tmp/area.yaml" \
  -e "s|^plugins: \[\]|plugin_path: [\"$src/tests/plugins\"]\nplugins:\n  - name: rehasher\n  - name: stormer\n  - name: crasher\n  - name: overflow\n  - name: amplifier\n  - name: hog\n  - name: triage_p2|" \
  -e "s|^  plugin_memory: .*|  plugin_memory: 256MiB\n  plugin_decision_budget: 20ms|"
grep -q 'name: crasher' "$tmp/area.yaml" && grep -q 'plugin_decision_budget: 20ms' "$tmp/area.yaml" \
  || { echo "FAIL: could not add plugins and limits"; exit 1; }
start main --config "$tmp/area.yaml" || { finish; exit 1; }
hospital=$(token_of hospital) viewer=$(token_of viewer)
today=$(date -u +%F)

# The probe: one line per probe, "HTTP-CODE MILLISECONDS".
health_probe "$tmp/probe.log"

# The rehash: the first referral's triage makes the store. The referral is
# answered (the call given up after its deadline, rehasher's fallback),
# and health answers while the instruction still runs: it says so itself.
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 100)\", \"ready_date\": \"$today\", \"age\": 80}"
expect 201 '.referral.id > 0 and ([.decision.trace[] | select(.plugin == "rehasher" and .hook == "triage") | .error | test("abandoned")] == [true])'
req GET /v1/health
expect 200 '[.plugins[] | select(.name == "rehasher") | .state, (.stuck_ms > 0)] == ["stuck", true]'

# Twenty more: crasher fails one triage in four and hog overruns its
# decision budget once a decision, never twice in a row; both must still
# be quarantined (limits.quarantine_window).
for n in $(seq 1 20); do
  req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs "$n")\", \"ready_date\": \"$today\", \"age\": 80}"
  # Stored and answered; the outcome may be manual review (triage_p2 out
  # of its 20 ms budget while rehasher's instruction holds a CPU).
  expect 201 '.referral.id > 0 and (.decision.outcome | type) == "string"'
done
health_probe_check "$tmp/probe.log" 0

check "the daemon is alive" kill -0 "$pid"

req GET /v1/health
expect 200 '[.plugins[] | select(.name == "overflow" or .name == "amplifier") | .state] == ["quarantined", "quarantined"]'
expect 200 '[.plugins[] | select(.name == "stormer") | .calls > 0] == [true]'
# The stuck call ends in its own time (seconds; more under a sanitizer);
# the plugin stays quarantined.
rehasher_state() {
  curl -s --max-time 5 "$base/v1/health" | jq -r '.plugins[] | select(.name == "rehasher") | .state'
}
rehash_ended() { [ "$(rehasher_state)" = quarantined ]; }
wait_for 240 rehash_ended && ok || bad "rehasher did not end quarantined: $(rehasher_state)"
grep -q "the abandoned call has returned" "$tmp/main.err" && ok || bad "no log line for the stuck call's end"
expect 200 '[.plugins[] | select(.name == "crasher" or .name == "hog") | .errors > 0] == [true, true]'
expect 200 '[.plugins[] | select(.name == "crasher") | .state, .quarantined] == ["quarantined", ["triage"]]'
expect 200 '[.plugins[] | select(.name == "hog") | .quarantined | index("rank") != null and index("admit") != null] == [true]'
grep -q "plugin 'crasher': triage quarantined after 5 failures in its last 20 calls" "$tmp/main.err" && ok || bad "no log line for crasher's quarantine: $(grep crasher "$tmp/main.err" | tail -2)"
grep -q "plugin 'hog': decision hooks quarantined after 5 of its last 5 decisions used up its CPU budget" "$tmp/main.err" && ok || bad "no log line for hog's quarantine: $(grep "'hog'" "$tmp/main.err" | tail -2)"
grep -q "coroutine nesting limit of 100 exceeded" "$tmp/main.err" && ok || { bad "the close chain was not stopped by the nesting limit"; grep crasher "$tmp/main.err" | tail -3; }
expect 200 '[.plugins[] | select(.name == "triage_p2") | .state] == ["active"]'
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
echo "daemon RSS: $((rss / 1024)) MiB"
[ "$rss" -lt $((600 * 1024)) ] && ok || bad "daemon RSS ${rss} kB past 600 MiB"

kill -TERM "$pid"; wait "$pid" 2>/dev/null
finish
