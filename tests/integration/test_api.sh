#!/usr/bin/env bash
# Drives the v1 API of `caretide run` on the demo area: capacity, beds,
# referrals (validation, idempotency, the role rules per organisation),
# their actions, escalation, audit, metrics; and the timers on the host
# clock (holds expiring, isolations ending) through the group commit.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

# A second hospital, to see one hospital refused another's referrals.
other_token=integration-other-hospital-token
other_hash=$(printf %s "$other_token" | sha256sum | cut -d' ' -f1)
community_token=demo-community-token
demo_area "$tmp/area.yaml" \
  -e "s|^organisations:|organisations:\n  - id: other-acute\n    name: Other Acute Trust\n    tokens:\n      - role: hospital\n        sha256: $other_hash|"
start main --config "$tmp/area.yaml" || { finish; exit 1; }
main_pid=$pid
db=$tmp/area.db

hub=$(token_of hub) hospital=$(token_of hospital) provider=$(token_of provider)
viewer=$(token_of viewer) admin=$(token_of admin)
today=$(date -u +%F)

# ---- capacity --------------------------------------------------------------
req GET /v1/capacity "$viewer"
expect 200 '.area == "demo-shire" and (.at | type == "number")'
expect 200 '.totals.total == ([.facilities[].totals.total] | add)'
expect 200 '.totals.available == .totals.total and .totals.surge.open == 0 and .totals.surge.total > 0'
expect 200 '[.facilities[].id] == ([.facilities[].id] | sort)'
expect 200 '.facilities[] | select(.id == "willow-stepdown") | .designated and (.zones | length == 2)'
expect 200 '.facilities[].zones[] | select(.id == "willow-red") | .cohorts.covid == "positive" and .cohorts.flu == "open" and .closed == false'
expect 200 '.metrics.beds.total == .totals.total and (.metrics.waiting | type == "object")'
for role in hub hospital provider admin; do
  req GET /v1/capacity "$(token_of "$role")"
  [ "$code" = 200 ] && ok || bad "capacity as $role: $code"
done

# ---- beds ------------------------------------------------------------------
req GET '/v1/beds?facility=oakwood' "$viewer"
expect 200 '(.beds | length) == 48 and .next == null and ([.beds[].org] | unique) == ["oakwood-care"]'
expect 200 '.beds[0].id == "OAK-001" and .beds[0].tags == ["nursing"] and .beds[0].status == "available"'
req GET '/v1/beds?tag=dementia,nursing' "$provider"
expect 200 '(.beds | length) > 0 and all(.beds[]; .tags | index("dementia"))'
req GET '/v1/beds?zone=oakwood-memory&limit=5' "$viewer"
expect 200 '(.beds | length) == 5 and .next == "OAK-M05"'
req GET '/v1/beds?zone=oakwood-memory&limit=5&after=OAK-M05' "$viewer"
expect 200 '.beds[0].id == "OAK-M06"'
req GET '/v1/beds?facility=nowhere' "$viewer"
expect_error 404 not_found facility
req GET '/v1/beds?zone=attic' "$viewer"
expect_error 404 not_found zone
req GET '/v1/beds?status=broken' "$viewer"
expect_error 400 invalid status
req GET '/v1/beds?limit=0' "$viewer"
expect_error 400 invalid limit
req GET '/v1/beds?tag=a,,b' "$viewer"
expect_error 400 invalid tag

req PATCH /v1/beds/OAK-002 "$provider" '{"status": "blocked", "reason": "deep clean"}'
expect 200 '.bed.status == "blocked" and .bed.blocked_reason == "deep clean"'
req PATCH /v1/beds/OAK-002 "$provider" '{"status": "blocked", "reason": "again"}'
expect_error 409 state null
echo "$body" | jq -e '.error.message | test("OAK-002 is blocked")' >/dev/null && ok || bad "409 names the state: $body"
req GET '/v1/beds?status=blocked' "$viewer"
expect 200 '[.beds[].id] == ["OAK-002"]'
req GET /v1/capacity "$viewer"
expect 200 '.totals.blocked == 1 and .totals.open == .totals.total - 1'
req PATCH /v1/beds/OAK-002 "$provider" '{"status": "available"}'
expect 200 '.bed.status == "available" and .bed.blocked_reason == null'
req PATCH /v1/beds/WH-G01 "$provider" '{"status": "blocked", "reason": "x"}'
expect_error 403 forbidden null
# Every caller may read a bed's organisation in /v1/beds: the 403 says whose.
echo "$body" | jq -e '.error.message == "bed WH-G01 belongs to demo-council, not to yours (oakwood-care)"' >/dev/null \
  && ok || bad "403 on a bed names its owner: $body"
req PATCH /v1/beds/WH-G01 "$community_token" '{"status": "blocked", "reason": "x"}'
expect_error 403 forbidden null
req PATCH /v1/beds/WH-G01 "$hub" '{"status": "blocked", "reason": "staff sickness"}'
expect 200 '.bed.status == "blocked"'
req PATCH /v1/beds/WH-G01 "$hub" '{"status": "available"}'
expect 200 '.bed.status == "available"'
req PATCH /v1/beds/OAK-002 "$provider" '{"status": "blocked"}'
expect_error 400 missing reason
req PATCH /v1/beds/OAK-002 "$provider" '{"status": "available", "reason": "x"}'
expect_error 400 invalid reason
req PATCH /v1/beds/OAK-002 "$provider" '{"status": "held"}'
expect_error 400 invalid status
req PATCH /v1/beds/OAK-002 "$provider" '{"staus": "blocked"}'
expect_error 400 unknown_field staus
req PATCH /v1/beds/NO-SUCH-BED "$hub" '{"status": "available"}'
expect_error 404 not_found null
req PATCH /v1/beds/OAK-002 "$hospital" '{"status": "available"}'
expect_error 403 forbidden null

# ---- POST /v1/referrals: validation ----------------------------------------
n1=$(nhs 1) n2=$(nhs 2) n3=$(nhs 3) n4=$(nhs 4) n5=$(nhs 5) n6=$(nhs 6)
good() { # good NHS [JSON MEMBERS]: a valid referral, with members replaced
  jq -cn --arg n "$1" --arg d "$today" --argjson x "{${2:-}}" \
    '{nhs_number: $n, ready_date: $d, requested_pathway: "P3", age: 84,
      needs: ["nursing"]} + $x'
}
referrals() { sqlite3 "$db" 'SELECT count(*) FROM referral'; }
before=$(referrals)
post_bad() { # post_bad STATUS CODE FIELD BODY
  req POST /v1/referrals "$hospital" "$4"
  expect_error "$1" "$2" "$3"
}
post_bad 400 invalid nhs_number '{"nhs_number": "9990000019", "ready_date": "2026-11-23"}'
post_bad 400 missing nhs_number '{"ready_date": "2026-11-23"}'
post_bad 400 missing ready_date "{\"nhs_number\": \"$n1\"}"
post_bad 400 invalid ready_date "{\"nhs_number\": \"$n1\", \"ready_date\": \"2026-02-30\"}"
post_bad 400 invalid requested_pathway "$(good "$n1" '"requested_pathway": "P4"')"
post_bad 400 invalid age "$(good "$n1" '"age": 131')"
post_bad 400 invalid age "$(good "$n1" '"age": "old"')"
post_bad 400 invalid priority "$(good "$n1" '"priority": 1.5')"
post_bad 400 invalid needs "{\"nhs_number\": \"$n1\", \"ready_date\": \"$today\", \"needs\": [\"nursing\", 7]}"
post_bad 400 invalid needs "{\"nhs_number\": \"$n1\", \"ready_date\": \"$today\", \"needs\": \"nursing\"}"
post_bad 400 invalid needs "{\"nhs_number\": \"$n1\", \"ready_date\": \"$today\", \"needs\": [\"has space\"]}"
post_bad 400 unknown_field nhs_numbr "{\"nhs_numbr\": \"$n1\", \"ready_date\": \"$today\"}"
echo "$body" | jq -e '.error.message | test("did you mean .nhs_number.")' >/dev/null && ok || bad "did-you-mean: $body"
post_bad 400 unknown_field infections.covd "$(good "$n1" '"infections": {"covd": {"status": "positive"}}')"
echo "$body" | jq -e '.error.message | test("did you mean .covid.")' >/dev/null && ok || bad "pathogen did-you-mean: $body"
post_bad 400 invalid infections.covid.status "$(good "$n1" '"infections": {"covid": {"status": "maybe"}}')"
post_bad 400 missing infections.covid.status "$(good "$n1" '"infections": {"covid": {}}')"
post_bad 400 unknown_field infections.covid.tested "$(good "$n1" '"infections": {"covid": {"status": "negative", "tested": "2026-01-01"}}')"
post_bad 400 invalid infections.covid.tested_at "$(good "$n1" '"infections": {"covid": {"status": "negative", "tested_at": "yesterday"}}')"
post_bad 400 invalid infections.covid.tested_at "$(good "$n1" '"infections": {"covid": {"status": "negative", "tested_at": "2999-01-01T00:00:00Z"}}')"
post_bad 400 invalid infections.covid.isolation_end "$(good "$n1" '"infections": {"covid": {"status": "negative", "isolation_end": "2026-12-01"}}')"
post_bad 400 invalid infections.flu "$(good "$n1" '"infections": {"flu": "positive"}')"
post_bad 400 invalid body '[1, 2]'
req POST /v1/referrals "$hospital" "$(good "$n1" '"from_org": "oakwood-care"')"
expect_error 403 forbidden from_org
req POST /v1/referrals "$hub" "$(good "$n1" '"from_org": "no-such-org"')"
expect_error 400 invalid from_org
req POST /v1/referrals "$provider" "$(good "$n1")"
expect_error 403 forbidden null
req POST /v1/referrals "$hospital" "$(good "$n1")" -H "Idempotency-Key: $(head -c 201 /dev/zero | tr '\0' k)"
expect_error 400 invalid Idempotency-Key
[ "$(referrals)" = "$before" ] && ok || bad "refused referrals wrote nothing ($(referrals) referrals)"

# ---- POST /v1/referrals: success and idempotency ----------------------------
req POST /v1/referrals "$hospital" "$(good "$n1" '"infections": {"covid": {"status": "negative", "tested_at": "2026-01-02T10:00:00Z"}}')" -H 'Idempotency-Key: ref-1'
expect 201 '.referral.state == "held" and .referral.from_org == "demo-acute" and .decision.outcome == "held"'
expect 201 '.decision.pathway == "P3" and .decision.facility != null and .referral.bed == .decision.bed and (.decision.trace | type == "array")'
r1=$(echo "$body" | jq -r .referral.id)
bed1=$(echo "$body" | jq -r .referral.bed)
fac1=$(echo "$body" | jq -r .decision.facility)
echo "$headers" | grep -q "^Location: /v1/referrals/$r1$" && ok || bad "Location header: $headers"
first_decision=$(echo "$body" | jq -c .decision)
# The same request again (keys reordered, spaced differently): the same
# referral, created once.
again=$(echo "$(good "$n1" '"infections": {"covid": {"tested_at": "2026-01-02T10:00:00Z", "status": "negative"}}')" | jq -c -S .)
req POST /v1/referrals "$hospital" "$again" -H 'Idempotency-Key: ref-1'
expect 200 ".referral.id == $r1"
[ "$(echo "$body" | jq -c .decision)" = "$first_decision" ] && ok || bad "replay returns the stored decision: $body"
echo "$headers" | grep -q '^Idempotent-Replayed: true$' && ok || bad "replay header: $headers"
[ "$(sqlite3 "$db" "SELECT count(*) FROM referral WHERE nhs_number = '$n1'")" = 1 ] && ok || bad "one referral for one key"
req POST /v1/referrals "$hospital" "$(good "$n1" '"priority": 5')" -H 'Idempotency-Key: ref-1'
expect_error 422 idempotency_key_reused Idempotency-Key
echo "$body" | jq -e ".error.message | test(\"referral $r1\")" >/dev/null && ok || bad "422 names the referral: $body"
[ "$(sqlite3 "$db" "SELECT count(*) FROM referral WHERE nhs_number = '$n1'")" = 1 ] && ok || bad "a reused key creates nothing"
# Keys belong to the referring organisation: another hospital's ref-1 is new.
req POST /v1/referrals "$other_token" "$(good "$n2")" -H 'Idempotency-Key: ref-1'
expect 201 '.referral.from_org == "other-acute"'
r2=$(echo "$body" | jq -r .referral.id)
# The hub refers for a hospital.
req POST /v1/referrals "$hub" "$(good "$n3" '"from_org": "demo-acute", "requested_pathway": "P0"')"
expect 201 '.referral.from_org == "demo-acute" and .decision.outcome == "home"'
r3=$(echo "$body" | jq -r .referral.id)
# A covid-positive person isolating goes to the designated red wing.
iso_end=$(date -u -d '+7 days' +%FT%TZ)
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$n4\", \"ready_date\": \"$today\", \"requested_pathway\": \"step_down\", \"needs\": [\"nursing\"], \"infections\": {\"covid\": {\"status\": \"positive\", \"isolation_end\": \"$iso_end\"}}}"
expect 201 '.decision.outcome == "held" and (.referral.bed | startswith("WH-R")) and .decision.zone == "willow-red"'
r4=$(echo "$body" | jq -r .referral.id)
# Nothing fits: the referral waits.
req POST /v1/referrals "$hospital" "$(good "$n5" '"needs": ["hydrotherapy"]')"
expect 201 '.referral.state == "waiting" and .decision.outcome == "waiting" and .referral.bed == null'
r5=$(echo "$body" | jq -r .referral.id)
[ "$(sqlite3 "$db" "SELECT count(*) FROM referral WHERE decision IS NULL")" = 0 ] && ok || bad "every referral has its decision"

# ---- reads and the role rules -----------------------------------------------
req GET "/v1/referrals/$r1" "$hospital"
expect 200 ".referral.id == $r1 and .decision.outcome == \"held\" and .referral.nhs_number == \"$n1\""
req GET "/v1/referrals/$r1" "$other_token"
expect_error 404 not_found null
req GET "/v1/referrals/$r2" "$hospital"
expect_error 404 not_found null
req GET "/v1/referrals/$r1" "$viewer"
expect 200 ".referral.id == $r1"
req GET "/v1/referrals/$r1" "$admin"
expect 200 ".referral.id == $r1"
owner=$(sqlite3 "$db" "SELECT org_id FROM facility WHERE id = '$fac1'")
[ "$owner" = oakwood-care ] && ok || bad "P3 placed at oakwood, not $fac1 ($owner)"
req GET "/v1/referrals/$r1" "$provider"
expect 200 ".referral.id == $r1"
req GET "/v1/referrals/$r1" "$community_token"
expect_error 404 not_found null
req GET /v1/referrals/999999 "$hub"
expect_error 404 not_found null
req GET /v1/referrals/abc "$hub"
expect_error 404 not_found null

req GET /v1/referrals "$hospital"
expect 200 "[.referrals[].id] == [$r1, $r3, $r4, $r5] and .next == null"
req GET /v1/referrals "$other_token"
expect 200 "[.referrals[].id] == [$r2]"
req GET /v1/referrals "$provider"
expect 200 "([.referrals[].id] | index($r1)) != null and ([.referrals[].id] | index($r4)) == null"
req GET /v1/referrals "$hub"
expect 200 '(.referrals | length) == 5'
req GET '/v1/referrals?state=waiting' "$viewer"
expect 200 "[.referrals[].id] == [$r5]"
req GET '/v1/referrals?limit=2' "$hub"
expect 200 "(.referrals | length) == 2 and .next == $r2"
req GET "/v1/referrals?limit=2&after=$r2" "$hub"
expect 200 ".referrals[0].id == $r3"
req GET '/v1/referrals?state=lost' "$hub"
expect_error 400 invalid state
req GET '/v1/referrals?limit=1001' "$hub"
expect_error 400 invalid limit

# ---- actions ----------------------------------------------------------------
req POST "/v1/referrals/$r1/confirm" "$community_token" ''
expect_error 404 not_found null
req POST "/v1/referrals/$r1/confirm" "$hospital" ''
expect_error 403 forbidden null
req POST "/v1/referrals/$r1/confirm" "$provider" ''
expect 200 '.referral.state == "placed" and (.referral.occupancy | type == "number")'
req POST "/v1/referrals/$r1/confirm" "$provider" ''
expect_error 409 state null
echo "$body" | jq -e '.error.state == "placed" and (.error.message | test("is placed"))' >/dev/null && ok || bad "409 names the state: $body"
req GET "/v1/beds?status=occupied" "$viewer"
expect 200 "[.beds[].id] == [\"$bed1\"] and .beds[0].referral == $r1"
req POST "/v1/referrals/$r1/complete" "$provider" ''
expect_error 409 state null
echo "$body" | jq -e '.error.state == "placed"' >/dev/null && ok || bad "complete before discharge names placed: $body"
req POST "/v1/referrals/$r1/discharge" "$other_token" ''
expect_error 404 not_found null
req POST "/v1/referrals/$r1/discharge" "$hospital" '{"when": "now"}'
expect_error 400 unknown_field when
req POST "/v1/referrals/$r1/discharge" "$hospital" ''
expect 200 '.referral.state == "discharged" and (.referral.discharged_at | type == "number")'
req POST "/v1/referrals/$r1/complete" "$provider" ''
expect 200 '.referral.state == "completed"'
req GET "/v1/beds?facility=$fac1&status=occupied" "$viewer"
expect 200 '.beds == []'
# Completed, it is no longer the provider's to act on nor to read (its
# access ends with the placement), and no longer in its list.
req POST "/v1/referrals/$r1/complete" "$provider" ''
expect_error 404 not_found null
req GET "/v1/referrals/$r1" "$provider"
expect_error 404 not_found null
req GET /v1/referrals "$provider"
expect 200 "all(.referrals[]; .id != $r1)"
req POST "/v1/referrals/$r1/cancel" "$hospital" '{"reason": "too late"}'
expect_error 409 state null
echo "$body" | jq -e '.error.state == "completed"' >/dev/null && ok || bad "cancel after completion names completed: $body"

req POST "/v1/referrals/$r5/delay" "$hospital" '{"reason": "awaiting_p3_bed", "responsible_org": "demo-council"}'
expect 200 '.referral.delay_reason == "awaiting_p3_bed" and .referral.responsible_org == "demo-council"'
# This area runs no plugin with a reason list (discharge_hub's: see
# test_delay_episodes.sh), so the host checks only the code's shape.
req POST "/v1/referrals/$r5/delay" "$hospital" '{"reason": "Awaiting P3", "responsible_org": "demo-council"}'
expect_error 400 invalid reason
echo "$body" | jq -e '.error.message | test("lower-case letters, digits and ._., not .Awaiting P3.")' >/dev/null && ok || bad "delay code shape: $body"
req POST "/v1/referrals/$r5/delay" "$hospital" '{"reason": "awaiting_p3_bed", "responsible_org": "nobody"}'
expect_error 400 invalid responsible_org
req POST "/v1/referrals/$r5/delay" "$hospital" '{"reason": "awaiting_p3_bed"}'
expect_error 400 missing responsible_org
req POST "/v1/referrals/$r2/delay" "$hospital" '{"reason": "awaiting_p3_bed", "responsible_org": "demo-council"}'
expect_error 404 not_found null
req POST "/v1/referrals/$r5/cancel" "$hospital" '{}'
expect_error 400 missing reason
req POST "/v1/referrals/$r5/cancel" "$hospital" '{"reason": "family arranged care"}'
expect 200 '.referral.state == "cancelled"'
# Cancelling a held referral frees its bed.
bed4=$(sqlite3 "$db" "SELECT bed_id FROM assignment WHERE referral_id = $r4 AND active = 1")
req POST "/v1/referrals/$r4/cancel" "$hub" '{"reason": "readmitted"}'
expect 200 '.referral.state == "cancelled" and .referral.bed == null'
[ "$(sqlite3 "$db" "SELECT status FROM bed WHERE id = '$bed4'")" = available ] && ok || bad "cancel frees the held bed"
req POST /v1/referrals/424242/confirm "$hub" ''
expect_error 404 not_found null
req POST /v1/referrals/424242/cancel "$hub" '{"reason": "x"}'
expect_error 404 not_found null

# ---- escalation, audit, metrics ---------------------------------------------
req GET /v1/escalation "$hospital"
expect 200 '.level == 1 and .since == null and .history == []'
# Written behind the daemon's back (as the plugin manager records it).
sqlite3 "$db" "INSERT INTO escalation (at, level, reason, actions) VALUES (1795420800000, 3, 'occupancy 96%', '[\"open surge\"]')"
req GET /v1/escalation "$viewer"
expect 200 '.level == 3 and .since == 1795420800000 and .reason == "occupancy 96%" and .actions == ["open surge"] and (.history | length) == 1'

req GET '/v1/audit?limit=3' "$viewer"
expect 200 '(.events | length) == 3 and .events[0].seq == 1 and .next == 3'
expect 200 '.events[1].prev_hash == .events[0].hash and (.events[0].hash | test("^[0-9a-f]{64}$"))'
req GET '/v1/audit?after=3&limit=1000' "$admin"
expect 200 '.events[0].seq == 4 and .next == null and ([.events[].kind] | index("referral.decided")) != null'
expect 200 "[.events[] | select(.kind == \"referral.created\") | .actor] | index(\"org:demo-acute/hospital\") != null"
req GET '/v1/audit?limit=1001' "$admin"
expect_error 400 invalid limit
req GET /v1/audit "$hospital"
expect_error 403 forbidden null
req GET /v1/audit "$provider"
expect_error 403 forbidden null

req GET /metrics "$viewer"
echo "$body" | grep -Eq '^caretide_beds\{kind="care_home",state="total"\} [1-9]' && ok || bad "bed gauges by kind"
echo "$body" | grep -Eq '^caretide_referrals\{state="completed"\} 1$' && ok || bad "referrals by state: $(echo "$body" | grep caretide_referrals)"
echo "$body" | grep -Eq '^caretide_referrals\{state="cancelled"\} 2$' && ok || bad "cancelled referrals counted"
echo "$body" | grep -Eq '^caretide_escalation_level 3$' && ok || bad "escalation gauge"
echo "$body" | grep -Eq '^caretide_capacity_events_total\{kind="hold.confirmed"\} 1$' && ok || bad "capacity events counted"

"$bin" audit verify --db "$db" >"$tmp/verify" 2>&1 && ok || { bad "audit verify"; cat "$tmp/verify"; }

kill -TERM "$main_pid"
wait "$main_pid"; rc=$?
[ $rc = 0 ] && ok || bad "SIGTERM: exit status $rc"

# ---- timers: holds expire, isolations end, on the host clock ----------------
rm -f "$tmp"/area.db*
sed -i 's|^  hold_ttl: .*|  hold_ttl: 1s|' "$tmp/area.yaml"
start timers --config "$tmp/area.yaml" || { finish; exit 1; }
timers_pid=$pid
req POST /v1/referrals "$hospital" "$(good "$n6")"
expect 201 '.referral.state == "held"'
r6=$(echo "$body" | jq -r .referral.id)
bed6=$(echo "$body" | jq -r .referral.bed)
# The hold expires; the referral waits again and the waiting list offers
# it another bed at once (docs/plugins.md "The waiting list"), never the
# one whose provider did not answer.
expired() { [ "$(sqlite3 "$db" "SELECT count(*) FROM event WHERE kind = 'hold.expired'")" -ge 1 ]; }
wait_for 60 expired && ok || bad "the hold expired"
[ "$(sqlite3 "$db" "SELECT DISTINCT actor FROM event WHERE kind = 'hold.expired'")" = host ] && ok || bad "hold.expired by the host"
[ "$(sqlite3 "$db" "SELECT count(*) FROM assignment WHERE referral_id = $r6 AND bed_id = '$bed6'")" = 1 ] \
  && ok || bad "the expired bed was offered to the same referral again"
soon=$(date -u -d '+2 seconds' +%FT%TZ)
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 7)\", \"ready_date\": \"$today\", \"infections\": {\"flu\": {\"status\": \"positive\", \"isolation_end\": \"$soon\"}}}"
[ "$code" = 201 ] && ok || bad "referral with an isolation: $code $body"
ended() { [ "$(sqlite3 "$db" "SELECT count(*) FROM event WHERE kind = 'isolation.ended'")" = 1 ]; }
wait_for 60 ended && ok || bad "isolation.ended fired"
req GET /metrics "$viewer"
echo "$body" | grep -Eq '^caretide_capacity_events_total\{kind="hold.expired"\} [1-9][0-9]*$' && ok || bad "hold.expired delivered after its commit"
kill -TERM "$timers_pid"
wait "$timers_pid"; rc=$?
[ $rc = 0 ] && ok || bad "timers daemon: exit status $rc"
"$bin" audit verify --db "$db" >"$tmp/verify" 2>&1 && ok || { bad "audit verify after timers"; cat "$tmp/verify"; }

finish
