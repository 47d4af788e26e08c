#!/usr/bin/env bash
# Drives `caretide run` on a free loopback port: health, routing errors,
# the auth matrix, bodies, validation, metrics, reload (SIGHUP and the
# admin API), slow clients and graceful shutdown (SIGTERM, SIGINT).
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

# A copy of the demo area on port 0 with small limits.
demo_area "$tmp/area.yaml" -e 's|^  max_body: .*|  max_body: 4KiB|' \
    -e 's|^  request_timeout: .*|  request_timeout: 1s|'

# ---- command line ----------------------------------------------------------
"$bin" run --help >"$tmp/o" 2>&1; check "run --help exits 0" [ $? = 0 ]
grep -q 'Usage: caretide run' "$tmp/o" && ok || bad "run --help shows usage"
for args in "--bogus" "--listen nonsense" "--listen 127.0.0.1:99999" "extra" "--db"; do
  # shellcheck disable=SC2086
  "$bin" run $args >"$tmp/o" 2>&1; rc=$?
  [ $rc = 2 ] && ok || { bad "run $args exited $rc, wanted 2"; cat "$tmp/o"; }
done
"$bin" run --config "$tmp/missing.yaml" >"$tmp/o" 2>&1; check "missing config exits 1" [ $? = 1 ]

# ---- start-up --------------------------------------------------------------
start main --config "$tmp/area.yaml" || { echo "$pass passed, $((fail + 1)) failed"; exit 1; }
main_pid=$pid
grep -q "^caretide .* serving area 'demo-shire'" "$tmp/main.out" && ok || bad "banner names the area"
grep -q "^try: curl $base/v1/health" "$tmp/main.out" && ok || bad "banner has a curl example"
grep -q "^database $tmp/area.db" "$tmp/main.out" && ok || bad "storage.path resolves against the config's directory"
[ -f "$tmp/area.db" ] && ok || bad "database created"
head -1 "$tmp/main.err" | jq -e '.ts and .level and .unit and .msg' >/dev/null && ok \
  || bad "logs are JSON lines when stderr is not a terminal"

# The same port again: refused with exit 1.
"$bin" run --config "$tmp/area.yaml" --listen "127.0.0.1:$port" --db "$tmp/other.db" >"$tmp/o" 2>&1
check "a busy port exits 1" [ $? = 1 ]

# ---- health and routing ----------------------------------------------------
req GET /v1/health
[ "$code" = 200 ] && ok || bad "health $code"
echo "$body" | jq -e '.status == "ok" and .area == "demo-shire" and (.version | type == "string") and .plugins == []' >/dev/null \
  && ok || bad "health body: $body"
rid=$(echo "$headers" | sed -n 's/^X-Request-Id: //p')
[ -n "$rid" ] && ok || bad "X-Request-Id header"
wait_for 30 grep -q "\"req\":\"$rid\"" "$tmp/main.err" && ok || bad "the request id is in the log"
req GET /v1/health "" "" -H 'X-Request-Id: trace-me-1'
echo "$headers" | grep -q '^X-Request-Id: trace-me-1$' && ok || bad "a client's request id is kept"

req GET /v1/nothing-here
expect_error 404 not_found null
req DELETE /v1/health
expect_error 405 method_not_allowed null
echo "$headers" | grep -q '^Allow: GET, HEAD$' && ok || bad "405 names Allow: $headers"
req GET /v1/admin/reload "$(token_of admin)"
expect_error 405 method_not_allowed null
echo "$headers" | grep -q '^Allow: POST$' && ok || bad "405 Allow POST: $headers"

# ---- auth ------------------------------------------------------------------
req GET /metrics
expect_error 401 unauthorized null
echo "$headers" | grep -q '^WWW-Authenticate: Bearer' && ok || bad "401 has WWW-Authenticate"
req GET /metrics not-a-real-token-at-all
expect_error 401 unauthorized null
req GET /metrics "" "" -H 'Authorization: Basic ZGVtbzpkZW1v'
expect_error 401 unauthorized null

# The role matrix: every route against every role, as the table says,
# and a display credential (a screen on a wall) against every route: it
# reads only the routes marked "display" (aggregate figures).
req POST /v1/displays "$(token_of admin)" '{"name": "matrix-wall"}'
display=$(echo "$body" | jq -r .secret)
[ "$code" = 201 ] && [ ${#display} = 43 ] && ok || bad "issue a display credential: $code $body"
"$bin" run --print-routes > "$tmp/routes"
[ -s "$tmp/routes" ] && ok || bad "--print-routes lists the table"
while read -r method pattern kind rest; do
  path=${pattern//\{id\}/no-such-id}
  payload=
  [ "$method" != GET ] && payload='{}'
  if [ "$rest" = public ]; then
    req "$method" "$path" "" "$payload"
    [ "$code" != 401 ] && [ "$code" != 403 ] && ok || bad "$method $pattern is public, got $code"
    continue
  fi
  req "$method" "$path" "" "$payload"
  [ "$code" = 401 ] && ok || bad "$method $pattern without a token: $code"
  req "$method" "$path" "$display" "$payload"
  case " $rest " in
    *" display "*) [ "$code" != 401 ] && [ "$code" != 403 ] && [ "${code:0:1}" != 5 ] && ok \
                     || bad "$method $pattern as a display: got $code: $body" ;;
    *) [ "$code" = 403 ] && ok || bad "$method $pattern as a display: want 403, got $code" ;;
  esac
  for cell in $rest; do
    [ "$cell" = display ] && continue
    role=${cell%%=*} access=${cell#*=}
    req "$method" "$path" "$(token_of "$role")" "$payload"
    if [ "$access" = none ]; then
      [ "$code" = 403 ] && ok || bad "$method $pattern as $role: want 403, got $code"
    else
      [ "$code" != 401 ] && [ "$code" != 403 ] && [ "${code:0:1}" != 5 ] && ok \
        || bad "$method $pattern as $role ($access): got $code: $body"
    fi
  done
done < "$tmp/routes"

# ---- bodies and validation -------------------------------------------------
admin=$(token_of admin)
big=$(head -c 5000 /dev/zero | tr '\0' 'a')
req POST /v1/admin/reload "$admin" "{\"reason\": \"$big\"}"
expect_error 413 too_large body
req POST /v1/admin/reload "$admin" "{\"reason\": \"$big\"}" -H 'Transfer-Encoding: chunked'
expect_error 413 too_large body
req POST /v1/admin/reload "" "{\"reason\": \"$big\"}"
expect_error 401 unauthorized null
req POST /v1/admin/reload "$admin" '{"reason": '
expect_error 400 malformed_json body
req POST /v1/admin/reload "$admin" '{"reasn": "typo"}'
expect_error 400 unknown_field reasn
req POST /v1/admin/reload "$admin" '{"reason": 42}'
expect_error 400 invalid reason
req POST /v1/admin/reload "$admin" '"just a string"'
expect_error 400 invalid body
req POST /v1/admin/reload "$admin" "" --data-binary 'reason=x' -H 'Content-Type: text/plain'
expect_error 415 unsupported_media_type body
req POST /v1/admin/reload "$admin" '{"reason": "integration test"}'
[ "$code" = 200 ] && ok || bad "reload: $code $body"
echo "$body" | jq -e '.status == "reloaded" and .changes.beds_added == 0' >/dev/null && ok || bad "reload body: $body"

# ---- metrics ---------------------------------------------------------------
req GET /metrics "$(token_of viewer)"
[ "$code" = 200 ] && ok || bad "metrics $code"
echo "$headers" | grep -q '^Content-Type: text/plain; version=0.0.4' && ok || bad "metrics content type"
echo "$body" > "$tmp/metrics"
# Every line is a HELP/TYPE comment or 'name{labels} value'.
bad_lines=$(grep -Ev '^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$|^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$' "$tmp/metrics")
[ -z "$bad_lines" ] && ok || bad "metrics lines out of format: $bad_lines"
grep -Eq '^caretide_http_requests_total\{route="/v1/health",method="GET",status="200"\} [1-9]' "$tmp/metrics" && ok || bad "requests by route and status"
grep -Eq '^caretide_http_requests_total\{route="unmatched",method="GET",status="404"\} 1$' "$tmp/metrics" && ok || bad "404s counted"
grep -Eq '^caretide_http_request_duration_seconds_bucket\{route="/v1/health",le="\+Inf"\} [1-9]' "$tmp/metrics" && ok || bad "latency histogram"
grep -Eq '^caretide_reloads_total\{result="ok"\} [1-9][0-9]*$' "$tmp/metrics" && ok || bad "reloads counted"
grep -Eq '^caretide_ready 1$' "$tmp/metrics" && ok || bad "ready gauge"

# ---- SIGHUP reload of an edited config -------------------------------------
new_token=integration-new-org-token-0001
new_hash=$(printf %s "$new_token" | sha256sum | cut -d' ' -f1)
req GET /metrics "$new_token"
expect_error 401 unauthorized null
sed -i "s|^organisations:|organisations:\n  - id: test-new-org\n    name: Test New Org\n    tokens:\n      - role: viewer\n        sha256: $new_hash|" "$tmp/area.yaml"
kill -HUP "$main_pid"
new_token_works() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $new_token" "$base/metrics")" = 200 ]; }
wait_for 60 new_token_works && ok || bad "SIGHUP: the new organisation's token works"
[ "$(sqlite3 "$tmp/area.db" "SELECT name FROM organisation WHERE id = 'test-new-org'")" = "Test New Org" ] \
  && ok || bad "SIGHUP: the new organisation is reconciled into the database"

# A broken edit: the reload fails, the running config stays.
cp "$tmp/area.yaml" "$tmp/area.good"
sed -i 's|^pathogens: \[covid, flu, norovirus\]|pathogens: [covid, flu|' "$tmp/area.yaml"
kill -HUP "$main_pid"
wait_for 60 grep -q '"reload failed' "$tmp/main.err" && ok || bad "SIGHUP with a broken config logs the failure"
grep -q "area.yaml:[0-9]*:[0-9]*: " "$tmp/main.err" && ok || bad "the failure names file:line:col"
kill -0 "$main_pid" && ok || bad "still running after a failed reload"
new_token_works && ok || bad "the running config stays after a failed reload"
req POST /v1/admin/reload "$admin" ''
expect_error 422 invalid_config null
echo "$body" | jq -e '.error.diagnostics | length > 0' >/dev/null && ok || bad "422 lists diagnostics: $body"
cp "$tmp/area.good" "$tmp/area.yaml"

# ---- slow clients ----------------------------------------------------------
# Half a request line, then silence: the server hangs up after the
# request timeout (1s here); the ceiling of 30s only guards the test.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /v1/health HTTP/1.1\r\nHost: x' >&3
timeout 30 cat <&3 >/dev/null; rc=$?
exec 3<&-
[ $rc = 0 ] && ok || bad "a slow client is cut off (cat exited $rc)"

# ---- graceful shutdown -----------------------------------------------------
# A request is in flight (headers and half its body sent) when SIGTERM
# arrives: the daemon stops accepting, answers it, then exits 0.
# (A referral: a reload asked for while stopping is refused, 503.)
payload="{\"nhs_number\": \"$(nhs 4242)\", \"ready_date\": \"$(date -u +%F)\", \"age\": 80}"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /v1/referrals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
  "$(token_of hospital)" "${#payload}" "${payload:0:8}" >&3
in_flight() {
  curl -s --max-time 5 -H "Authorization: Bearer $admin" "$base/metrics" \
    | grep -Eq '^caretide_http_requests_in_flight ([2-9]|[1-9][0-9]+)$'
}
wait_for 60 in_flight && ok || bad "the half-sent request is in flight"
kill -TERM "$main_pid"
wait_for 60 grep -q 'SIGTERM: shutting down' "$tmp/main.err" && ok || bad "SIGTERM logged"
curl -s -o /dev/null --max-time 10 "$base/v1/health"; rc=$?
[ $rc = 7 ] && ok || bad "no new connections while draining (curl exited $rc)"
printf '%s' "${payload:8}" >&3
answer=$(timeout 30 cat <&3 | tr -d '\r')
exec 3<&-
echo "$answer" | head -1 | grep -q '^HTTP/1.1 201' && ok || bad "the in-flight request is answered: $answer"
echo "$answer" | grep -qi '^Connection: close' && ok || bad "answered with Connection: close"
wait "$main_pid"; rc=$?
[ $rc = 0 ] && ok || bad "SIGTERM: exit status $rc"
grep -q 'stopped; database .* closed' "$tmp/main.err" && ok || bad "database closed on shutdown"
[ "$(sqlite3 "$tmp/area.db" 'PRAGMA integrity_check')" = ok ] && ok || bad "integrity_check after shutdown"

# SIGINT too; and the embedded demo with --db and --listen.
start demo --listen 127.0.0.1:0 --db "$tmp/demo.db" || true
grep -q "demo-viewer-token" "$tmp/demo.out" && ok || bad "the demo banner shows a demo token"
req GET /metrics "$(token_of viewer)"
[ "$code" = 200 ] && ok || bad "demo: viewer token works ($code)"
kill -INT "$pid"
wait "$pid"; rc=$?
[ $rc = 0 ] && ok || bad "SIGINT: exit status $rc"
[ "$(sqlite3 "$tmp/demo.db" 'PRAGMA integrity_check')" = ok ] && ok || bad "integrity_check after SIGINT"
[ "$(sqlite3 "$tmp/demo.db" 'SELECT count(*) FROM bed')" -gt 0 ] && ok || bad "the demo's beds are in the database"

finish
