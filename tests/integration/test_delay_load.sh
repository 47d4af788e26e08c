#!/usr/bin/env bash
# Winter load on the hub's scheduled delay check (issue 22, finding 1): 300
# people a week past their discharge ready date with no delay reason, the
# check every 5 seconds. The check must neither starve triage nor get
# discharge_hub quarantined, and a retried run must not report a referral
# twice on the same day.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

# The demo area with its standard plugins, on port 0, checking every 5s.
demo_area_standard "$tmp/area.yaml" \
    -e 's|^      max_stay_p1: 4w|      max_stay_p1: 4w\n      delay_check: 5s|'
grep -q 'delay_check: 5s' "$tmp/area.yaml" || { echo "FAIL: could not set delay_check"; exit 1; }
start load --config "$tmp/area.yaml" || { finish; exit 1; }
hospital=$(token_of hospital)
week_ago=$(date -u -d '7 days ago' +%F)

n_ok=0
for i in $(seq 1 300); do
  req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs "$i")\", \"ready_date\": \"$week_ago\", \"age\": 80}"
  [ "$code" = 201 ] && n_ok=$((n_ok + 1))
done
[ "$n_ok" = 300 ] && ok || bad "300 referrals accepted (got $n_ok)"

# Every referral is reported once: wait for the 300th report, then for
# at least six more rounds of the check (each would repeat the day's
# reports if progress were lost).
db=$tmp/area.db
reported() {
  [ "$(sqlite3 "$db" "SELECT count(DISTINCT json_extract(payload, '\$.referral')) FROM event
        WHERE kind = 'plugin.delay.missing_reason'" 2>/dev/null)" = 300 ]
}
wait_for 120 reported && ok || bad "all 300 delays reported"
rounds() { [ "$(grep -c 'delay check' "$tmp/load.err")" -ge "$1" ]; }
seen=$(grep -c 'delay check' "$tmp/load.err")
wait_for 120 rounds $((seen + 6)) && ok || bad "six more delay checks ran"

req GET /v1/health
expect 200 '([.plugins[] | select(.name == "discharge_hub") | .state] == ["active"])'
echo "$body" | jq -c '[.plugins[] | {name, state, calls, errors, timeouts, quarantined}]'

# Triage still answers: a new referral gets a pathway from discharge_hub,
# not manual review.
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 400)\", \"ready_date\": \"$week_ago\", \"age\": 80, \"needs\": [\"reablement\"]}"
expect 201 '.decision.outcome != "manual_review" and .decision.pathway == "P1"'

kill -TERM "$pid"; wait "$pid"
dups=$(sqlite3 "$db" "SELECT count(*) FROM (SELECT json_extract(payload, '\$.referral') r,
        count(*) c FROM event WHERE kind = 'plugin.delay.missing_reason' GROUP BY r HAVING c > 1)")
[ "$dups" = 0 ] && ok || bad "$dups referrals reported more than once on the same day"
quarantines=$(sqlite3 "$db" "SELECT count(*) FROM event WHERE kind LIKE '%quarantined%'")
[ "$quarantines" = 0 ] && ok || bad "$quarantines quarantine events"
finish
