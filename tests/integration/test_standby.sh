#!/usr/bin/env bash
# Warm standby on loopback (docs/operations.md, "Warm standby"): a primary
# ships its changes (caretide run --ship DIR, SQLite changesets), a standby
# in another directory follows them (caretide standby); writers post
# referrals; the primary is killed with SIGKILL; the standby is stopped
# and promoted (caretide run on its database). Every write acknowledged
# more than LOSS_S seconds before the kill must be there, the audit chain
# must verify, and the promoted daemon takes writes.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
workers=()
trap 'touch "$tmp/stop"; for p in "${workers[@]}"; do wait "$p" 2>/dev/null; done; lib_cleanup' EXIT

LOSS_S=${STANDBY_LOSS_S:-2}
WORKERS=4
hospital=$(token_of hospital)
today=$(date -u +%F)
mkdir -p "$tmp/primary" "$tmp/standby" "$tmp/ship"
demo_area "$tmp/primary/area.yaml"

# worker W FIRST: posts until the stop file; each 2xx line carries the
# time the answer arrived.
worker() {
  local i=$2 n code
  while [ ! -e "$tmp/stop" ]; do
    n=$(nhs "$i")
    code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -X POST \
      -H "Authorization: Bearer $hospital" -H 'Content-Type: application/json' \
      -H "Idempotency-Key: sb-$i" \
      --data-binary "{\"nhs_number\":\"$n\",\"ready_date\":\"$today\",\"requested_pathway\":\"P3\",\"age\":75}" \
      "$base/v1/referrals")
    echo "$i $n $code $(date +%s.%N)" >> "$tmp/results.$1"
    i=$((i + WORKERS))
  done
}
answered() { cat "$tmp"/results.* 2>/dev/null | wc -l; }
enough() { [ "$(answered)" -ge "$1" ]; }

start primary --config "$tmp/primary/area.yaml" --ship "$tmp/ship" || exit 1
primary=$pid
check "the primary made a base" sh -c "ls '$tmp'/ship/gen-*/base.db >/dev/null"
"$bin" standby --from "$tmp/ship" --db "$tmp/standby/area.db" \
  >"$tmp/standby.out" 2>"$tmp/standby.err" &
standby=$!
pids+=("$standby")
for ((w = 0; w < WORKERS; w++)); do worker "$w" $((1 + w)) & workers+=($!); done
wait_for 120 enough 300 || bad "writers made no progress"
"$bin" run --config "$tmp/primary/area.yaml" --db "$tmp/standby/area.db" \
  >"$tmp/busy.out" 2>"$tmp/busy.err"
check "no daemon runs on a following standby" [ $? = 1 ]
kill -KILL "$primary"
killed_at=$(date +%s.%N)
wait "$primary" 2>/dev/null
touch "$tmp/stop"
for p in "${workers[@]}"; do wait "$p" 2>/dev/null; done
workers=()
kill -TERM "$standby"
wait "$standby"
check "the standby stops cleanly" [ $? = 0 ]
check "and says how to promote it" grep -q 'promote it with caretide run' "$tmp/standby.err"

check "the standby's audit chain verifies" "$bin" audit verify --db "$tmp/standby/area.db"
cutoff=$(echo "$killed_at - $LOSS_S" | bc)
awk -v c="$cutoff" '$3 ~ /^2/ && $4 < c {print $2}' "$tmp"/results.* > "$tmp/must"
awk '$3 ~ /^2/ {print $2}' "$tmp"/results.* > "$tmp/acked"
must=$(wc -l < "$tmp/must") acked=$(wc -l < "$tmp/acked")
sqlite3 "$tmp/standby/area.db" 'SELECT nhs_number FROM referral' | sort > "$tmp/there"
missing=$(sort "$tmp/must" | comm -23 - "$tmp/there" | wc -l)
lost_any=$(sort "$tmp/acked" | comm -23 - "$tmp/there" | wc -l)
echo "failover: $acked acknowledged, $must more than ${LOSS_S}s before the kill; missing on the standby: $missing of those, $lost_any of all"
check "every write acknowledged more than ${LOSS_S}s before the kill is on the standby" [ "$must" -gt 0 ] && [ "$missing" = 0 ]

# Promotion: the standby's database is an ordinary one.
start promoted --config "$tmp/primary/area.yaml" --db "$tmp/standby/area.db" || exit 1
req POST /v1/referrals "$hospital" "{\"nhs_number\":\"$(nhs 90001)\",\"ready_date\":\"$today\",\"requested_pathway\":\"P3\",\"age\":75}"
check "the promoted standby takes writes ($code)" [ "${code:0:1}" = 2 ]
kill -TERM "$pid"; wait "$pid" 2>/dev/null
check "and its chain verifies after them" "$bin" audit verify --db "$tmp/standby/area.db"
finish
