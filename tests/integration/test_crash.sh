#!/usr/bin/env bash
# Crash safety (docs/design.md principle 4, "nothing acknowledged is lost"):
# parallel clients post referrals, each with its own Idempotency-Key; the
# daemon is killed with SIGKILL in the middle of the load and restarted on
# the same database. Every referral that was answered 2xx must be there
# with its decision; every request left unanswered, sent again with its
# key, is created once (201) or found (200), never twice; the audit chain
# verifies, PRAGMA integrity_check is ok and beds mirror their holds.
# Several rounds. Then a reload under load: SIGHUP while referrals are
# posted loses no request (every one gets a 2xx or a clean refusal).
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap 'touch "$tmp/stop"; wait_workers; lib_cleanup' EXIT

ROUNDS=${CRASH_ROUNDS:-3}
WORKERS=${CRASH_WORKERS:-8}
# Answers to wait for before the kill, per round.
KILL_AFTER=${CRASH_KILL_AFTER:-120}

demo_area "$tmp/area.yaml"
db=$tmp/area.db
hospital=$(token_of hospital) hub=$(token_of hub)
today=$(date -u +%F)
pathways=(P1 P2 P3 step_down P3 P2)

body_of() { # body_of I NHS
  local p=${pathways[$(( $1 % ${#pathways[@]} ))]}
  printf '{"nhs_number":"%s","ready_date":"%s","requested_pathway":"%s","age":%d,"needs":["nursing"]}' \
    "$2" "$today" "$p" $(( 60 + $1 % 40 ))
}

# post I: one referral; prints "I NHS STATUS ID" (ID - unless 2xx).
post() {
  local i=$1 n code id=-
  n=$(nhs "$i")
  code=$(curl -s --max-time 60 -o "$tmp/post.$i" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $hospital" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: crash-$i" --data-binary "$(body_of "$i" "$n")" \
    "$base/v1/referrals")
  if [ "${code:0:1}" = 2 ]; then
    id=$(sed -n 's/^{"referral":{"id":\([0-9]*\),.*/\1/p' "$tmp/post.$i")
    [ -n "$id" ] || id=?
  fi
  rm -f "$tmp/post.$i"
  echo "$i $n $code $id"
}

# worker W FIRST: posts FIRST, FIRST+WORKERS, ... until the stop file.
worker() {
  local w=$1 i=$2
  while [ ! -e "$tmp/stop" ]; do
    post "$i" >> "$tmp/results.$w"
    i=$((i + WORKERS))
  done
}
workers=()
start_workers() { # start_workers FIRST
  rm -f "$tmp/stop" "$tmp"/results.*
  workers=()
  for ((w = 0; w < WORKERS; w++)); do
    worker "$w" $(( $1 + w )) &
    workers+=($!)
  done
}
wait_workers() { for p in "${workers[@]}"; do wait "$p" 2>/dev/null; done; workers=(); }
answered() { cat "$tmp"/results.* 2>/dev/null | wc -l; }
enough() { [ "$(answered)" -ge "$1" ]; }

# Checks on the stopped database: integrity, the audit chain, decisions,
# beds mirroring their assignments, one referral per NHS number.
check_db() { # check_db LABEL
  [ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] && ok || bad "$1: integrity_check"
  "$bin" audit verify --db "$db" >"$tmp/verify" 2>&1 && ok || { bad "$1: audit verify"; cat "$tmp/verify"; }
  [ "$(sqlite3 "$db" 'SELECT count(*) FROM referral WHERE decision IS NULL')" = 0 ] \
    && ok || bad "$1: a referral without its decision"
  [ "$(sqlite3 "$db" "SELECT count(*) FROM bed b WHERE (b.status IN ('held','occupied'))
        <> EXISTS (SELECT 1 FROM assignment a WHERE a.bed_id = b.id AND a.active = 1)")" = 0 ] \
    && ok || bad "$1: bed status and assignments disagree"
  [ "$(sqlite3 "$db" "SELECT count(*) FROM referral r WHERE (r.state = 'held')
        <> EXISTS (SELECT 1 FROM assignment a WHERE a.referral_id = r.id AND a.active = 1 AND a.kind = 'hold')")" = 0 ] \
    && ok || bad "$1: held referrals and holds disagree"
  [ "$(sqlite3 "$db" 'SELECT count(*) FROM (SELECT nhs_number FROM referral GROUP BY 1 HAVING count(*) > 1)')" = 0 ] \
    && ok || bad "$1: a person referred twice"
}

first=0
total_acked=0 total_retried=0 total_replayed=0
for ((round = 1; round <= ROUNDS; round++)); do
  start "round$round" --config "$tmp/area.yaml" || break
  daemon=$pid
  start_workers "$first"
  wait_for 300 enough "$KILL_AFTER" || bad "round $round: load never reached $KILL_AFTER answers"
  kill -KILL "$daemon"
  wait "$daemon" 2>/dev/null
  touch "$tmp/stop"
  wait_workers
  cat "$tmp"/results.* > "$tmp/round$round.results"
  sent=$(wc -l < "$tmp/round$round.results")
  acked=$(awk '$3 ~ /^2/' "$tmp/round$round.results" | wc -l)
  refused=$(awk '$3 !~ /^2/ && $3 != "000"' "$tmp/round$round.results" | wc -l)
  [ "$refused" = 0 ] && ok || bad "round $round: $refused requests refused: $(awk '$3 !~ /^2/ && $3 != "000"' "$tmp/round$round.results" | head -3)"
  total_acked=$((total_acked + acked))

  # Restarted on the same database: everything acknowledged is there.
  start "after$round" --config "$tmp/area.yaml" || break
  daemon=$pid
  missing=0
  while read -r i n status id; do
    [ "${status:0:1}" = 2 ] || continue
    req GET "/v1/referrals/$id" "$hub"
    if [ "$code" != 200 ] || ! echo "$body" | jq -e ".referral.nhs_number == \"$n\" and (.decision.outcome | type == \"string\")" >/dev/null; then
      missing=$((missing + 1))
      [ $missing -le 3 ] && bad "round $round: acknowledged referral $id ($n) after restart: $code $body"
    fi
  done < "$tmp/round$round.results"
  [ $missing = 0 ] && ok || bad "round $round: $missing of $acked acknowledged referrals lost"

  # Unanswered requests sent again with their keys: created once or found.
  dup=0
  while read -r i n status id; do
    [ "$status" = 000 ] || continue
    total_retried=$((total_retried + 1))
    line=$(post "$i")
    set -- $line
    case $3 in
      201) ;;
      200) total_replayed=$((total_replayed + 1)) ;;
      *) dup=$((dup + 1)); bad "round $round: retry of $i answered $3" ;;
    esac
  done < "$tmp/round$round.results"
  [ $dup = 0 ] && ok
  kill -TERM "$daemon"
  wait "$daemon"; rc=$?
  [ $rc = 0 ] && ok || bad "round $round: clean stop after the checks ($rc)"
  check_db "round $round"
  echo "round $round: $sent sent, $acked acknowledged before SIGKILL, all present after restart; unanswered retried"
  first=$(awk -v f="$first" '$1 >= f { f = $1 + 1 } END { print f }' "$tmp/round$round.results")
done
echo "crash rounds: $total_acked acknowledged, $total_retried unanswered retried ($total_replayed had been committed)"

# ---- reload under load -----------------------------------------------------
cp "$tmp/area.yaml" "$tmp/area.a"
extra_hash=$(printf %s crash-extra-token | sha256sum | cut -d' ' -f1)
sed "s|^organisations:|organisations:\n  - id: crash-extra\n    name: Crash Extra\n    tokens:\n      - role: viewer\n        sha256: $extra_hash|" \
  "$tmp/area.a" > "$tmp/area.b"
start reload --config "$tmp/area.yaml" || { finish; exit 1; }
daemon=$pid
start_workers "$first"
reloads=0
for ((k = 0; k < 6; k++)); do
  enough $(( (k + 1) * 40 )) || wait_for 120 enough $(( (k + 1) * 40 ))
  if ((k % 2)); then cp "$tmp/area.a" "$tmp/area.yaml"; else cp "$tmp/area.b" "$tmp/area.yaml"; fi
  kill -HUP "$daemon"
  reloads=$((reloads + 1))
done
reloaded() { [ "$(grep -c '"reloaded ' "$tmp/reload.err")" -ge "$reloads" ]; }
wait_for 120 reloaded && ok || bad "every SIGHUP reloaded ($(grep -c '"reloaded ' "$tmp/reload.err") of $reloads)"
touch "$tmp/stop"
wait_workers
cat "$tmp"/results.* > "$tmp/reload.results"
sent=$(wc -l < "$tmp/reload.results")
unclean=$(awk '$3 == "000" || $3 ~ /^5/' "$tmp/reload.results" | wc -l)
[ "$unclean" = 0 ] && ok || bad "reload under load: $unclean of $sent requests dropped or failed: $(awk '$3 == "000" || $3 ~ /^5/' "$tmp/reload.results" | head -3)"
refused=$(awk '$3 ~ /^4/' "$tmp/reload.results" | wc -l)
echo "reload under load: $sent requests across $reloads reloads, $refused refused cleanly, none dropped"
kill -TERM "$daemon"
wait "$daemon"; rc=$?
[ $rc = 0 ] && ok || bad "reload: clean stop ($rc)"
check_db "reload"

finish
