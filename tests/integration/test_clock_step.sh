#!/usr/bin/env bash
# A wall-clock step back in the running daemon (docs/operations.md,
# "Self-checks"): the daemon's wall clock is moved an hour back under
# libfaketime while the monotonic clock runs on. The step is logged and
# audited as clock.stepped_back (with how far it went), audit times never
# go backwards across it, and the chain verifies afterwards.
# Skipped with a message when libfaketime is not installed.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

faketime_lib=
for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
  [ -f "$f" ] && { faketime_lib=$f; break; }
done
if [ -z "$faketime_lib" ]; then
  echo "skipped: libfaketime is not installed (Debian package faketime)"
  exit 77
fi

hub=$(token_of hub) hospital=$(token_of hospital)
today=$(date -u +%F)
demo_area "$tmp/area.yaml"

# The fake clock's offset is read from this file at every call; the
# monotonic clock (what the daemon compares against) stays real. An
# ASan runtime that is not first in the library list is fine here.
echo "+0" > "$tmp/offset"
export LD_PRELOAD=$faketime_lib FAKETIME_TIMESTAMP_FILE=$tmp/offset \
       FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
       ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
start clock --config "$tmp/area.yaml" || { finish; exit 1; }
unset LD_PRELOAD

refer() { # refer N: one referral from the demo hospital
  req POST /v1/referrals "$hospital" \
    "{\"nhs_number\":\"$(nhs "$1")\",\"ready_date\":\"$today\",\"requested_pathway\":\"P0\",\"age\":70}"
  [ "$code" = 201 ] && ok || bad "referral $1: $code $body"
}
refer 1
refer 2

# The daemon compares the two clocks once a second: a step before its
# first comparison is the clock it starts with, so let it tick first.
sleep 3
echo "-3600" > "$tmp/offset"
logged() { grep -q 'the wall clock went back by' "$tmp/clock.err"; }
check "the step back is logged" wait_for 30 logged
audited() {
  req GET '/v1/audit?after=0&limit=1000' "$hub"
  echo "$body" | jq -e '[.events[] | select(.kind == "clock.stepped_back")] | length == 1' >/dev/null
}
check "the step back is audited once" wait_for 30 audited
echo "$body" | jq -e '.events[] | select(.kind == "clock.stepped_back") | .payload.behind_ms > 3500000' >/dev/null \
  && ok || bad "clock.stepped_back does not say how far: $body"

refer 3
refer 4
req GET '/v1/audit?after=0&limit=1000' "$hub"
echo "$body" | jq -e '[.events[].at] as $t | [range(1; $t | length) | select($t[.] < $t[. - 1])] | length == 0' >/dev/null \
  && ok || bad "audit times went backwards: $(echo "$body" | jq -c '[.events[] | [.seq, .kind, .at]]')"
# The referrals after the step are there, timed no earlier than before it.
echo "$body" | jq -e '[.events[] | select(.kind == "referral.created")] | length >= 4' >/dev/null \
  && ok || bad "referral events missing: $(echo "$body" | jq -c '[.events[].kind]')"

kill -TERM "$pid"; wait "$pid" 2>/dev/null
out=$("$bin" audit verify --db "$tmp/area.db" 2>&1) \
  && ok || bad "audit verify after the step: $out"

finish
