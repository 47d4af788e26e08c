#!/usr/bin/env bash
# The waiting list served in order (issue 21, docs/plugins.md "The
# waiting list"), on the daemon: a bed that frees goes to the referral
# already waiting, in the list's order, by the host itself (one batch per
# loop turn), before a new referral can take it; a wait says why.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

demo_area "$tmp/area.yaml"
start main --config "$tmp/area.yaml" || { finish; exit 1; }
hub=$(token_of hub) hospital=$(token_of hospital) provider=$(token_of provider)
today=$(date -u +%F)
ago3=$(date -u -d '3 days ago' +%F)
refer() { # refer N READY [EXTRA JSON MEMBERS]: a bariatric P3 referral; sets id
  req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs "$1")\", \"ready_date\": \"$2\", \"requested_pathway\": \"P3\", \"needs\": [\"bariatric\"]${3:+, $3}}"
  id=$(echo "$body" | jq -r .referral.id)
  [ "$code" = 201 ] && ok || bad "referral $1: $code $body"
}
state_of() { req GET "/v1/referrals/$1" "$hub" ''; echo "$body" | jq -r .referral.state; }
bed_of() { req GET "/v1/referrals/$1" "$hub" ''; echo "$body" | jq -r '.referral.bed // .referral.bed_id // empty'; }

# Six bariatric beds (OAK-031..036); five blocked, one left.
for b in 032 033 034 035 036; do
  req PATCH "/v1/beds/OAK-$b" "$provider" '{"status": "blocked", "reason": "hoist repair"}'
  [ "$code" = 200 ] && ok || bad "block OAK-$b: $code $body"
done
refer 1 "$today"; r1=$id
expect 201 '.decision.outcome == "held" and .decision.bed == "OAK-031"'
# Referral 2 has waited three days; nothing is free for it.
refer 2 "$ago3"; r2=$id
expect 201 '.decision.outcome == "waiting"'
check "referral 2 waits" [ "$(state_of "$r2")" = waiting ]

# A bed is unblocked: the host offers it to referral 2 by itself.
req PATCH /v1/beds/OAK-032 "$provider" '{"status": "available"}'
[ "$code" = 200 ] && ok || bad "unblock OAK-032: $code $body"
held2() { [ "$(state_of "$r2")" = held ]; }
wait_for 20 held2 && ok || bad "referral 2 was not offered the unblocked bed: $(state_of "$r2")"
req GET "/v1/referrals/$r2" "$hub" ''
expect 200 '.referral.state == "held"'
echo "$body" | jq -e '.decision.bed == "OAK-032"' >/dev/null && ok || bad "referral 2's decision: $body"
# The re-match is a decision in the audit log, by the waiting list.
req GET '/v1/audit?limit=1000' "$(token_of admin)" ''
echo "$body" | jq -e --argjson id "$r2" '[.events[] | select(.kind == "referral.decided" and .actor == "waiting-list" and .payload.referral == $id and .payload.outcome == "held")] | length == 1' >/dev/null \
  && ok || bad "no referral.decided by waiting-list for referral 2: $(echo "$body" | jq -c '[.events[] | select(.kind == "referral.decided") | {actor, r: .payload.referral, o: .payload.outcome}]')"

# A new referral now waits: the freed bed went to the one before it.
refer 3 "$today"; r3=$id
expect 201 '.decision.outcome == "waiting"'

# Its wait says why: the host's rules, bed by bed.
echo "$body" | jq -e '(.decision.reasons | length) > 0' >/dev/null && ok || bad "referral 3's wait has no reason: $body"

# Order: priority first. A priority referral arrives after referral 3;
# when a bed frees, it goes to the priority one.
refer 4 "$today" '"priority": 50'; r4=$id
expect 201 '.decision.outcome == "waiting"'

# ---- GET /v1/waiting-list --------------------------------------------------
# The list in the host's order with each wait's reasons: the priority
# referral first, then referral 3; a referral the hub made for another
# organisation (demo-community) last. Positions are the whole list's.
req POST /v1/referrals "$hub" "{\"nhs_number\": \"$(nhs 6)\", \"ready_date\": \"$today\", \"requested_pathway\": \"P3\", \"needs\": [\"bariatric\"], \"from_org\": \"demo-community\"}"
expect 201 '.decision.outcome == "waiting"'
r6=$(echo "$body" | jq -r .referral.id)
req GET /v1/waiting-list "$hub" ''
expect 200 "[.waiting[].id] == [$r4, $r3, $r6] and [.waiting[].position] == [1, 2, 3] and .total == 3 and .next == null"
expect 200 ".waiting[0].nhs_number == \"$(nhs 4)\" and .waiting[0].priority == 50 and .waiting[0].needs == [\"bariatric\"] and .waiting[0].outcome == \"waiting\" and .waiting[0].pathway == \"P3\" and .waiting[0].days_past_ready == 0"
expect 200 '.waiting[0].why.excluded.tags.bariatric > 0 and (.waiting[0].why.excluded | type == "object") and (.waiting[0].reasons | length) > 0'
echo "$body" | jq -e '.waiting[1].why.excluded.blocked >= 1' >/dev/null && ok || bad "why counts the blocked beds: $(echo "$body" | jq -c .waiting[1].why)"
# The hub's read of people is audited (access.read naming them).
req GET '/v1/audit?limit=1000' "$hub" ''
echo "$body" | jq -e --argjson a "$r4" --argjson b "$r3" '[.events[] | select(.kind == "access.read" and .payload.route == "GET /v1/waiting-list")] | last | .payload.referrals == [$a, $b, '"$r6"']' >/dev/null \
  && ok || bad "the waiting list's read is not audited: $(echo "$body" | jq -c '[.events[] | select(.kind == "access.read")] | last')"
# Paging: after a position, at most limit.
req GET '/v1/waiting-list?limit=1&after=1' "$hub" ''
expect 200 "[.waiting[].id] == [$r3] and .next == 2 and .total == 3"
req GET '/v1/waiting-list?limit=0' "$hub" ''
expect_error 400 invalid limit
req GET '/v1/waiting-list?after=-1' "$hub" ''
expect_error 400 invalid after
# A hospital sees its own referrals, at their places in the whole list.
req GET /v1/waiting-list "$hospital" ''
expect 200 "[.waiting[].id] == [$r4, $r3] and [.waiting[].position] == [1, 2] and .total == 3 and .waiting[0].nhs_number == \"$(nhs 4)\""
# viewer and admin: pseudonymous ids and figures, never the person.
for tok in "$(token_of viewer)" "$(token_of admin)"; do
  req GET /v1/waiting-list "$tok" ''
  expect 200 "[.waiting[].id] == [$r4, $r3, $r6] and all(.waiting[]; has(\"nhs_number\") or has(\"needs\") or has(\"why\") or has(\"reasons\") | not) and .waiting[0].priority == 50"
  case $body in *"$(nhs 4)"*|*bariatric*) bad "the waiting list shows a viewer the person: $body" ;; *) ok ;; esac
done
# A provider has no relationship with people who wait: 403.
req GET /v1/waiting-list "$provider" ''
expect_error 403 forbidden null
req POST "/v1/referrals/$r6/cancel" "$hub" '{"reason": "listed"}'
expect 200 '.referral.state == "cancelled"'
req PATCH /v1/beds/OAK-033 "$provider" '{"status": "available"}'
held4() { [ "$(state_of "$r4")" = held ]; }
wait_for 20 held4 && ok || bad "the priority referral was not offered the bed first: $(state_of "$r4")"
check "referral 3 still waits" [ "$(state_of "$r3")" = waiting ]

# A hold released goes to the next in order: referral 3.
req POST "/v1/referrals/$r1/cancel" "$hub" '{"reason": "family chose another home"}'
[ "$code" = 200 ] && ok || bad "cancel referral 1: $code $body"
held3() { [ "$(state_of "$r3")" = held ]; }
wait_for 20 held3 && ok || bad "referral 3 was not offered referral 1's bed: $(state_of "$r3")"

# ---- a referral that changes ------------------------------------------------
# Referral 5 waits for a bariatric bed; its needs change (the hoist
# assessment): a nursing bed will do. The update is audited and decides
# it again in place: held now, no cancel and re-refer.
refer 5 "$today"; r5=$id
expect 201 '.decision.outcome == "waiting"'
req PATCH "/v1/referrals/$r5" "$hospital" '{"needs": ["nursing"], "priority": 5}'
expect 200 '.referral.state == "held" and .referral.needs == ["nursing"] and .referral.priority == 5 and .decision.outcome == "held"'
req PATCH "/v1/referrals/$r5" "$hospital" '{"needs": "nursing"}'
expect_error 400 invalid needs
req PATCH "/v1/referrals/$r5" "$hospital" '{"infections": {"covod": {"status": "negative"}}}'
expect_error 400 unknown_field infections.covod
req PATCH "/v1/referrals/$r5" "$hospital" '{}'
expect_error 400 invalid null
req PATCH "/v1/referrals/$r5" "$hospital" '{"colour": "red"}'
[ "$code" = 400 ] && ok || bad "an unknown field: $code $body"
# A new test result: positive; the negative-cohort main house is no place
# for the person now, and the decision says why.
req PATCH "/v1/referrals/$r5" "$hub" "{\"infections\": {\"covid\": {\"status\": \"positive\", \"tested_at\": \"$today\"}}}"
expect 200 '.referral.infections.covid.status == "positive" and .decision.outcome != "held" or .decision.zone != "oakwood-main"'
req GET '/v1/audit?limit=1000' "$hub" ''
echo "$body" | jq -e --argjson id "$r5" '[.events[] | select(.kind == "referral.updated" and .payload.referral == $id)] | length == 2' >/dev/null \
  && ok || bad "updates audited: $(echo "$body" | jq -c '[.events[] | select(.kind == "referral.updated")]')"
echo "$body" | jq -e --argjson id "$r5" '[.events[] | select(.kind == "referral.updated" and .payload.referral == $id)][] | select(.payload.needs) | .payload.needs == {"was": ["bariatric"], "now": ["nursing"]}' >/dev/null \
  && ok || bad "the update says what it replaced"
# An explicit new decision.
req POST "/v1/referrals/$r3/decide" "$hub" '{}'
expect 200 '.decision.referral == '"$r3"' and (.decision.reasons | length) > 0'
req POST "/v1/referrals/$r1/decide" "$hub" '{}'
[ "$code" = 409 ] && ok || bad "a cancelled referral is not decided: $code $body"

kill -TERM "$pid"; wait "$pid"
check "daemon exits 0" [ $? = 0 ]
finish
