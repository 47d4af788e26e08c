#!/usr/bin/env bash
# `caretide report` and GET /v1/reports/... on the demo area: referrals
# and delays made through the API, then the same figures from the command
# line (JSON, CSV, table) on the database opened read-only, the usage
# errors (exit 2), and the API's query checks and role rules.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

# A comma in an organisation's name, to see CSV quote it.
# A long facility name, to see the tables never cut a name.
demo_area "$tmp/area.yaml" -e 's|name: Oakwood Care Homes Ltd|name: "Oakwood Care Homes, Ltd"|' \
  -e 's|name: Elm Ward community rehab unit|name: Elm Ward community rehabilitation unit of North Marsh NHS Trust|'
grep -q 'Oakwood Care Homes, Ltd' "$tmp/area.yaml" || { echo "FAIL: could not edit the area"; exit 1; }
start main --config "$tmp/area.yaml" || { finish; exit 1; }
db=$tmp/area.db
hub=$(token_of hub) hospital=$(token_of hospital) viewer=$(token_of viewer)
today=$(date -u +%F)
ago3=$(date -u -d '3 days ago' +%F)

# r1: ready three days ago, waiting, delayed by Oakwood (awaiting a P3
# bed); r2: ready today, discharged today (no bed needed).
body() { printf '{"nhs_number": "%s", "ready_date": "%s", "requested_pathway": "%s", "needs": ["hydrotherapy"]}' "$@"; }
req POST /v1/referrals "$hospital" "$(body "$(nhs 1)" "$ago3" P3)"
expect 201 '.decision.outcome == "waiting"'
r1=$(echo "$body" | jq -r .referral.id)
req POST /v1/referrals "$hospital" "$(body "$(nhs 2)" "$today" P1)"
expect 201 '.referral.id > 0'
r2=$(echo "$body" | jq -r .referral.id)
req POST "/v1/referrals/$r1/delay" "$hub" '{"reason": "awaiting_p3_bed", "responsible_org": "oakwood-care"}'
expect 200 '.referral.delay_reason == "awaiting_p3_bed"'
req POST "/v1/referrals/$r2/discharge" "$hospital" '{}'
expect 200 '.referral.state == "discharged"'

# ---- the API ---------------------------------------------------------------
req GET /v1/reports/delays "$viewer"
expect 200 '.report == "delays" and .area == "demo-shire" and .by == "org"'
expect 200 '.totals.referrals == 2 and .totals.delayed == 1 and .totals.bed_days_lost == 3'
expect 200 '.totals.discharged == 1 and .totals.share_on_ready_date == 1 and .totals.in_hospital == 1'
expect 200 '.groups[0].key == "oakwood-care" and .groups[0].name == "Oakwood Care Homes, Ltd" and .groups[0].bed_days_lost == 3'
req GET '/v1/reports/delays?by=reason' "$hospital"
# No reason list in this area (no discharge_hub): the group is named by its code.
expect 200 '.groups[0].key == "awaiting_p3_bed" and .groups[0].name == "awaiting_p3_bed"'
req GET "/v1/reports/delays?by=pathway&from=$today&to=$today" "$viewer"
expect 200 '.totals.referrals == 1 and .groups[0].key == "P1" and .period.from != null'
req GET /v1/reports/delays?by=colour "$viewer"
expect_error 400 invalid by
req GET /v1/reports/delays?from=2026-02-30 "$viewer"
expect_error 400 invalid from
req GET "/v1/reports/capacity?from=$today&to=2000-01-01" "$viewer"
expect_error 400 invalid to
req GET /v1/reports/escalation?to=tomorrow "$viewer"
expect_error 400 invalid to
req GET /v1/reports/capacity "$viewer"
expect 200 '.report == "capacity" and .totals.total == ([.facilities[].totals.total] | add)'
expect 200 '(.history.at | length) == (.history.area.open | length) and .history.area.open[-1] == .totals.open'
expect 200 '.cohorts.covid.positive.zones == 1 and (.facilities[0] | has("data_age_hours"))'
req GET /v1/reports/escalation "$viewer"
expect 200 '.report == "escalation" and .current.level == 1 and (.levels | length) == 4'
req GET /v1/reports/decisions?limit=5 "$viewer"
expect 200 "[.decisions[].referral] == [$r2, $r1] and (.decisions[0].decision.trace | type) == \"array\""
req GET /v1/reports/decisions "$hospital"
expect_error 403 forbidden null
req GET /v1/reports/delays
expect_error 401 unauthorized null

# ---- the command line --------------------------------------------------------
report() { "$bin" report "$@" --db "$db" --config "$tmp/area.yaml"; }
api_delays=$(curl -s -H "Authorization: Bearer $viewer" "$base/v1/reports/delays?by=reason")
cli_delays=$(report delays --by reason --format json)
check "report delays --format json exits 0" [ $? = 0 ]
check "report --json is --format json" [ "$(report delays --by reason --json | jq -c 'del(.at)')" = "$(echo "$cli_delays" | jq -c 'del(.at)')" ]
[ "$(echo "$cli_delays" | jq -c '{totals, groups, by}')" = "$(echo "$api_delays" | jq -c '{totals, groups, by}')" ] \
  && ok || bad "CLI and API delays differ: $cli_delays"
cli_cap=$(report capacity --format json)
echo "$cli_cap" | jq -e '.report == "capacity" and .totals.total == 274 and (.cohorts | has("norovirus"))' >/dev/null \
  && ok || bad "capacity JSON: $(echo "$cli_cap" | head -c 300)"
report escalation --format json | jq -e '.current.level == 1 and .levels[0].level == 1' >/dev/null \
  && ok || bad "escalation JSON"

csv=$(report delays --format csv)
[ "$(echo "$csv" | head -1)" = "key,name,referrals,delayed,bed_days_lost,mean_delay_days,max_delay_days,discharged,discharged_on_ready_date,share_on_ready_date,in_hospital,delayed_in_hospital" ] \
  && ok || bad "delays CSV header: $(echo "$csv" | head -1)"
echo "$csv" | grep -qx 'oakwood-care,"Oakwood Care Homes, Ltd",1,1,3,3,3,0,0,,1,1' && ok || bad "quoted CSV row: $csv"
echo "$csv" | grep -qx 'total,All referrals,2,1,3,3,3,1,1,1,1,1' && ok || bad "CSV total row: $csv"
[ "$(echo "$csv" | wc -l)" = 4 ] && ok || bad "CSV rows: $csv"
csv=$(report capacity --format csv)
echo "$csv" | head -1 | grep -q '^level,facility,zone,kind,total,open,' && ok || bad "capacity CSV header"
echo "$csv" | grep -q '^area,,,,274,274,' && ok || bad "capacity CSV area row: $(echo "$csv" | sed -n 2p)"
[ "$(echo "$csv" | grep -c '^facility,')" = 7 ] && ok || bad "capacity CSV facility rows"
csv=$(report escalation --format csv)
[ "$(echo "$csv" | head -1)" = level,ms,hours,share ] && echo "$csv" | sed -n 2p | grep -q '^1,[0-9]*,' \
  && [ "$(echo "$csv" | wc -l)" = 5 ] && ok || bad "escalation CSV: $csv"

table=$(report delays)
echo "$table" | grep -q '^responsible organisation' && ok || bad "delays table header: $table"
echo "$table" | grep -q '^Oakwood Care Homes, Ltd (oakwood-care) ' && ok || bad "delays table row: $table"
echo "$table" | grep -Eq '^All referrals +2 +1 +3 ' && ok || bad "delays table totals: $table"
echo "$table" | grep -q ' delayed in hospital$' && ok || bad "delays table lacks delayed in hospital: $table"
# The last column is delayed_in_hospital: 1 (r1), as in the CSV and JSON.
echo "$table" | grep -Eq '^All referrals .* 1 +1$' && ok || bad "delays table delayed in hospital figure: $table"
report capacity | grep -q '^Elm Ward community rehabilitation unit of North Marsh NHS Trust ' \
  && ok || bad "capacity table cuts a long name: $(report capacity | grep Elm)"
report capacity | grep -q '^Willow House step-down unit' && ok || bad "capacity table"
report escalation | grep -q '^Current level: 1' && ok || bad "escalation table"
"$bin" report delays --db "$db" --from "$ago3" --to "$ago3" --format json | jq -e '.totals.referrals == 1' >/dev/null \
  && ok || bad "--from/--to"

# Usage errors: exit 2 with a message naming the problem.
usage() { # usage PATTERN ARGS...
  local pattern=$1; shift
  "$bin" report "$@" >"$tmp/o" 2>&1; local rc=$?
  [ $rc = 2 ] && grep -q "$pattern" "$tmp/o" && ok || { bad "report $* exited $rc: $(cat "$tmp/o")"; }
}
usage 'missing report' --db "$db"
usage "unknown report 'beds'" beds --db "$db"
usage 'from: 2026-02-30 does not exist: February 2026 has 28 days' delays --from 2026-02-30 --db "$db"
usage "to: '23/11/2026' is not a date YYYY-MM-DD" delays --to 23/11/2026 --db "$db"
usage "from: '30/02/2026' is not a date YYYY-MM-DD" delays --from 30/02/2026 --db "$db"
usage 'is after' delays --from 2026-02-02 --to 2026-02-01 --db "$db"
usage 'applies to the delays report only' capacity --by org --db "$db"
usage "expected org, reason or pathway" delays --by colour --db "$db"
usage "expected table, csv or json" delays --format xml --db "$db"
usage "unexpected argument" delays capacity --db "$db"
usage "needs a value" delays --from
"$bin" report --help | grep -q 'Usage: caretide report' && ok || bad "report --help"
"$bin" report delays --db "$tmp/missing.db" >"$tmp/o" 2>&1
[ $? = 1 ] && grep -q 'cannot open database' "$tmp/o" && ok || bad "a missing database exits 1: $(cat "$tmp/o")"

# ---- the wall's reports: today, daily, delayed people -------------------
# r1 (ready 3 days ago, waiting, Oakwood) is the one person past the ready
# date now; a day ago it had not been referred yet (the wall counts what
# the hub knew then), but its bed-days lost count from the ready date.
req GET /v1/reports/today "$viewer"
expect 200 '.report == "today" and .area_name == "Demo Shire transfer of care hub"'
expect 200 '.totals.now == 1 and .totals.yesterday == 0 and .totals.last_week == 0 and .totals.bed_days == 3'
expect 200 '.orgs[0].key == "oakwood-care" and .orgs[0].reasons[0].key == "awaiting_p3_bed" and .reasons[0].now == 1'
expect 200 '[.. | objects | has("nhs_number")] | any | not'
req GET "/v1/reports/daily?from=$ago3&to=$today" "$viewer"
expect 200 '.report == "daily" and (.days | length) == 4 and .delayed.total[-1] == 1 and .bed_days_lost.total == [0, 1, 1, 1]'
expect 200 '.delayed.by_org["oakwood-care"].values[-1] == 1 and (.occupancy.share | length) == 4 and (.escalation.level | length) == 4'
req GET /v1/reports/daily?format=xml "$viewer"
expect_error 400 invalid format
# Providers' answers to holds and pathway shares: the API, the CSV and the
# command line give the same figures.
req GET /v1/reports/providers "$viewer"
expect 200 '.report == "providers" and .totals.org == "total" and (.providers | type) == "array"'
prov_holds=$(echo "$body" | jq '.totals.holds')
report providers --format json | jq -e ".totals.holds == $prov_holds" >/dev/null \
  && ok || bad "report providers: the CLI's total holds differ from the API's ($prov_holds)"
req GET /v1/reports/pathways "$viewer"
expect 200 '.report == "pathways" and (.pathways | length) == 6 and .pathways[0].pathway == "P0"'
discharges=$(echo "$body" | jq '.discharges')
report pathways --format json | jq -e ".discharges == $discharges" >/dev/null \
  && ok || bad "report pathways: the CLI's discharges differ from the API's ($discharges)"
req GET '/v1/reports/pathways?format=csv' "$viewer"
[ "$code" = 200 ] && echo "$body" | head -1 | grep -qx 'pathway,discharges,share,returning_residents' \
  && ok || bad "pathways CSV: $code $body"
report pathways --format csv | diff - <(echo "$body") >/dev/null \
  && ok || bad "pathways: the CLI's CSV differs from the API's"
req GET '/v1/reports/providers?from=2026-02-30' "$viewer"
expect_error 400 invalid from
req GET /v1/reports/decisions?format=csv "$viewer"
expect_error 400 invalid format
# The list of people is for the hub only: personal data.
req GET /v1/reports/delayed-people "$viewer"
expect_error 403 forbidden null
req GET /v1/reports/delayed-people "$hospital"
expect_error 403 forbidden null
req GET /v1/reports/delayed-people "$hub"
expect 200 ".people | length == 1 and .[0].referral == $r1 and .[0].days_past_ready == 3 and .[0].nhs_number == \"$(nhs 1)\""
# Why they wait, as the decision says, in structure (issue 21).
expect 200 '(.people[0].why.excluded | type) == "object" and ([.people[0].why.excluded | .. | numbers] | add) > 0'
req GET '/v1/reports/delayed-people?format=csv' "$hub"
[ "$code" = 200 ] && echo "$headers" | grep -qi '^content-type: text/csv' && echo "$body" | grep -q "^$r1,$(nhs 1),demo-acute,P3,waiting,$ago3,3,awaiting_p3_bed," \
  && ok || bad "delayed people CSV: $code $body"
echo "$body" | head -1 | grep -q ',updated_at,why$' && echo "$body" | sed -n 2p | grep -Eq ',"?[0-9]+ [a-z]' \
  && ok || bad "delayed people CSV has no why: $body"

# The same figures from the API (JSON and CSV) and the command line.
for kind in today daily; do
  api_csv=$(curl -s -H "Authorization: Bearer $viewer" "$base/v1/reports/$kind?format=csv")
  cli_csv=$(report $kind --format csv)
  [ -n "$api_csv" ] && [ "$api_csv" = "$cli_csv" ] && ok || bad "$kind: API CSV and CLI CSV differ: $(diff <(echo "$api_csv") <(echo "$cli_csv") | head -5)"
done
api_today=$(curl -s -H "Authorization: Bearer $viewer" "$base/v1/reports/today")
[ "$(echo "$api_today" | jq -c '{totals, orgs, reasons}')" = "$(report today --format json | jq -c '{totals, orgs, reasons}')" ] \
  && ok || bad "today: API and CLI JSON differ"
# The CSV's area row says what the JSON says.
report today --format csv | grep -qx 'area,total,"Past their ready date, in hospital",1,0,0,3,3,0,1,0,0' \
  && ok || bad "today CSV area row: $(report today --format csv)"
table=$(report today)
echo "$table" | grep -Eq '^Oakwood Care Homes, Ltd \(oakwood-care\) +1 +0 +0 +3 +3 ' && ok || bad "today table: $table"
report daily --from "$ago3" | grep -Eq "^$today +1 +1 " && ok || bad "daily table: $(report daily --from "$ago3")"
usage 'do not apply to the today report' today --from 2026-01-01 --db "$db"

# Read-only: after the daemon stops, reports change no data on disk (a
# read-only SQLite connection to a WAL database may leave an empty -wal
# and a -shm index beside it; neither holds data).
kill -TERM "$pid"
wait_for 30 sh -c "! kill -0 $pid 2>/dev/null" && ok || bad "daemon stopped"
before=$(cat "$db" "$db.audit-head" | sha256sum)
report delays >/dev/null && report capacity >/dev/null && report escalation >/dev/null &&
  report today >/dev/null && report daily >/dev/null
after=$(cat "$db" "$db.audit-head" | sha256sum)
[ "$before" = "$after" ] && ok || bad "a report changed the database"
finish
