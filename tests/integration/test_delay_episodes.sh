#!/usr/bin/env bash
# Delay episodes through the API with the standard plugins (issue 22,
# finding 6): a new reason no longer replaces the old one, bed-days are
# split between the organisations responsible in turn, reason and
# organisation are checked together against discharge_hub's national list
# (plugin data), a delay cannot start before the ready date, and the ready
# date can be reset (audited). Days are UK days.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT
command -v jq >/dev/null || { echo "jq not installed: skipped"; exit 77; }

demo_area_standard "$tmp/area.yaml"
start main --config "$tmp/area.yaml" || { finish; exit 1; }
hospital=$(token_of hospital) hub=$(token_of hub)
# The daemon counts days in UK time.
ago() { TZ=Europe/London date -d "$1 days ago" +%F; }

# Ready five days ago, waiting for a care home (no test: held back).
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 1)\", \"ready_date\": \"$(ago 5)\", \"needs\": [\"nursing\"]}"
expect 201 '.referral.delay_days == 5 and .referral.delays == []'
id=$(echo "$body" | jq -r .referral.id)

# Reason and organisation together: a care home cannot hold up a P2 bed.
req POST "/v1/referrals/$id/delay" "$hospital" '{"reason": "awaiting_p2_bed", "responsible_org": "oakwood-care"}'
expect_error 400 invalid responsible_org
echo "$body" | jq -e '.error.message | test("oakwood-care is a care provider")' >/dev/null && ok || bad "names the kind: $body"
req POST "/v1/referrals/$id/delay" "$hospital" '{"reason": "awaiting_p3_bd", "responsible_org": "oakwood-care"}'
expect_error 400 invalid reason
echo "$body" | jq -e '.error.message | test("did you mean .awaiting_p3_bed.")' >/dev/null && ok || bad "did-you-mean: $body"
req POST "/v1/referrals/$id/delay" "$hospital" "{\"reason\": \"awaiting_p3_bed\", \"responsible_org\": \"oakwood-care\", \"from\": \"$(ago 6)\"}"
expect_error 400 invalid from
echo "$body" | jq -e '.error.message | test("on or after the discharge ready date")' >/dev/null && ok || bad "before the DRD: $body"
req POST "/v1/referrals/$id/delay" "$hospital" '{"reason": "awaiting_p3_bed", "responsible_org": "nobody"}'
expect_error 400 invalid responsible_org
req GET "/v1/referrals/$id" "$hub"
expect 200 '.referral.delays == [] and .referral.delay_reason == null'

# The care home first, from the ready date; then home care from two days ago.
req POST "/v1/referrals/$id/delay" "$hospital" '{"reason": "awaiting_p3_bed", "responsible_org": "oakwood-care"}'
expect 200 ".referral.delays | length == 1 and .[0].from == \"$(ago 5)\" and .[0].text == \"Pathway 3: awaiting a care home bed\""
req POST "/v1/referrals/$id/delay" "$hub" "{\"reason\": \"awaiting_p1_care\", \"responsible_org\": \"demo-council\", \"from\": \"$(ago 2)\"}"
expect 200 ".referral.delay_reason == \"awaiting_p1_care\" and (.referral.delays | length == 2
  and .[0].to == \"$(ago 2)\" and .[0].days == 3 and .[1].to == null and .[1].days == 2)"
# Rewriting the history before the current episode is refused.
req POST "/v1/referrals/$id/delay" "$hub" "{\"reason\": \"awaiting_p3_bed\", \"responsible_org\": \"oakwood-care\", \"from\": \"$(ago 3)\"}"
expect_error 400 invalid from

# The report splits the bed-days; the total counts each day once.
req GET '/v1/reports/delays?by=org' "$hub"
expect 200 '.totals.bed_days_lost == 5
  and (.groups[] | select(.key == "oakwood-care") | .bed_days_lost == 3 and .referrals == 1)
  and (.groups[] | select(.key == "demo-council") | .bed_days_lost == 2)'
req GET '/v1/reports/delays?by=reason' "$hub"
expect 200 '.groups[] | select(.key == "awaiting_p3_bed") | .name == "Pathway 3: awaiting a care home bed" and .bed_days_lost == 3'

# The ready date is reset (a new medical issue): audited, with why.
req POST "/v1/referrals/$id/ready_date" "$hospital" "{\"ready_date\": \"$(ago 1)\", \"reason\": \"new infection, not fit\"}"
expect 200 ".referral.ready_date == \"$(ago 1)\" and .referral.delay_days == 1"
req POST "/v1/referrals/$id/ready_date" "$hospital" '{"ready_date": "2026-02-30", "reason": "x"}'
expect_error 400 invalid ready_date
req POST "/v1/referrals/$id/ready_date" "$hospital" "{\"ready_date\": \"$(ago 1)\"}"
expect_error 400 missing reason
req GET '/v1/audit?limit=1000' "$hub"
expect 200 "[.events[] | select(.kind == \"referral.ready_date_set\") | .payload] == [{\"referral\": $id, \"ready_date\": \"$(ago 1)\", \"was\": \"$(ago 5)\", \"reason\": \"new infection, not fit\"}]"
expect 200 '[.events[] | select(.kind == "referral.delay_set")] | length == 2'
req GET '/v1/reports/delays?by=org' "$hub"
expect 200 '.totals.bed_days_lost == 1 and (.groups[] | select(.key == "demo-council") | .bed_days_lost == 1)'

# A ready date still to come: no delay to record yet.
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 2)\", \"ready_date\": \"$(TZ=Europe/London date -d '2 days' +%F)\"}"
expect 201 '.referral.delay_days == 0'
later=$(echo "$body" | jq -r .referral.id)
req POST "/v1/referrals/$later/delay" "$hospital" '{"reason": "awaiting_p1_care", "responsible_org": "demo-council"}'
expect_error 400 invalid null
echo "$body" | jq -e '.error.message | test("no delay to record yet")' >/dev/null && ok || bad "future DRD: $body"

# Coded after discharge (issue 21, finding 4): the sitrep lets reasons be
# coded retrospectively, so a person who left without one is not "no
# responsible organisation" for ever. Audited with who and when.
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 3)\", \"ready_date\": \"$(ago 4)\", \"requested_pathway\": \"P2\", \"needs\": [\"rehab\"]}"
expect 201 '.referral.state == "held"'
gone=$(echo "$body" | jq -r .referral.id)
req POST "/v1/referrals/$gone/confirm" "$hub" ''
expect 200 '.referral.state == "placed"'
req POST "/v1/referrals/$gone/discharge" "$hospital" ''
expect 200 '.referral.state == "discharged" and .referral.delay_days == 4 and .referral.delays == []'
req GET '/v1/reports/delays?by=org' "$hub"
none_before=$(echo "$body" | jq '[.groups[] | select(.key == null or .key == "none") | .bed_days_lost] | add // 0')
# The first reason, from the ready date by default, up to the day they left.
req POST "/v1/referrals/$gone/delay" "$hub" '{"reason": "awaiting_p2_bed", "responsible_org": "demo-community"}'
expect 200 ".referral.state == \"discharged\" and (.referral.delays | length == 1) and .referral.delays[0].from == \"$(ago 4)\" and .referral.delays[0].days == 4 and (.referral.delays[0].recorded_by | startswith(\"org:\")) and .referral.delays[0].recorded_at > 0 and .referral.delays[0].retrospective == true"
# A correction: the last two days were the family's choice.
req POST "/v1/referrals/$gone/delay" "$hospital" "{\"reason\": \"person_family_disagree\", \"responsible_org\": \"demo-acute\", \"from\": \"$(ago 2)\"}"
expect 200 '(.referral.delays | map(.days)) == [2, 2] and .referral.delay_reason == "person_family_disagree"'
# Not after the day they left, nor before the ready date.
req POST "/v1/referrals/$gone/delay" "$hub" "{\"reason\": \"awaiting_p2_bed\", \"responsible_org\": \"demo-community\", \"from\": \"$(ago 0)\"}"
expect_error 400 invalid from
echo "$body" | jq -e '.error.message | test("left hospital")' >/dev/null && ok || bad "after discharge day: $body"
req POST "/v1/referrals/$gone/delay" "$hub" "{\"reason\": \"awaiting_p2_bed\", \"responsible_org\": \"demo-community\", \"from\": \"$(ago 5)\"}"
expect_error 400 invalid from
req GET '/v1/reports/delays?by=org' "$hub"
expect 200 '(.groups[] | select(.key == "demo-community") | .bed_days_lost) >= 2 and (.groups[] | select(.key == "demo-acute") | .bed_days_lost) >= 2'
none_after=$(echo "$body" | jq '[.groups[] | select(.key == null or .key == "none") | .bed_days_lost] | add // 0')
[ "$none_after" -le "$none_before" ] && ok || bad "the unattributed days did not shrink: $none_before -> $none_after"
req GET "/v1/audit?limit=1000" "$hub"
expect 200 "[.events[] | select(.kind == \"referral.delay_set\" and .payload.referral == $gone and .payload.retrospective == true)] | length == 2"
# Re-coding an earlier episode (issue 21): the first reason was wrong; the
# correction is a new episode over the same days that supersedes it,
# audited with what it replaced; reports count the corrected one.
req GET "/v1/referrals/$gone" "$hub"
first=$(echo "$body" | jq '.referral.delays[0].id')
other_ep=$(curl -s -H "Authorization: Bearer $hub" "$base/v1/referrals/$id" | jq '.referral.delays[0].id')
req GET '/v1/reports/delays?by=org' "$hub"
community_before=$(echo "$body" | jq '[.groups[] | select(.key == "demo-community") | .bed_days_lost] | add // 0')
acute_before=$(echo "$body" | jq '[.groups[] | select(.key == "demo-acute") | .bed_days_lost] | add // 0')
req POST "/v1/referrals/$gone/delay" "$hub" "{\"episode\": $first, \"reason\": \"person_family_disagree\", \"responsible_org\": \"demo-acute\"}"
expect 200 "(.referral.delays | length == 2) and .referral.delays[0].supersedes == $first and .referral.delays[0].reason == \"person_family_disagree\" and .referral.delays[0].from == \"$(ago 4)\" and .referral.delays[0].days == 2 and .referral.delays[1].supersedes == null and (.referral.delays | map(.days)) == [2, 2]"
req GET '/v1/reports/delays?by=org' "$hub"
[ "$(echo "$body" | jq '[.groups[] | select(.key == "demo-community") | .bed_days_lost] | add // 0')" = $((community_before - 2)) ] && \
  [ "$(echo "$body" | jq '[.groups[] | select(.key == "demo-acute") | .bed_days_lost] | add // 0')" = $((acute_before + 2)) ] \
  && ok || bad "the delays report does not use the correction: $(echo "$body" | jq -c '[.groups[] | {key, bed_days_lost}]')"
req GET "/v1/audit?limit=1000" "$hub"
expect 200 "[.events[] | select(.kind == \"referral.delay_corrected\") | .payload | select(.referral == $gone and .supersedes == $first and .was.reason == \"awaiting_p2_bed\" and .was.responsible_org == \"demo-community\" and .responsible_org == \"demo-acute\")] | length == 1"
# The superseded episode is history: correct the correction instead. An
# episode of another referral, or a correction with its own days, is
# refused; nothing changes.
req POST "/v1/referrals/$gone/delay" "$hub" "{\"episode\": $first, \"reason\": \"awaiting_p2_bed\", \"responsible_org\": \"demo-community\"}"
expect_error 400 invalid episode
req POST "/v1/referrals/$gone/delay" "$hub" "{\"episode\": $other_ep, \"reason\": \"awaiting_p2_bed\", \"responsible_org\": \"demo-community\"}"
expect_error 400 invalid episode
req POST "/v1/referrals/$gone/delay" "$hub" "{\"episode\": $first, \"reason\": \"awaiting_p2_bed\", \"responsible_org\": \"demo-community\", \"from\": \"$(ago 3)\"}"
expect_error 400 invalid from
req POST "/v1/referrals/$gone/delay" "$hub" '{"episode": "x", "reason": "awaiting_p2_bed", "responsible_org": "demo-community"}'
expect_error 400 invalid episode
req GET "/v1/referrals/$gone" "$hub"
expect 200 '(.referral.delays | map(.reason)) == ["person_family_disagree", "person_family_disagree"]'

# A cancelled referral still takes none.
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 4)\", \"ready_date\": \"$(ago 3)\", \"needs\": [\"nursing\"]}"
cancelled=$(echo "$body" | jq -r .referral.id)
req POST "/v1/referrals/$cancelled/cancel" "$hospital" '{"reason": "died"}'
req POST "/v1/referrals/$cancelled/delay" "$hub" '{"reason": "awaiting_p3_bed", "responsible_org": "oakwood-care"}'
expect_error 409 state null

finish
