#!/usr/bin/env bash
# A day at the Demo Shire hub through `caretide run` with the standard
# plugins (config/demo.yaml as shipped, with faster schedules): the
# morning's referrals and their decisions, holds confirmed and people
# discharged, a delay without a reason found and recorded, a harm event, an
# isolation ending into an onward plan, an afternoon surge that escalates
# (surge beds, tight ranking, the level the host records) and an evening
# that stands down.
#
# Robust on a loaded machine: every wait polls for a condition with a
# generous ceiling; nothing sleeps and hopes.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT
command -v jq >/dev/null || { echo "jq not installed: skipped"; exit 77; }

# The demo area with its plugins, on port 0, its database beside it; the
# schedules every second (the plugins' minimum) and a 5-second hysteresis so
# that a day fits in a test.
demo_area_standard "$tmp/area.yaml" \
    -e '/^  - name: stepdown$/{n;s|^    settings:$|    settings:\n      check_interval: 1s|}' \
    -e '/^  - name: discharge_hub$/{n;s|^    settings:$|    settings:\n      delay_check: 1s|}' \
    -e '/^  - name: winter_surge$/{n;s|^    settings:$|    settings:\n      interval: 1s\n      deescalate_after: 5s|}'
for want in 'listen: 127.0.0.1:0' 'path: area.db' 'check_interval: 1s' 'delay_check: 1s' \
    'interval: 1s' 'deescalate_after: 5s'; do
  grep -q "$want" "$tmp/area.yaml" || { echo "FAIL: could not adapt demo.yaml ($want)"; exit 1; }
done
"$bin" check --config "$tmp/area.yaml" >"$tmp/check.out" 2>&1 && ok || { bad "the day's area passes check"; cat "$tmp/check.out"; }

hospital=$(token_of hospital) hub=$(token_of hub) provider=$(token_of provider)
today=$(date -u +%F)
ago() { date -u -d "$1 days ago" +%F; }
hours_ago() { date -u -d "$1 hours ago" +%Y-%m-%dT%H:%M:%SZ; }
in_seconds() { date -u -d "$1 seconds" +%Y-%m-%dT%H:%M:%SZ; }

# refer N READY EXTRA-JSON: a referral from the hospital for the N-th test
# person; sets code, body and id.
refer() {
  req POST /v1/referrals "$hospital" \
    "{\"nhs_number\": \"$(nhs "$1")\", \"ready_date\": \"$2\", \"age\": 84${3:+, $3}}"
  id=$(echo "$body" | jq -r '.referral.id // empty')
}
logged() { grep -q "$1" "$tmp/day.err"; }
recorded() { # recorded LEVEL: the host's escalation level is LEVEL (sets body)
  req GET /v1/escalation "$hub"
  [ "$(echo "$body" | jq -r .level)" = "$1" ]
}
surge_open() { # surge_open FACILITY: its open surge beds now
  req GET /v1/capacity "$hub"
  echo "$body" | jq -r ".facilities[] | select(.id == \"$1\") | .totals.surge.open"
}

start day --config "$tmp/area.yaml" || { finish; exit 1; }
req GET /v1/health
expect 200 '[.plugins[].name] == ["stepdown", "discharge_hub", "winter_surge"] and ([.plugins[].state] | unique) == ["active"]'

# ---- morning: decisions -----------------------------------------------------
refer 1 "$today" '"requested_pathway": "P0"'
expect 201 '.decision.outcome == "home" and .decision.pathway == "P0" and .referral.bed == null'
refer 2 "$today" '"needs": ["reablement"]'
expect 201 '.decision.outcome == "held" and .decision.pathway == "P1" and .decision.facility == "shire-homecare"'
refer 3 "$today" '"needs": ["rehab"]'
expect 201 '.decision.pathway == "P2" and .decision.facility == "elm-rehab"
  and ([.decision.trace[] | select(.plugin == "discharge_hub" and .hook == "rank") | .output[0].reason] | first | contains("same organisation"))'
# The demo follows the 2020/21 rules: a care-home discharge needs a covid
# test from the 48 hours before (stepdown's discharge_test_window).
tested="\"infections\": {\"covid\": {\"status\": \"negative\", \"tested_at\": \"$(hours_ago 6)\"}}"
refer 30 "$today" '"needs": ["nursing"]'
expect 201 '.decision.outcome == "waiting" and ([.decision.reasons[] | select(contains("no covid test result from the 48h before a care-home discharge"))] | length) > 0'
req POST "/v1/referrals/$id/cancel" "$hospital" '{"reason": "tested and referred again"}'
expect 200 '.referral.state == "cancelled"'
refer 4 "$today" "\"needs\": [\"nursing\"], $tested"
expect 201 '.decision.pathway == "P3" and .decision.bed == "OAK-001" and .referral.state == "held"'
nursing=$id
refer 5 "$today" "\"needs\": [\"nursing\", \"dementia\"], $tested"
expect 201 '.decision.pathway == "P3" and .decision.zone == "oakwood-memory"'
refer 6 "$today" "\"needs\": [\"residential\"], $tested"
expect 201 '.decision.pathway == "P3" and .decision.facility == "riverside"'

# Covid positive 20 hours before discharge and needing a care home: the
# designated setting's red wing. Its isolation ends in 20 seconds.
refer 7 "$today" "\"requested_pathway\": \"P3\", \"needs\": [\"nursing\"], \"infections\": {\"covid\": {\"status\": \"positive\", \"tested_at\": \"$(hours_ago 20)\", \"isolation_end\": \"$(in_seconds 20)\"}}"
expect 201 '.decision.pathway == "step_down" and .decision.zone == "willow-red"
  and ([.decision.trace[] | select(.plugin == "stepdown" and .hook == "triage") | .output.reason] | first | contains("covid positive, tested 20h before discharge"))'
positive=$id
# Awaiting a covid result, for a care home: held back until the result.
refer 8 "$today" '"requested_pathway": "P3", "needs": ["residential"], "infections": {"covid": {"status": "awaiting"}}'
expect 201 '.decision.outcome == "waiting" and ([.decision.reasons[] | select(contains("result awaited: no care-home admission"))] | length) > 0'
# Flu positive, going to rehab: still P2, in one of Elm Ward's isolation
# rooms (flu is cohorted apart; the ward is open for it).
refer 9 "$today" "\"requested_pathway\": \"P2\", \"infections\": {\"flu\": {\"status\": \"positive\", \"tested_at\": \"$(hours_ago 3)\"}}"
expect 201 '.decision.pathway == "P2" and .decision.bed == "ELM-19"'
# A care-home resident with nursing needs goes back to their own home: P0,
# no new placement; unless the hospital asks for one.
refer 20 "$today" '"needs": ["nursing"], "usual_residence": "care_home"'
expect 201 '.referral.usual_residence == "care_home" and .decision.outcome == "home" and .decision.pathway == "P0"
  and ([.decision.trace[] | select(.plugin == "discharge_hub" and .hook == "triage") | .output.reason] | first | contains("returning care-home resident"))'
refer 21 "$today" "\"needs\": [\"nursing\"], \"usual_residence\": \"care_home\", \"requested_pathway\": \"P3\", $tested"
expect 201 '.decision.pathway == "P3"'
refer 22 "$today" '"usual_residence": "castle"'
expect 400 '.error.field == "usual_residence" and (.error.message | contains("care_home"))'

# ---- holds become placements --------------------------------------------------
req POST "/v1/referrals/$nursing/confirm" "$provider" ''
expect 200 '.referral.state == "placed"'
req POST "/v1/referrals/$nursing/discharge" "$hospital" ''
expect 200 '.referral.state == "discharged"'
req POST "/v1/referrals/$positive/confirm" "$hub" ''
expect 200 '.referral.state == "placed"'
req POST "/v1/referrals/$positive/discharge" "$hospital" ''
expect 200 '.referral.state == "discharged"'
# The isolation ends: stepdown plans the onward move to a care home.
wait_for 60 logged "referral $positive: onward to care_home (P3)" && ok \
  || { bad "onward plan at the isolation end"; tail -5 "$tmp/day.err"; }

# ---- delays ----------------------------------------------------------------------
# Ready three days ago, no bed for these needs, no reason given: found.
refer 10 "$(ago 3)" '"requested_pathway": "P3", "needs": ["dementia", "bariatric"]'
expect 201 '.decision.outcome == "waiting" and .referral.delay_days == 3'
late=$id
wait_for 30 logged "delay.missing_reason: referral $late\"" && ok || bad "missing delay reason reported"
req POST "/v1/referrals/$late/delay" "$hub" '{"reason": "awaiting_p3_bed", "responsible_org": "demo-council"}'
expect 200 '.referral.delay_reason == "awaiting_p3_bed" and .referral.responsible_org == "demo-council"'
# Ready 15 days ago: a harm event.
refer 11 "$(ago 15)" '"requested_pathway": "P3", "needs": ["dementia", "bariatric"]'
harm=$id
wait_for 30 logged "delay.harm: referral $harm\"" && ok || bad "harm event for a 15-day delay"

# ---- afternoon: the surge ----------------------------------------------------------
wait_for 30 recorded 1 && ok || bad "the host recorded level 1 at start: $body"
[ "$(surge_open willow-stepdown)" = 0 ] && ok || bad "no surge beds open in the morning"
# Step-down and rehab fill up: 40 people for rehab or recovery beds and 15
# covid positives for the red wing.
for n in $(seq 100 139); do refer "$n" "$today" '"requested_pathway": "P2"'; done
for n in $(seq 140 154); do
  refer "$n" "$today" "\"requested_pathway\": \"P2\", \"infections\": {\"covid\": {\"status\": \"positive\", \"tested_at\": \"$(hours_ago 2)\"}}"
done
wait_for 30 logged 'escalation level [12] to 3' && ok || { bad "winter_surge escalates to 3"; grep winter_surge "$tmp/day.err" | tail -3; }
wait_for 30 eval '[ "$(surge_open willow-stepdown)" = 8 ] && [ "$(surge_open elm-rehab)" = 4 ]' && ok \
  || bad "surge beds open at Willow House and Elm Ward"
# The new surge beds fill too, and ranking is tight: flow over preference.
# The waiting list is served first (docs/plugins.md "The waiting list"):
# the morning's waiting referrals take the surge beds as they open, each
# re-matched with the tight ranking.
for n in $(seq 155 162); do refer "$n" "$today" '"requested_pathway": "P2"'; done
tight=0
for r in $(seq 1 200); do
  req GET "/v1/referrals/$r" "$hub"
  [ "$code" = 200 ] || continue
  echo "$body" | jq -e '.referral.state == "held" and ([.decision.trace[] | select(.plugin == "discharge_hub" and .hook == "rank") | .output[]?.reason | contains("capacity tight")] | any)' >/dev/null \
    && { tight=1; break; }
done
[ "$tight" = 1 ] && ok || bad "no referral held with the tight ranking after surge opened"
for n in $(seq 163 166); do
  refer "$n" "$today" "\"requested_pathway\": \"P2\", \"infections\": {\"covid\": {\"status\": \"positive\", \"tested_at\": \"$(hours_ago 2)\"}}"
done
# A restart mid-afternoon: the host asks the plugins for the level at start
# and records it; the plugin's state survived.
kill -TERM "$pid"; wait "$pid"
start day --config "$tmp/area.yaml" || { finish; exit 1; }
wait_for 30 recorded 3 && ok || bad "the host recorded level 3 after the restart: $body"
echo "$body" | jq -e '.reason | startswith("score ")' >/dev/null && ok || bad "the level's reason is the score: $body"
[ "$(surge_open willow-stepdown)" = 8 ] && ok || bad "surge beds still open after the restart"

# ---- evening: standing down ------------------------------------------------------
req GET '/v1/referrals?state=held&limit=1000' "$hub"
for r in $(echo "$body" | jq -r '(.referrals // .)[] | select(.id > 11) | .id'); do
  req POST "/v1/referrals/$r/cancel" "$hub" '{"reason": "discharged home with family"}'
done
wait_for 60 logged 'de-escalation level 2 to 1' && ok || { bad "winter_surge stands down to 1"; grep winter_surge "$tmp/day.err" | tail -3; }
wait_for 30 eval '[ "$(surge_open willow-stepdown)" = 0 ] && [ "$(surge_open elm-rehab)" = 0 ]' && ok \
  || bad "surge beds closed in the evening"
grep -q 'de-escalation level 3 to 2' "$tmp/day.err" && ok || bad "one level at a time"
# No plugin was quarantined over the afternoon (their counts, for the log).
req GET /v1/health
expect 200 '([.plugins[].state] | unique) == ["active"]'
echo "$body" | jq -c '[.plugins[] | {name, calls, errors, timeouts}]'
kill -TERM "$pid"; wait "$pid"
start day --config "$tmp/area.yaml" || { finish; exit 1; }
wait_for 30 recorded 1 && ok || bad "the host recorded level 1 overnight: $body"
kill -TERM "$pid"; wait "$pid"
[ "$(sqlite3 "$tmp/area.db" 'PRAGMA integrity_check')" = ok ] && ok || bad "integrity_check at the end of the day"
finish
