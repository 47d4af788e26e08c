#!/usr/bin/env bash
# Outbound notifications (issue 23, docs/api.md "Notifications"): a
# referral's changes are written to the outbox in the change's own
# transaction and sent to the referring organisation's webhook, a real
# HTTP receiver (notify/receiver.py): retried with backoff when it fails,
# every attempt recorded and listed by GET /v1/notifications and the
# metrics; after kill -9 the rows not yet delivered are sent by the next
# start, each with an Idempotency-Key the receiver can dedupe on. Both
# formats (the FHIR rest-hook's Task, caretide's JSON) and both kinds of
# authentication (HMAC signature, bearer) are checked by the receiver;
# the secrets are nowhere in the database or the logs. Bad notify config
# is refused by check with file:line:col.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

rx=$tmp/rx
mkdir -p "$rx"
secret=notify-test-hmac-secret-0001
bearer=notify-test-bearer-secret-0002
python3 "$src/tests/integration/notify/receiver.py" "$rx" "$secret" "$bearer" &
pids+=($!)
wait_for 30 test -s "$rx/port" || { bad "the receiver did not start"; finish; exit 1; }
rport=$(cat "$rx/port")
printf '%s\n' "$secret" > "$tmp/hook.secret"
export CT_TEST_NOTIFY_BEARER=$bearer

other=integration-other-hospital-token
other_hash=$(printf %s "$other" | sha256sum | cut -d' ' -f1)
# demo-acute: the FHIR rest-hook, signed; other-acute: JSON, bearer.
area() { # area FILE NOTIFICATIONS-SECTION
  demo_area "$1" \
    -e "s|^    ods_code: R9Z$|    ods_code: R9Z\n    notify:\n      url: http://127.0.0.1:$rport/fhir\n      secret:\n        file: hook.secret|" \
    -e "s|^organisations:|organisations:\n  - id: other-acute\n    name: Other Acute Trust\n    ods_code: R9X\n    notify:\n      url: http://127.0.0.1:$rport/events\n      format: json\n      auth: bearer\n      secret:\n        env: CT_TEST_NOTIFY_BEARER\n    tokens:\n      - role: hospital\n        sha256: $other_hash|"
  printf '%s\n' "$2" >> "$1"
}
area "$tmp/area.yaml" 'notifications:
  max_attempts: 8
  backoff: 1s
  max_backoff: 2s
  timeout: 5s'
"$bin" check --config "$tmp/area.yaml" >"$tmp/check.out" 2>&1 && ok || { bad "check refused the area: $(cat "$tmp/check.out")"; }

# ---- check: bad notify config, file:line:col -------------------------------
bad_notify() { # bad_notify SED-EXPR PATTERN
  sed -e "$1" "$tmp/area.yaml" > "$tmp/bad.yaml"
  if "$bin" check --config "$tmp/bad.yaml" >"$tmp/bad.out" 2>&1; then
    bad "check passed with $1"
  else
    grep -Eq "^$tmp/bad.yaml:[0-9]+:[0-9]+: .*$2" "$tmp/bad.out" && ok || bad "check on $1: want '$2': $(cat "$tmp/bad.out")"
  fi
}
bad_notify "s|url: http://127.0.0.1:$rport/events|url: ftp://127.0.0.1/x|" "must be http:// or https://"
bad_notify "s|url: http://127.0.0.1:$rport/events|url: http://me:pw@127.0.0.1/x|" "must not carry a user or password"
bad_notify "s|url: http://127.0.0.1:$rport/events|url: not a url|" "is not a URL"
bad_notify "s|format: json|format: xml|" "unknown format 'xml'"
bad_notify "s|env: CT_TEST_NOTIFY_BEARER|env: CT_TEST_NO_SUCH_VARIABLE|" "environment variable 'CT_TEST_NO_SUCH_VARIABLE' is not set"
bad_notify "s|file: hook.secret|file: no-such.secret|" "cannot read secret file"
bad_notify "s|      auth: bearer|      auth: bearer\n      colour: blue|" "unknown key 'colour'"
bad_notify "s|^  max_backoff: 2s|  max_backoff: 500ms|" "'max_backoff' must not be shorter than 'backoff'"
bad_notify "s|^  max_attempts: 8|  max_attempts: 0|" "max_attempts"
sed -e "/file: hook.secret/d" -e "\\|/fhir$|{n;s|secret:|auth: hmac|}" "$tmp/area.yaml" > "$tmp/bad.yaml"
"$bin" check --config "$tmp/bad.yaml" >"$tmp/bad.out" 2>&1 && bad "auth hmac without a secret passed" \
  || { grep -q "auth 'hmac' needs a 'secret'" "$tmp/bad.out" && ok || bad "auth without secret: $(cat "$tmp/bad.out")"; }

start main --config "$tmp/area.yaml" || { finish; exit 1; }
db=$tmp/area.db
hub=$(token_of hub) hospital=$(token_of hospital) provider=$(token_of provider)
viewer=$(token_of viewer) admin=$(token_of admin)
today=$(date -u +%F)
referral() { # referral NHS: a P3 referral the demo holds at oakwood
  jq -cn --arg n "$1" --arg d "$today" \
    '{nhs_number: $n, ready_date: $d, requested_pathway: "P3", age: 84, needs: ["nursing"]}'
}
rows() { sqlite3 "$db" "SELECT count(*) FROM notification${1:+ WHERE $1}"; }
received() { [ -f "$rx/log" ] && jq -s "$1" "$rx/log"; }

# ---- retries: the receiver fails twice, the third attempt delivers ---------
echo 2 > "$rx/mode"
req POST /v1/referrals "$hospital" "$(referral "$(nhs 1)")"
expect 201 '.referral.state == "held"'
r1=$(echo "$body" | jq -r .referral.id)
[ "$(rows "referral_id = $r1 AND event = 'held'")" = 1 ] && ok || bad "no outbox row with the hold"
delivered() { [ "$(rows "referral_id = $1 AND event = '$2' AND status = 'delivered'")" = 1 ]; }
wait_for 60 delivered "$r1" held && ok || bad "held never delivered: $(sqlite3 "$db" 'SELECT * FROM notification_attempt')"
req GET /v1/notifications "$admin"
expect 200 ".notifications[0].referral == $r1 and .notifications[0].event == \"held\" and .notifications[0].status == \"delivered\" and .notifications[0].attempts == 3"
expect 200 '[.notifications[0].attempt_log[] | [.n, .http_status, .outcome]] == [[1, 503, "retry"], [2, 503, "retry"], [3, 200, "delivered"]]'
expect 200 '.notifications[0].attempt_log[1].at >= .notifications[0].attempt_log[0].at + 500'
key=$(echo "$body" | jq -r '.notifications[0].idempotency_key')
nid=$(echo "$body" | jq -r '.notifications[0].id')
req GET "/v1/notifications/$nid" "$hub"
expect 200 ".id == $nid and .idempotency_key == \"$key\" and (.attempt_log | length) == 3"
req GET /v1/notifications "$hospital"
expect_error 403 forbidden null
req GET /v1/notifications "$viewer"
expect_error 403 forbidden null
req GET '/v1/notifications?status=lost' "$admin"
expect_error 400 invalid status
req GET /v1/notifications/424242 "$admin"
expect_error 404 not_found null
# What the receiver saw: three PUTs of the Task to its base/Task/{id},
# signed, one Idempotency-Key, attempts counted.
got=$(received "[.[] | select(.key == \"$key\")]")
echo "$got" | jq -e "length == 3 and all(.[]; .method == \"PUT\" and .path == \"/fhir/Task/$r1\" and .signed == true and .bearer == null and .event == \"held\" and (.type | startswith(\"application/fhir+json\")))" >/dev/null \
  && ok || bad "rest-hook requests: $got"
echo "$got" | jq -e "[.[].attempt] == [\"1\", \"2\", \"3\"] and [.[].status] == [503, 503, 200] and (.[2].body | .resourceType == \"Task\" and .id == \"$r1\" and .status == \"accepted\" and .for.identifier.value == \"$(nhs 1)\")" >/dev/null \
  && ok || bad "the Task sent: $got"

# A refused change writes no notification: the outbox follows the change.
before=$(rows)
req POST "/v1/referrals/$r1/confirm" "$hospital" ''
expect_error 403 forbidden null
req POST "/v1/referrals/$r1/discharge" "$hospital" '{}'
[ "$code" -ge 400 ] && ok || bad "discharge of a held referral: $code"
[ "$(rows)" = "$before" ] && ok || bad "a refused change wrote to the outbox"

# placed, in the Task as in-progress.
req POST "/v1/referrals/$r1/confirm" "$provider" ''
expect 200 '.referral.state == "placed"'
wait_for 60 delivered "$r1" placed && ok || bad "placed never delivered"
received "[.[] | select(.event == \"placed\" and .status == 200)][0].body.status" | grep -q in-progress && ok || bad "placed Task status: $(received '[.[] | select(.event == "placed")]')"

# ---- kill -9 with notifications undelivered --------------------------------
echo fail > "$rx/mode"
req POST "/v1/referrals/$r1/discharge" "$hospital" '{}'
expect 200 '.referral.state == "discharged"'
req POST /v1/referrals "$other" "$(referral "$(nhs 2)")"
expect 201 '.referral.state == "held"'
r2=$(echo "$body" | jq -r .referral.id)
req POST "/v1/referrals/$r2/cancel" "$other" '{"reason": "went home with family"}'
expect 200 '.referral.state == "cancelled"'
tried() { [ "$(sqlite3 "$db" "SELECT count(DISTINCT notification_id) FROM notification_attempt a JOIN notification n ON n.id = a.notification_id WHERE n.status = 'pending'")" -ge 3 ]; }
wait_for 60 tried && ok || bad "the undelivered rows were never tried: $(sqlite3 "$db" 'SELECT id, event, status, attempts FROM notification')"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
pending=$(rows "status = 'pending'")
[ "$pending" -ge 3 ] && ok || bad "want 3 pending after kill -9, got $pending"
want_keys=$(sqlite3 "$db" "SELECT event_seq FROM notification WHERE status = 'pending' ORDER BY event_seq" | tr '\n' ' ')
rm -f "$rx/mode"
start again --config "$tmp/area.yaml" || { finish; exit 1; }
none_pending() { [ "$(rows "status = 'pending'")" = 0 ]; }
wait_for 60 none_pending && ok || bad "still pending after the restart: $(sqlite3 "$db" 'SELECT id, event, status, attempts FROM notification')"
[ "$(rows "status <> 'delivered'")" = 0 ] && ok || bad "not all delivered"
area_id=$(sqlite3 "$db" "SELECT 1" >/dev/null; grep -m1 '^  id:' "$tmp/area.yaml" | awk '{print $2}')
for seq in $want_keys; do
  n=$(received "[.[] | select(.key == \"$area_id:$seq\" and .status == 200)] | length")
  [ "$n" -ge 1 ] && ok || bad "event $seq never received with 200 after the restart"
done
# The receiver dedupes on the key: each change arrived once or more, and
# the distinct keys answered 200 are exactly the outbox.
[ "$(received '[.[] | select(.status == 200) | .key] | unique | length')" = "$(rows)" ] && ok || bad "keys received differ from the outbox"
# The JSON webhook: POSTed to its URL with the bearer secret.
got=$(received '[.[] | select(.path == "/events" and .status == 200)]')
echo "$got" | jq -e "length >= 2 and all(.[]; .method == \"POST\" and .bearer == true and .signed == null and .type == \"application/json\" and .body.referral.id == $r2 and (.key == \"$area_id:\" + (.body.seq | tostring)))" >/dev/null \
  && ok || bad "json webhook requests: $got"
echo "$got" | jq -e '[.[].event] | sort == ["cancelled", "held"]' >/dev/null && ok || bad "json events: $got"
received "[.[] | select(.event == \"discharged\" and .status == 200)][0].body | .resourceType == \"Task\" and .status == \"in-progress\"" | grep -q true && ok || bad "discharged Task"

# ---- metrics; secrets nowhere ----------------------------------------------
req GET /metrics "$admin"
grep -q '^caretide_notifications{status="delivered"} [1-9]' <<<"$body" && ok || bad "metrics: notifications gauge: $(grep notification <<<"$body")"
grep -q '^caretide_notification_attempts_total{outcome="delivered"} [1-9]' <<<"$body" && ok || bad "metrics: attempts counter"
for s in "$secret" "$bearer"; do
  ! sqlite3 "$db" .dump | grep -q "$s" && ok || bad "a secret is in the database"
  ! grep -q "$s" "$tmp"/*.out "$tmp"/*.err && ok || bad "a secret is in the logs"
done

# ---- giving up after max_attempts ------------------------------------------
kill -TERM "$pid"; wait "$pid" 2>/dev/null
area "$tmp/area2.yaml" 'notifications:
  max_attempts: 2
  backoff: 100ms
  max_backoff: 200ms
  timeout: 5s'
# held_failing NAME AREA MODE N: a daemon on AREA whose receiver answers
# MODE; person N is held and its notification must end failed. Sets r.
held_failing() {
  echo "$3" > "$rx/mode"
  start "$1" --config "$2" || { finish; exit 1; }
  req POST /v1/referrals "$hospital" "$(referral "$(nhs "$4")")"
  expect 201 '.referral.state == "held"'
  r=$(echo "$body" | jq -r .referral.id)
  failed() { [ "$(rows "referral_id = $r AND status = 'failed'")" = 1 ]; }
  wait_for 60 failed && ok || bad "$1: never failed: $(sqlite3 "$db" "SELECT * FROM notification WHERE referral_id = $r")"
}
held_failing third "$tmp/area2.yaml" fail 3
r3=$r
req GET '/v1/notifications?status=failed' "$admin"
expect 200 "(.notifications | length) == 1 and .notifications[0].referral == $r3 and .notifications[0].attempts == 2 and [.notifications[0].attempt_log[].outcome] == [\"retry\", \"failed\"] and .notifications[0].next_at == null"
req GET /metrics "$admin"
grep -q '^caretide_notification_attempts_total{outcome="failed"} 1' <<<"$body" && ok || bad "metrics: failed attempt"
kill -TERM "$pid"; wait "$pid" 2>/dev/null

# ---- what the receiver says: a refusal for good, and Retry-After -----------
# A 400 (or 410, 413, 415, 422) refuses the request itself: failed after
# one attempt though attempts are left. A 429 with Retry-After waits at
# least that long, not the 100-200 ms backoff.
area "$tmp/area3.yaml" 'notifications:
  max_attempts: 8
  backoff: 100ms
  max_backoff: 5s
  timeout: 5s'
held_failing fourth "$tmp/area3.yaml" status:400 4
r4=$r
req GET '/v1/notifications?status=failed' "$admin"
expect 200 "[.notifications[] | select(.referral == $r4) | [.attempts, [.attempt_log[] | [.http_status, .outcome]]]] == [[1, [[400, \"failed\"]]]]"
grep -q "HTTP 400; refused by the receiver, not retried" "$tmp"/fourth.err && ok || bad "no log line for the refusal: $(grep notification "$tmp"/fourth.err | tail -3)"
echo after:2 > "$rx/mode"
req POST "/v1/referrals/$r4/cancel" "$hospital" '{"reason": "went home with family"}'
expect 200 '.referral.state == "cancelled"'
cancelled4() { [ "$(rows "referral_id = $r4 AND event = 'cancelled' AND status = 'delivered'")" = 1 ]; }
wait_for 60 cancelled4 && ok || bad "the cancellation was never delivered: $(sqlite3 "$db" "SELECT * FROM notification WHERE referral_id = $r4")"
gap=$(sqlite3 "$db" "SELECT max(a.at) - min(a.at), count(*) FROM notification_attempt a JOIN notification n ON n.id = a.notification_id WHERE n.referral_id = $r4 AND n.event = 'cancelled'")
[ "${gap#*|}" = 2 ] && [ "${gap%|*}" -ge 2000 ] && ok || bad "Retry-After: 2 not honoured (gap ms|attempts): $gap"
kill -TERM "$pid"; wait "$pid" 2>/dev/null
finish
