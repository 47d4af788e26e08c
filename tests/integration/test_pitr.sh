#!/usr/bin/env bash
# Point-in-time recovery from shipped changes (docs/operations.md, "Warm
# standby"): a primary ships (caretide run --ship DIR) while referrals
# arrive one by one; `caretide standby --until-seq N` and `--until TIME`
# rebuild the area as it was at that audit event, exit 0 by themselves,
# and leave a database whose chain verifies and that a daemon serves.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

hospital=$(token_of hospital) hub=$(token_of hub)
today=$(date -u +%F)
mkdir -p "$tmp/primary" "$tmp/ship"
demo_area "$tmp/primary/area.yaml"

start primary --config "$tmp/primary/area.yaml" --ship "$tmp/ship" || { finish; exit 1; }
refer() {
  req POST /v1/referrals "$hospital" \
    "{\"nhs_number\":\"$(nhs "$1")\",\"ready_date\":\"$today\",\"requested_pathway\":\"P0\",\"age\":70}"
  [ "$code" = 201 ] && ok || bad "referral $1: $code $body"
}
head_event() { # prints "SEQ AT" of the newest audit event
  req GET '/v1/audit?after=0&limit=1000' "$hub"
  echo "$body" | jq -r '.events[-1] | "\(.seq) \(.at)"'
}
for i in 1 2 3; do refer "$i"; done
read -r seq3 at3 < <(head_event)
sleep 0.05 # the next event's time is later than at3 (ms clock)
for i in 4 5 6; do refer "$i"; done
read -r seq6 _ < <(head_event)
check "later referrals added events" [ "$seq6" -gt "$seq3" ]
kill -TERM "$pid"; wait "$pid" 2>/dev/null

referrals() { sqlite3 "$1" 'SELECT count(*) FROM referral'; }
newest() { sqlite3 "$1" 'SELECT max(seq) FROM event'; }

# By sequence number: exits by itself, at the last whole group within it.
timeout 60 "$bin" standby --from "$tmp/ship" --db "$tmp/seq.db" --until-seq "$seq3" \
  >"$tmp/seq.out" 2>"$tmp/seq.err"
check "standby --until-seq exits 0 by itself" [ $? = 0 ]
check "it holds the first three referrals only ($(referrals "$tmp/seq.db"))" [ "$(referrals "$tmp/seq.db")" = 3 ]
check "its newest event is the target ($(newest "$tmp/seq.db") vs $seq3)" [ "$(newest "$tmp/seq.db")" = "$seq3" ]
check "it says where it stopped" grep -q "recovered to the point asked for: audit seq $seq3" "$tmp/seq.err"
check "its chain verifies" "$bin" audit verify --db "$tmp/seq.db"

# By time: the newest event kept is at or before TIME.
when=$(jq -rn --argjson ms "$at3" '($ms / 1000 | floor | strftime("%Y-%m-%dT%H:%M:%S")) + "." + ("00" + (($ms % 1000) | tostring) | .[-3:]) + "Z"')
timeout 60 "$bin" standby --from "$tmp/ship" --db "$tmp/time.db" --until "$when" \
  >"$tmp/time.out" 2>"$tmp/time.err"
check "standby --until $when exits 0 by itself" [ $? = 0 ]
check "it holds the first three referrals only ($(referrals "$tmp/time.db"))" [ "$(referrals "$tmp/time.db")" = 3 ]
check "its chain verifies" "$bin" audit verify --db "$tmp/time.db"

# The recovered database is an ordinary one: a daemon serves it.
start recovered --config "$tmp/primary/area.yaml" --db "$tmp/seq.db" || { finish; exit 1; }
req GET /v1/referrals/4 "$hub"
check "referral 4 is not there after recovery ($code)" [ "$code" = 404 ]
refer 7
kill -TERM "$pid"; wait "$pid" 2>/dev/null

# Bad targets are usage errors that touch nothing.
for bad_arg in "--until-seq 0" "--until-seq x" "--until 2026-02-30T00:00Z" "--until yesterday"; do
  # shellcheck disable=SC2086
  "$bin" standby --from "$tmp/ship" --db "$tmp/bad.db" $bad_arg >/dev/null 2>"$tmp/bad.err"
  check "$bad_arg is a usage error" [ $? = 2 ]
  check "$bad_arg names the option" grep -q -- "--until" "$tmp/bad.err"
  check "$bad_arg leaves no database" [ ! -e "$tmp/bad.db" ]
done

finish
