#!/usr/bin/env bash
# Existing residents (issue 21, docs/api.md "Existing residents"): a
# provider records a bed occupied by someone who came without a referral
# in caretide, with an optional expected end. The bed counts as occupied
# everywhere (capacity, FHIR Location, reports), takes no hold, and when
# the resident leaves or the expected end passes it goes to the first
# referral on the waiting list.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

demo_area "$tmp/area.yaml"
start main --config "$tmp/area.yaml" || { finish; exit 1; }
db=$tmp/area.db
hub=$(token_of hub) hospital=$(token_of hospital) oakwood=$(token_of provider)
admin=$(token_of admin) viewer=$(token_of viewer) community=demo-community-token
today=$(date -u +%F)
in3=$(date -u -d '+3 days' +%F)
state_of() { req GET "/v1/referrals/$1" "$hub" ''; echo "$body" | jq -r .referral.state; }
bed_of() { req GET "/v1/referrals/$1" "$hub" ''; echo "$body" | jq -r '.referral.bed // empty'; }
totals() { req GET /v1/capacity "$viewer" ''; echo "$body" | jq -c '.facilities[] | select(.id == "oakwood") | .totals | {available, occupied}'; }

# Oakwood's six bariatric beds: OAK-031 gets a resident, the rest blocked.
before=$(totals)
req PUT /v1/beds/OAK-031/resident "$oakwood" "{\"expected_end\": \"$in3\", \"note\": \"long-stay resident, respite review\"}"
expect 200 '.created == true and .bed.status == "occupied" and (.bed.resident.expected_end | type == "number") and (.bed | has("referral") | not)'
after=$(totals)
[ "$(echo "$before" | jq '.occupied + 1')" = "$(echo "$after" | jq .occupied)" ] && \
  [ "$(echo "$before" | jq '.available - 1')" = "$(echo "$after" | jq .available)" ] \
  && ok || bad "the resident does not count as occupied: $before -> $after"
req GET /fhir/R4/Location/b.OAK-031 "$viewer" ''
expect 200 '.operationalStatus.code == "O"'
req GET '/v1/beds?status=occupied' "$viewer" ''
expect 200 '[.beds[] | select(.id == "OAK-031")] | length == 1'
req GET /v1/reports/capacity "$viewer" ''
expect 200 '[.facilities[] | select(.id == "oakwood") | .totals.occupied] | .[0] >= 1'
echo "$body" | jq -e '(.history.area.occupied | last) >= 1 and ([.history.facilities[] | select(.id == "oakwood") | .occupied | last] | .[0] >= 1)' >/dev/null \
  && ok || bad "the occupancy history leaves the resident out: $(echo "$body" | jq -c '.history.area.occupied | last')"

# The expected end moves: resident.updated says what it replaced.
in5=$(date -u -d '+5 days' +%F)
req PUT /v1/beds/OAK-031/resident "$oakwood" "{\"expected_end\": \"$in5\"}"
expect 200 '.created == false and .bed.status == "occupied"'

# Refusals change nothing.
req PUT /v1/beds/OAK-031/resident "$oakwood" '{"expected_end": "2020-01-01"}'
expect_error 400 invalid expected_end
req PUT /v1/beds/OAK-032/resident "$oakwood" '{"expected_end": "soon"}'
expect_error 400 invalid expected_end
req PUT /v1/beds/OAK-032/resident "$oakwood" '{"expcted_end": "2099-01-01"}'
expect_error 400 unknown_field expcted_end
req PUT /v1/beds/OAK-032/resident "$oakwood" "{\"note\": \"$(head -c 201 /dev/zero | tr '\0' a)\"}"
expect_error 400 invalid note
req PUT /v1/beds/OAK-032/resident "$community" '{}'
expect_error 403 forbidden null
req PUT /v1/beds/OAK-032/resident "$hospital" '{}'
expect_error 403 forbidden null
req PUT /v1/beds/OAK-032/resident "$viewer" '{}'
expect_error 403 forbidden null
req PUT /v1/beds/NOPE-1/resident "$hub" '{}'
expect_error 404 not_found null
req DELETE /v1/beds/OAK-032/resident "$oakwood" ''
expect_error 409 state null
[ "$(sqlite3 "$db" "SELECT count(*) FROM resident WHERE bed_id <> 'OAK-031'")" = 0 ] && ok || bad "a refused request recorded a resident"
# A resident's bed cannot be blocked or held.
req PATCH /v1/beds/OAK-031 "$oakwood" '{"status": "blocked", "reason": "deep clean"}'
expect 409 '.error.message | test("resident")'
for b in 032 033 034 035 036; do
  req PATCH "/v1/beds/OAK-$b" "$oakwood" '{"status": "blocked", "reason": "hoist repair"}'
  [ "$code" = 200 ] && ok || bad "block OAK-$b: $code $body"
done
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 1)\", \"ready_date\": \"$today\", \"requested_pathway\": \"P3\", \"needs\": [\"bariatric\"]}"
expect 201 '.decision.outcome == "waiting" and .decision.why.excluded.occupied >= 1'
r1=$(echo "$body" | jq -r .referral.id)

# An admin (no person involved) records a resident elsewhere, and the hub.
req PUT /v1/beds/OAK-001/resident "$admin" ''
expect 200 '.created == true and .bed.resident.expected_end == null'
req PUT /v1/beds/OAK-001/resident "$admin" '{"expected_end": "2099-01-01"}'
expect 200 '.created == false and (.bed.resident.expected_end | type == "number")'
req PUT /v1/beds/OAK-001/resident "$admin" '{"expected_end": null}'
expect 200 '.created == false and .bed.resident.expected_end == null'
req DELETE /v1/beds/OAK-001/resident "$hub" ''
expect 200 '.bed.status == "available" and (.bed | has("resident") | not)'

# The resident leaves: the bed goes to referral 1, by the waiting list.
req DELETE /v1/beds/OAK-031/resident "$oakwood" ''
expect 200 '.bed.status != "occupied"'
held1() { [ "$(state_of "$r1")" = held ]; }
wait_for 20 held1 && ok || bad "the freed bed was not offered down the waiting list: $(state_of "$r1")"
[ "$(bed_of "$r1")" = OAK-031 ] && ok || bad "referral 1 holds $(bed_of "$r1"), not OAK-031"

# An expected end that passes frees the bed by itself: OAK-032 has a
# resident leaving in a few seconds and referral 2 waits for it.
req PATCH /v1/beds/OAK-032 "$oakwood" '{"status": "available"}'
expect 200 '.bed.status == "available"'
soon=$(date -u -d '+4 seconds' +%FT%TZ)
req PUT /v1/beds/OAK-032/resident "$oakwood" "{\"expected_end\": \"$soon\"}"
expect 200 '.bed.status == "occupied"'
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 2)\", \"ready_date\": \"$today\", \"requested_pathway\": \"P3\", \"needs\": [\"bariatric\"]}"
expect 201 '.decision.outcome == "waiting"'
r2=$(echo "$body" | jq -r .referral.id)
held2() { [ "$(state_of "$r2")" = held ]; }
wait_for 30 held2 && ok || bad "the expected end did not free the bed for referral 2: $(state_of "$r2")"
[ "$(bed_of "$r2")" = OAK-032 ] && ok || bad "referral 2 holds $(bed_of "$r2")"

# Audited, with who did it; a viewer's audit shows the bed, not the note.
req GET '/v1/audit?limit=1000' "$hub" ''
echo "$body" | jq -e '[.events[] | select(.kind | startswith("resident."))] | map(.kind + ":" + .actor) | . == ["resident.recorded:org:oakwood-care/provider", "resident.updated:org:oakwood-care/provider", "resident.recorded:org:demo-council/admin", "resident.updated:org:demo-council/admin", "resident.updated:org:demo-council/admin", "resident.left:org:demo-council/hub", "resident.left:org:oakwood-care/provider", "resident.recorded:org:oakwood-care/provider", "resident.left:host"]' >/dev/null \
  && ok || bad "resident events: $(echo "$body" | jq -c '[.events[] | select(.kind | startswith("resident.")) | [.kind, .actor]]')"
echo "$body" | jq -e '[.events[] | select(.kind == "resident.updated")][0].payload.expected_end | (.was | type == "number") and (.now > .was)' >/dev/null \
  && ok || bad "resident.updated does not say what it replaced"
echo "$body" | jq -e '[.events[] | select(.kind == "resident.left" and .actor == "host")][0].payload.reason == "expected_end"' >/dev/null \
  && ok || bad "the expected end's event"
req GET '/v1/audit?limit=1000' "$viewer" ''
echo "$body" | jq -e '[.events[] | select(.kind == "resident.recorded")][0].payload | .bed == "OAK-031" and (has("note") | not)' >/dev/null \
  && ok || bad "a viewer's audit of a resident: $(echo "$body" | jq -c '[.events[] | select(.kind == "resident.recorded")][0]')"

kill -TERM "$pid"; wait "$pid"
check "daemon exits 0" [ $? = 0 ]
"$bin" audit verify --db "$db" >/dev/null 2>&1 && ok || bad "audit verify"
finish
