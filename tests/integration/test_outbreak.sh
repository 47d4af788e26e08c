#!/usr/bin/env bash
# Outbreaks and refusals through the API (issue 22, finding 5): a provider
# closes and reopens its own zones and sets their cohorts with a reason
# (audited); free beds of a closed zone count as neither available nor
# open; a provider declines a hold with a reason, which frees it at once.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT
command -v jq >/dev/null || { echo "jq not installed: skipped"; exit 77; }

demo_area "$tmp/area.yaml"
start outbreak --config "$tmp/area.yaml" || { finish; exit 1; }
hub=$(token_of hub) hospital=$(token_of hospital) oakwood=$(token_of provider)
community=demo-community-token viewer=$(token_of viewer)
today=$(date -u +%F)
zone_totals() { # zone_totals ZONE: its totals in /v1/capacity (sets body)
  req GET /v1/capacity "$hub"
  echo "$body" | jq -c ".facilities[].zones[] | select(.id == \"$1\") | .totals"
}
before=$(zone_totals oakwood-main)
free=$(echo "$before" | jq .available)
[ "$free" -gt 0 ] && ok || bad "oakwood-main has free beds: $before"

# Bad input changes nothing.
req PATCH /v1/zones/oakwood-main "$oakwood" '{"closed": true}'
expect_error 400 missing reason
req PATCH /v1/zones/oakwood-main "$oakwood" '{"reason": "norovirus outbreak"}'
expect_error 400 missing closed
req PATCH /v1/zones/oakwood-main "$oakwood" '{"cohort": {"flu": "maybe"}, "reason": "x"}'
expect_error 400 invalid cohort.flu
req PATCH /v1/zones/oakwood-main "$oakwood" '{"closed": true, "reason": "x", "colour": "red"}'
expect_error 400 unknown_field colour
req PATCH /v1/zones/nowhere "$hub" '{"closed": true, "reason": "x"}'
[ "$code" = 404 ] && ok || bad "unknown zone: $code $body"
# Only its own zones, and not hospitals or viewers.
req PATCH /v1/zones/elm-ward "$oakwood" '{"closed": true, "reason": "x"}'
[ "$code" = 403 ] || [ "$code" = 404 ] && ok || bad "another provider's zone: $code $body"
req PATCH /v1/zones/oakwood-main "$hospital" '{"closed": true, "reason": "x"}'
[ "$code" = 403 ] && ok || bad "a hospital cannot close a zone: $code"
[ "$(zone_totals oakwood-main)" = "$before" ] && ok || bad "refusals changed nothing"

# The outbreak: closed, its free beds neither available nor open.
req PATCH /v1/zones/oakwood-main "$oakwood" '{"closed": true, "reason": "norovirus outbreak"}'
expect 200 '.zone == "oakwood-main" and .closed == true and .reason == "norovirus outbreak"'
t=$(zone_totals oakwood-main)
echo "$t" | jq -e ".available == 0 and .closed == $free and .open == (.total - .blocked - $free)" >/dev/null \
  && ok || bad "closed beds neither available nor open: $t"
req GET /v1/capacity "$viewer"
echo "$body" | jq -e '[.facilities[].zones[] | select(.id == "oakwood-main")][0] | .closed == true and .closed_reason == "norovirus outbreak"' >/dev/null \
  && ok || bad "the zone shows closed with its reason"
# The metrics the escalation plugins read agree (winter_surge's occupancy
# is occupied over open).
echo "$body" | jq -e ".metrics.beds.closed == $free and .metrics.beds.open == (.metrics.beds.total - .metrics.beds.blocked - $free)" >/dev/null \
  && ok || bad "metrics count closed beds apart: $(echo "$body" | jq -c .metrics.beds)"
# A cohort for flu, by the hub, with its reason.
req PATCH /v1/zones/oakwood-memory "$hub" '{"cohort": {"flu": "positive"}, "reason": "flu cohort while the outbreak lasts"}'
expect 200 '.cohort.flu == "positive"'
req GET /v1/capacity "$viewer"
echo "$body" | jq -e '[.facilities[].zones[] | select(.id == "oakwood-memory")][0].cohorts.flu == "positive"' >/dev/null \
  && ok || bad "the flu cohort is set"
# Nobody is placed there while it is closed.
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 1)\", \"ready_date\": \"$today\", \"age\": 84, \"requested_pathway\": \"P3\", \"needs\": [\"nursing\"]}"
expect 201 '.decision.zone != "oakwood-main" and .decision.zone != "oakwood-memory"'
waited=$(echo "$body" | jq -r 'select(.decision.outcome == "waiting") | .referral.id')
# Then reopened.
req PATCH /v1/zones/oakwood-main "$oakwood" '{"closed": false, "reason": "48 hours without symptoms"}'
expect 200 '.closed == false'
req PATCH /v1/zones/oakwood-main "$oakwood" '{"closed": false, "reason": "again"}'
[ "$code" = 409 ] && ok || bad "reopening an open zone: $code $body"
# Free again, but for the bed the waiting list gave the one who waited
# (docs/plugins.md "The waiting list").
if [ -n "$waited" ]; then
  waited_held() { req GET "/v1/referrals/$waited" "$hub"; echo "$body" | jq -e '.referral.state == "held"' >/dev/null; }
  wait_for 20 waited_held && ok || bad "the waiting referral was not offered the reopened zone: $body"
  [ "$(zone_totals oakwood-main | jq .available)" = "$((free - 1))" ] && ok || bad "free again after reopening"
else
  [ "$(zone_totals oakwood-main | jq .available)" = "$free" ] && ok || bad "free again after reopening"
fi

# A provider declines a hold: freed at once, the referral waits again.
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 2)\", \"ready_date\": \"$today\", \"age\": 84, \"requested_pathway\": \"P3\", \"needs\": [\"nursing\"]}"
expect 201 '.decision.outcome == "held" and .decision.facility == "oakwood"'
id=$(echo "$body" | jq -r .referral.id) bed=$(echo "$body" | jq -r .decision.bed)
req POST "/v1/referrals/$id/decline" "$community" '{"reason": "no"}'
[ "$code" = 403 ] || [ "$code" = 404 ] && ok || bad "another provider cannot decline: $code"
req POST "/v1/referrals/$id/decline" "$oakwood" '{}'
expect_error 400 missing reason
req POST "/v1/referrals/$id/decline" "$oakwood" '{"reason": "cannot meet bariatric needs"}'
expect 200 '.referral.state == "waiting"'
req GET "/v1/beds?facility=oakwood" "$hub"
echo "$body" | jq -e ".beds[] | select(.id == \"$bed\") | .status == \"available\"" >/dev/null \
  && ok || bad "the bed is free at once"
req POST "/v1/referrals/$id/decline" "$oakwood" '{"reason": "again"}'
[ "$code" = 409 ] || [ "$code" = 404 ] && ok || bad "nothing left to decline: $code $body"
# Declines are reported per provider (the daily report's holds).
req GET /v1/reports/daily "$hub"
expect 200 '(.holds.declined | add) == 1 and (.holds.by_provider["oakwood-care"].declined | add) == 1'

kill -TERM "$pid"; wait "$pid"
db=$tmp/area.db
n=$(sqlite3 "$db" "SELECT count(*) FROM event WHERE kind = 'zone.changed' AND json_extract(payload, '\$.reason') IN
      ('norovirus outbreak', 'flu cohort while the outbreak lasts', '48 hours without symptoms')")
[ "$n" = 3 ] && ok || bad "each change audited with its reason ($n)"
p=$(sqlite3 "$db" "SELECT json_extract(payload, '\$.provider') FROM event WHERE kind = 'hold.declined'")
[ "$p" = oakwood-care ] && ok || bad "the decline names the provider: $p"
finish
