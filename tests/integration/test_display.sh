#!/usr/bin/env bash
# Display credentials (docs/reports.md "The wall"): the hub issues one
# for a named screen, the secret is answered once and never stored or
# audited in clear; it reads aggregate figures only, never a person; it
# is revoked at once; it survives a restart; every change is audited.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

demo_area "$tmp/area.yaml"
start main --config "$tmp/area.yaml" || { finish; exit 1; }
hub=$(token_of hub) viewer=$(token_of viewer) admin=$(token_of admin) hospital=$(token_of hospital)

# A person past their ready date, so there is personal data to keep out.
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 7)\", \"ready_date\": \"$(date -u -d '4 days ago' +%F)\", \"requested_pathway\": \"P3\", \"needs\": [\"hydrotherapy\"]}"
expect 201 '.referral.id > 0'

req POST /v1/displays "$hub" '{"name": "ward-7-tv"}'
expect 201 '.name == "ward-7-tv" and (.secret | length) == 43 and .link == "/#display=" + .secret'
secret=$(echo "$body" | jq -r .secret)
req POST /v1/displays "$hub" '{"name": "ward-7-tv"}'
expect_error 409 conflict null
req POST /v1/displays "$hub" '{"name": "ward 7"}'
expect_error 400 invalid name
req POST /v1/displays "$hub" '{}'
expect_error 400 missing name
req POST /v1/displays "$viewer" '{"name": "mine"}'
expect_error 403 forbidden null
req POST /v1/displays "$hospital" '{"name": "mine"}'
expect_error 403 forbidden null

# The list: who issued what, no secret, no hash.
req GET /v1/displays "$admin"
expect 200 '.displays | length == 1 and .[0].name == "ward-7-tv" and .[0].issued_by == "org:demo-council/hub" and .[0].revoked_at == null'
echo "$body" | grep -q "$secret" && bad "the list shows the secret" || ok
grep -rqs "$secret" "$tmp"/area.db* && bad "the secret is stored in clear" || ok

# What the screen may read: the wall's figures; nothing about a person.
for path in /v1/reports/today /v1/reports/daily /v1/reports/providers /v1/reports/pathways /v1/reports/capacity /v1/capacity /v1/escalation /v1/reports/delays; do
  req GET "$path" "$secret"
  [ "$code" = 200 ] && ok || bad "display GET $path: $code $body"
  echo "$body" | grep -q "$(nhs 7)" && bad "$path names a person to a display" || ok
done
for path in /v1/referrals /v1/reports/delayed-people /v1/reports/decisions /v1/audit /v1/beds /v1/displays /metrics; do
  req GET "$path" "$secret"
  [ "$code" = 403 ] && echo "$body" | grep -q 'aggregate figures only' && ok || bad "display GET $path: want 403, got $code $body"
done
req POST /v1/referrals "$secret" '{}'
expect_error 403 forbidden null

# Audited, without the secret.
req GET '/v1/audit?limit=1000' "$hub"
expect 200 '[.events[] | select(.kind == "display.issued" and .payload.name == "ward-7-tv")] | length == 1'
echo "$body" | grep -q "$secret" && bad "the audit log holds the secret" || ok

# A second screen, kept across a restart; the first revoked.
req POST /v1/displays "$admin" '{"name": "board-room"}'
expect 201 '.name == "board-room"'
second=$(echo "$body" | jq -r .secret)
req POST /v1/displays/ward-7-tv/revoke "$hub" '{}'
expect 200 '.name == "ward-7-tv" and .revoked == true'
req GET /v1/reports/today "$secret"
expect_error 401 unauthorized null
req POST /v1/displays/ward-7-tv/revoke "$hub" '{}'
expect_error 404 not_found null
req GET /v1/displays "$hub"
expect 200 '[.displays[] | select(.name == "ward-7-tv")][0].revoked_by == "org:demo-council/hub"'
req GET '/v1/audit?limit=1000' "$hub"
expect 200 '[.events[] | select(.kind == "display.revoked" and .payload.name == "ward-7-tv")] | length == 1'

kill -TERM "$pid"
wait_for 30 sh -c "! kill -0 $pid 2>/dev/null" && ok || bad "daemon stopped"
start again --config "$tmp/area.yaml" || { finish; exit 1; }
req GET /v1/reports/today "$second"
expect 200 '.report == "today" and .totals.now == 1'
req GET /v1/reports/today "$secret"
expect_error 401 unauthorized null
# A revoked name may be issued again, with a new secret.
req POST /v1/displays "$hub" '{"name": "ward-7-tv"}'
expect 201 ".secret != \"$secret\""
"$bin" audit verify --config "$tmp/area.yaml" >/dev/null 2>&1 && ok || bad "the audit chain verifies"
finish
