#!/usr/bin/env bash
# The national returns (issue 23, docs/reports.md "National returns"):
# `caretide report capacity-tracker` gives the Capacity Tracker's vacancy
# fields per care home and bed type, `caretide report sitrep` the daily
# discharge sitrep's, both with organisations by ODS code and homes by CQC
# location id, from a database the daemon filled through the API.
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
hub=$(token_of hub) hospital=$(token_of hospital) provider=$(token_of provider)
today=$(date -u +%F)
yesterday=$(date -u -d yesterday +%F)
ago3=$(date -u -d '3 days ago' +%F)
report() { "$bin" report "$@" --db "$db" --config "$tmp/area.yaml"; }
refer() { # refer N READY PATHWAY [EXTRA JSON MEMBERS]: sets id
  req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs "$1")\", \"ready_date\": \"$2\", \"requested_pathway\": \"$3\"${4:+, $4}}"
  id=$(echo "$body" | jq -r .referral.id)
  [ "$code" = 201 ] && ok || bad "referral $1: $code $body"
}

# ---- Capacity Tracker --------------------------------------------------------
refer 1 "$today" P3 '"needs": ["nursing"]'
held=$(echo "$body" | jq -r .referral.bed)
refer 2 "$today" P3 '"needs": ["nursing"]'
req POST "/v1/referrals/$id/confirm" "$provider" ''
expect 200 '.referral.state == "placed"'
req PATCH /v1/beds/OAK-036 "$provider" '{"status": "blocked", "reason": "deep clean"}'
expect 200 '.bed.status == "blocked"'
req PATCH /v1/zones/oakwood-memory "$provider" '{"closed": true, "reason": "norovirus outbreak"}'
expect 200 '.closed == true'
case $held in OAK-0*) ok ;; *) bad "the P3 referral was not held in Oakwood's main house: $held" ;; esac

report capacity-tracker > "$tmp/ct.csv" 2> "$tmp/ct.err"
check "capacity-tracker exits 0" [ $? = 0 ]
[ "$(head -1 "$tmp/ct.csv")" = "date,cqc_location_id,ods_site_code,home,provider_ods_code,provider,bed_type,max_capacity,occupied,vacant_reserved,vacant_accepting,vacant_not_accepting,admissions_closed,caretide_facility" ] \
  && ok || bad "capacity-tracker header: $(head -1 "$tmp/ct.csv")"
grep -qx "$today,1-999000001,,Oakwood Nursing Home,VZ9A1,Oakwood Care Homes Ltd,nursing,36,1,1,33,1,yes,oakwood" "$tmp/ct.csv" \
  && ok || bad "Oakwood's nursing beds: $(cat "$tmp/ct.csv")"
grep -qx "$today,1-999000001,,Oakwood Nursing Home,VZ9A1,Oakwood Care Homes Ltd,dementia_nursing,12,0,0,0,12,yes,oakwood" "$tmp/ct.csv" \
  && ok || bad "Oakwood's dementia beds (zone closed): $(cat "$tmp/ct.csv")"
grep -q "^$today,1-999000002,,Riverside Residential Home,VZ9B2,Riverside Care Ltd,.*,no,riverside$" "$tmp/ct.csv" \
  && ok || bad "Riverside's row: $(cat "$tmp/ct.csv")"
# Care homes only: no acute, step-down or home-care rows.
[ "$(tail -n +2 "$tmp/ct.csv" | cut -d, -f14 | sort -u | tr '\n' ' ')" = "oakwood riverside " ] \
  && ok || bad "rows beyond the care homes: $(cut -d, -f14 "$tmp/ct.csv" | sort -u)"
# Each row's counts add up to its capacity.
tail -n +2 "$tmp/ct.csv" | awk -F, '$8 != $9 + $10 + $11 + $12 { bad = 1 } END { exit bad }' \
  && ok || bad "counts do not add up to max_capacity"
report capacity-tracker --format json | jq -e '.report == "capacity_tracker" and (.homes | length) == 2 and .homes[0].admissions_closed == true' >/dev/null \
  && ok || bad "capacity-tracker as JSON"
# Without the config, the national codes are not known: empty fields.
"$bin" report capacity-tracker --db "$db" | grep -q "^$today,,,Oakwood Nursing Home,,Oakwood Nursing Home\|^$today,,,Oakwood Nursing Home,,oakwood-care," \
  && ok || bad "capacity-tracker without config: $("$bin" report capacity-tracker --db "$db")"
report capacity-tracker --from "$today" > "$tmp/o" 2>&1
check "capacity-tracker --from is a usage error" [ $? = 2 ]

# ---- sitrep --------------------------------------------------------------------
# A: ready three days ago, waiting for home care; the council is responsible.
refer 3 "$ago3" P1
a=$id
req POST "/v1/referrals/$a/delay" "$hospital" '{"reason": "awaiting_p1_care", "responsible_org": "demo-council"}'
expect 200 '.referral.delay_reason == "awaiting_p1_care"'
# B: home today (P0); C: a care-home resident going back (P0, P3b in the
# sitrep); D: step-down, ready yesterday, left today (P2 in the sitrep).
refer 4 "$today" P0
req POST "/v1/referrals/$id/discharge" "$hospital" ''
refer 5 "$today" P0 '"usual_residence": "care_home"'
req POST "/v1/referrals/$id/discharge" "$hospital" ''
refer 6 "$yesterday" step_down
d=$id
req POST "/v1/referrals/$d/confirm" "$hub" ''
req POST "/v1/referrals/$d/discharge" "$hospital" ''
expect 200 '.referral.state == "discharged"'

report sitrep > "$tmp/sr.csv" 2> "$tmp/sr.err"
check "sitrep exits 0" [ $? = 0 ]
[ "$(head -1 "$tmp/sr.csv")" = "date,measure,pathway,delay_reason,delay_reason_text,responsible_ods_code,responsible_organisation,value" ] \
  && ok || bad "sitrep header: $(head -1 "$tmp/sr.csv")"
line() { grep -qx "$1" "$tmp/sr.csv" && ok || bad "sitrep lacks '$1': $(cat "$tmp/sr.csv")"; }
# In hospital at the day's end with a ready date on or before it: A and
# the two Oakwood referrals (held, placed: not yet discharged).
line "$today,nctr,,,,,,3"
line "$today,delayed,,,,,,1"
line "$today,discharged,P0,,,,,1"
line "$today,discharged,P3b,,,,,1"
line "$today,discharged,P2,,,,,1"
line "$today,discharged,P1,,,,,0"
line "$today,delayed_by_reason,,awaiting_p1_care,Pathway 1: awaiting care at home,Z9D,Demo Shire Council,1"
line "$today,delay_days_by_reason,,awaiting_p1_care,Pathway 1: awaiting care at home,Z9D,Demo Shire Council,3"
# Yesterday nobody was referred yet: every figure is 0.
report sitrep --from "$yesterday" --to "$yesterday" > "$tmp/sr2.csv"
[ "$(grep -c "^$yesterday," "$tmp/sr2.csv")" -ge 8 ] && ! grep -q "^$yesterday,.*,[1-9][0-9]*$" "$tmp/sr2.csv" \
  && ok || bad "yesterday's sitrep counts referrals made today: $(cat "$tmp/sr2.csv")"
report sitrep --from "$yesterday" --format json | jq -e "[.days[].date] == [\"$yesterday\", \"$today\"] and .days[1].discharged.P3b == 1" >/dev/null \
  && ok || bad "sitrep over two days as JSON"
report sitrep --from 2020-01-01 > "$tmp/o" 2>&1
[ $? = 1 ] && grep -q "1 to 366 days" "$tmp/o" && ok || bad "a sitrep of years: $(cat "$tmp/o")"
"$bin" report --help | grep -q 'capacity-tracker' && ok || bad "report --help lists capacity-tracker"

finish
