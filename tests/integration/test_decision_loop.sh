#!/usr/bin/env bash
# A referral's decision never holds the event loop for plugin code
# (docs/sandbox.md, "Decisions off the loop"): its hook calls run on the
# host thread and the plugins' own threads while the loop answers health.
# Five plugins each spend about 200 ms of Lua work in triage (deadline
# 240 ms, within their 250 ms decision budget); on the main of December
# 2026 the loop waited for each call in turn, over a second per referral,
# and /v1/health went unanswered meanwhile. /v1/health is probed every
# 100 ms, each probe bounded to 1 s, through referrals sent one after the
# other and then at once: every probe must answer, every referral be
# stored and answered, and referrals sent at once be stored in the order
# they were taken and each decided (the loop serialises them).
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

slow_triage_area "$tmp/area.yaml" 5 240ms
start main --config "$tmp/area.yaml" || { finish; exit 1; }
hospital=$(token_of hospital)
today=$(date -u +%F)

health_probe "$tmp/probe.log"

# One after the other: each answered once its five slow triages ran.
for n in 1 2 3; do
  t0=$(date +%s%N)
  req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs "$n")\", \"ready_date\": \"$today\", \"age\": 80}"
  t1=$(date +%s%N)
  echo "referral $n answered in $(( (t1 - t0) / 1000000 )) ms"
  expect 201 '.referral.id > 0 and .decision.outcome == "held" and ([.decision.trace[] | select(.hook == "triage" and (.plugin | startswith("slow"))) | .error] == [null, null, null, null, null])'
done

# At once: each stored and answered, in the order taken.
for n in 4 5 6 7; do
  curl -s -o "$tmp/at_once.$n" --max-time 60 -X POST -H "Authorization: Bearer $hospital" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"nhs_number\": \"$(nhs "$n")\", \"ready_date\": \"$today\", \"age\": 80}" \
    "$base/v1/referrals" &
  at_once+=($!)
done
for p in "${at_once[@]}"; do wait "$p"; done
health_probe_check "$tmp/probe.log" 10

for n in 4 5 6 7; do
  jq -e '.referral.id > 0 and .decision.outcome == "held"' "$tmp/at_once.$n" >/dev/null \
    && ok || bad "referral $n sent at once: $(head -c 300 "$tmp/at_once.$n")"
done
# Decided in the order stored: each decision's audit event follows the
# one before it, and referrals stored later were decided later.
admin=$(token_of admin)
req GET "/v1/audit?limit=1000" "$admin"
expect 200 '[.events[] | select(.kind == "referral.created" or .kind == "referral.decided") | [.kind, .payload.referral]] as $e
  | ([range(0; $e | length; 2) | [$e[.], $e[. + 1]]] | all(.[0][0] == "referral.created" and .[1][0] == "referral.decided" and .[0][1] == .[1][1]))
    and ([$e[] | .[1]] | . == sort) and ($e | length) == 14'

# The slow plugins ran every time, none of them cut short.
req GET /v1/health
expect 200 '[.plugins[] | select(.name | startswith("slow")) | [.calls >= 7, .errors, .timeouts, .state]] == [range(5) | [true, 0, 0, "active"]]'
check "the daemon is alive" kill -0 "$pid"

# A shutdown while a decision waits for its plugins: the referral is
# answered (acknowledged, so on disk) and the daemon ends cleanly.
curl -s -o "$tmp/last" -w '%{http_code}' --max-time 60 -X POST -H "Authorization: Bearer $hospital" \
  -H 'Content-Type: application/json' \
  --data-binary "{\"nhs_number\": \"$(nhs 8)\", \"ready_date\": \"$today\", \"age\": 80}" \
  "$base/v1/referrals" > "$tmp/last.code" &
last=$!
sleep 0.4
kill -TERM "$pid"
ended() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 30 ended && ok || bad "the daemon did not end during a decision"
wait "$pid"; rc=$?
[ "$rc" = 0 ] && ok || { bad "exit status $rc after SIGTERM during a decision"; tail -5 "$tmp/main.err"; }
wait "$last"
[ "$(cat "$tmp/last.code")" = 201 ] && jq -e '.decision.outcome == "held"' "$tmp/last" >/dev/null && ok \
  || bad "the referral in flight at shutdown: $(cat "$tmp/last.code") $(head -c 300 "$tmp/last")"
# Stored: the database has it, decided.
[ "$(sqlite3 "$tmp/area.db" "SELECT count(*) FROM referral WHERE state = 'held'")" = 8 ] && ok \
  || bad "held referrals in the database: $(sqlite3 "$tmp/area.db" "SELECT id, state FROM referral")"
finish
