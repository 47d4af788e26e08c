#!/usr/bin/env bash
# Operations a hub can trust (docs/operations.md), driving the real binary:
#  - a second daemon on the same database is refused with a clear message;
#  - the database deleted under load: from then on no write is
#    acknowledged, health says 503 "database file gone", the daemon rescues
#    every acknowledged write into a file that `caretide restore` installs,
#    and a restart on the empty path is refused;
#  - backup under 8 concurrent writers finishes and verifies; restore
#    re-anchors the chain and `audit verify` passes and reports it;
#  - a corrupt file, an edited event, a stale database: refused at start;
#    an event edited while running: the background check degrades the
#    daemon and writes stop;
#  - a read-only database at start names the file and the cause;
#  - disk full on a small tmpfs answers 507 and health says why (root
#    only; skipped with a message otherwise).
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
mounts=()
cleanup_all() {
  touch "$tmp/stop" 2>/dev/null
  for p in "${workers[@]}"; do wait "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done
  rm -rf "$tmp"
}
workers=()
trap cleanup_all EXIT

hospital=$(token_of hospital) admin=$(token_of admin)
today=$(date -u +%F)
demo_area "$tmp/area.yaml"
db=$tmp/area.db

# post I: one referral with its own Idempotency-Key; prints "I NHS CODE".
post() {
  local n code
  n=$(nhs "$1")
  code=$(curl -s --max-time 60 -o /dev/null -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $hospital" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: ops-$1" \
    --data-binary "{\"nhs_number\":\"$n\",\"ready_date\":\"$today\",\"requested_pathway\":\"P2\",\"age\":80}" \
    "$base/v1/referrals")
  echo "$1 $n $code"
}
# worker W FIRST STEP: posts until the stop file; a line is marked
# "after" when the marker file existed before the request was sent.
worker() {
  local i=$2 mark
  while [ ! -e "$tmp/stop" ]; do
    mark=before; [ -e "$tmp/marker" ] && mark=after
    echo "$(post "$i") $mark" >> "$tmp/results.$1"
    i=$((i + $3))
  done
}
start_workers() { # start_workers N FIRST
  rm -f "$tmp/stop" "$tmp/marker" "$tmp"/results.*
  workers=()
  for ((w = 0; w < $1; w++)); do worker "$w" $(( $2 + w )) "$1" & workers+=($!); done
}
stop_workers() { touch "$tmp/stop"; for p in "${workers[@]}"; do wait "$p" 2>/dev/null; done; workers=(); }
answered() { cat "$tmp"/results.* 2>/dev/null | wc -l; }
enough() { [ "$(answered)" -ge "$1" ]; }
stop_daemon() { kill -TERM "$pid"; wait "$pid" 2>/dev/null; }
health_is() { # health_is CODE JQ
  req GET /v1/health; [ "$code" = "$1" ] && echo "$body" | jq -e "$2" >/dev/null 2>&1
}
# present NHS...: every number has exactly one referral in $1.
all_present() {
  local file=$1; shift
  local missing=0 n
  for n in "$@"; do
    [ "$(sqlite3 "$file" "SELECT count(*) FROM referral WHERE nhs_number = '$n'")" = 1 ] \
      || missing=$((missing + 1))
  done
  [ "$missing" = 0 ] || echo "  $missing of $# acknowledged referrals missing"
  [ "$missing" = 0 ]
}

# ---- a second daemon ----------------------------------------------------
start first --config "$tmp/area.yaml" || exit 1
first=$pid
"$bin" run --config "$tmp/area.yaml" >"$tmp/second.out" 2>"$tmp/second.err" &
second=$!
wait_for 30 eval '! kill -0 $second 2>/dev/null'
wait "$second"; rc=$?
check "a second daemon exits 1" [ "$rc" = 1 ]
check "it names the database and the holder" \
  grep -q "area.db is in use by another caretide (pid $first" "$tmp/second.err"
check "the first still serves" health_is 200 '.status == "ok"'
req POST /v1/admin/backup "$(token_of viewer)"
check "backup through the API is for admins only" [ "$code" = 403 ]

# ---- backup under 8 concurrent writers ----------------------------------
start_workers 8 1000
wait_for 120 enough 200 || bad "writers made no progress"
cat "$tmp"/results.* > "$tmp/before_backup"
t0=$(date +%s.%N)
timeout 300 "$bin" backup --db "$db" "$tmp/b1.db" >"$tmp/b1.out" 2>"$tmp/b1.err"
rc=$?
t1=$(date +%s.%N)
answered_during=$(answered)
stop_workers
check "backup under 8 writers succeeds" [ "$rc" = 0 ]
cat "$tmp/b1.out"
echo "backup under load: $(echo "$t1 - $t0" | bc) s with 8 writers ($answered_during answers so far)"
check "the backup says it verified" grep -q 'integrity and audit chain verified' "$tmp/b1.out"
check "the backup has its anchor" test -s "$tmp/b1.db.audit-head"
check "no partial file is left" test ! -e "$tmp/b1.db.partial"
check "the backup verifies on its own" "$bin" audit verify --db "$tmp/b1.db"
check "no -wal left beside the backup" test ! -e "$tmp/b1.db-wal"
backup_seq=$(cut -d' ' -f1 "$tmp/b1.db.audit-head")
# Every referral acknowledged before the backup began is in it.
acked_before=$(awk '$3 ~ /^2/ {print $2}' "$tmp/before_backup")
check "the backup holds what was acknowledged before it" all_present "$tmp/b1.db" $acked_before

req POST /v1/admin/backup "$admin" '{"name":"api.db"}'
check "backup through the API starts (202)" [ "$code" = 202 ]
wait_for 120 health_is 200 '.backup.state == "ok"' || bad "the API backup never finished: $body"
check "the API backup is beside the database" "$bin" audit verify --db "$tmp/backups/api.db"
req POST /v1/admin/backup "$admin" '{"name":"../escape.db"}'
check "a backup name with a path is refused" [ "$code" = 400 ]
check "backup metrics" sh -c "curl -s -H 'Authorization: Bearer $admin' $base/metrics | grep -q 'caretide_backups_total{result=\"ok\"} 1'"

# ---- the database deleted under load -----------------------------------
start_workers 4 5000
wait_for 120 enough 100 || bad "writers made no progress"
rm -f "$db" "$db-wal" "$db-shm"
touch "$tmp/marker"
wait_for 60 health_is 503 '.status == "degraded" and (.reason | startswith("database file gone"))' \
  || bad "health after the delete: $code $body"
wait_for 60 eval '[ "$(grep -c " after$" "$tmp"/results.* | awk -F: "{s+=\$2} END {print s}")" -ge 40 ]'
stop_workers
acked_after=$(awk '$3 ~ /^2/ && $4 == "after"' "$tmp"/results.* | wc -l)
refused_after=$(awk '$3 == 503 && $4 == "after"' "$tmp"/results.* | wc -l)
check "no write sent after the delete was acknowledged ($acked_after)" [ "$acked_after" = 0 ]
check "writes after the delete get 503 ($refused_after)" [ "$refused_after" -gt 0 ]
wait_for 30 eval 'ls "$tmp"/area.db.rescued-*.db >/dev/null 2>&1' || bad "no rescue file"
rescued=$(ls "$tmp"/area.db.rescued-*.db 2>/dev/null | grep -v partial | head -1)
check "the log says where the rescue is" grep -q "rescued in $rescued" "$tmp/first.err"
stop_daemon
timeout 60 "$bin" run --config "$tmp/area.yaml" >"$tmp/empty.out" 2>"$tmp/empty.err"
check "a restart on the deleted path is refused" [ $? = 1 ]
check "it says why" grep -q 'is missing or empty but .*audit-head records audit seq' "$tmp/empty.err"
check "and created no empty database" test ! -e "$db"
"$bin" restore --db "$db" "$rescued" >"$tmp/restore.out" 2>&1
check "the rescue restores" [ $? = 0 ]
check "audit verify passes after the restore" "$bin" audit verify --db "$db"
"$bin" audit verify --db "$db" >"$tmp/verify.out" 2>&1
check "audit verify reports the restore" grep -q '^restored at seq .* by user:' "$tmp/verify.out"
acked_all=$(awk '$3 ~ /^2/ {print $2}' "$tmp"/results.*)
check "every acknowledged referral survived the delete" all_present "$db" $acked_all

# ---- restore refused against a live daemon; restore of an older backup --
start restored --config "$tmp/area.yaml" || exit 1
check "the restored database serves" health_is 200 '.status == "ok"'
"$bin" restore --db "$db" "$tmp/b1.db" >"$tmp/live.out" 2>"$tmp/live.err"
check "restore refuses a live daemon" [ $? = 1 ]
check "and names it" grep -q "in use by a running caretide (pid $pid)" "$tmp/live.err"
for i in 1 2 3; do post $((9000 + i)) >/dev/null; done
stop_daemon
discarded=$(cut -d' ' -f1 "$db.audit-head")
"$bin" restore --db "$db" "$tmp/b1.db" >"$tmp/r2.out" 2>&1
check "an older backup restores" [ $? = 0 ]
"$bin" audit verify --db "$db" >"$tmp/verify2.out" 2>&1
check "verify passes after restoring an older backup" [ $? = 0 ]
check "it reports the backup head and the discarded head" \
  grep -q "backup head seq $backup_seq, discarded head seq $discarded, from $tmp/b1.db" "$tmp/verify2.out"
check "the replaced database is kept" sh -c "ls '$tmp'/area.db.replaced-* >/dev/null"
start again --config "$tmp/area.yaml" || exit 1
post 9100 >/dev/null
stop_daemon
check "writes after the restore verify" "$bin" audit verify --db "$db"

# ---- stale, corrupt and broken databases at start ----------------------
cp "$db" "$tmp/old.db"; cp "$db.audit-head" "$tmp/old.head"
start more --config "$tmp/area.yaml" || exit 1
for i in 1 2; do post $((9200 + i)) >/dev/null; done
stop_daemon
cp "$tmp/old.db" "$db"; rm -f "$db-wal" "$db-shm"
timeout 60 "$bin" run --config "$tmp/area.yaml" >"$tmp/stale.out" 2>"$tmp/stale.err"
check "a database older than its head file is refused" [ $? = 1 ]
check "naming both seqs" grep -q 'the database ends at audit seq .* but its head file .* records seq' "$tmp/stale.err"
start accepted --config "$tmp/area.yaml" --restored || exit 1
stop_daemon
"$bin" audit verify --db "$db" >"$tmp/verify3.out" 2>&1
check "--restored records the restore and verifies" grep -q 'from in place (caretide run --restored)' "$tmp/verify3.out"

cp "$db" "$tmp/good.db"; cp "$db.audit-head" "$tmp/good.head"
seq_mid=$(sqlite3 "$db" 'SELECT seq FROM event ORDER BY seq LIMIT 1 OFFSET 5')
sqlite3 "$db" "UPDATE event SET actor = 'org:nobody' WHERE seq = $seq_mid"
timeout 60 "$bin" run --config "$tmp/area.yaml" >"$tmp/broken.out" 2>"$tmp/broken.err"
check "an edited event is refused at start" [ $? = 1 ]
check "naming the seq" grep -q "audit chain broken at seq $seq_mid" "$tmp/broken.err"

cp "$tmp/good.db" "$db"; cp "$tmp/good.head" "$db.audit-head"
# Garbage over a whole page that holds events (a fixed offset can land in
# a page's unused space, which is no corruption at all: the daemon then
# rightly started and the test waited for it forever).
psize=$(sqlite3 "$db" 'PRAGMA page_size')
page=$(sqlite3 "$db" "SELECT pageno FROM dbstat WHERE name = 'event' AND pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET 1")
check "an event page to corrupt" [ -n "$page" ]
head -c "$psize" /dev/urandom | dd of="$db" bs="$psize" seek=$((page - 1)) conv=notrunc status=none
timeout 60 "$bin" run --config "$tmp/area.yaml" >"$tmp/corrupt.out" 2>"$tmp/corrupt.err"
check "a corrupt file is refused at start" [ $? = 1 ]
check "saying so" grep -Eq 'fails quick_check|audit chain broken|not a database|malformed' "$tmp/corrupt.err"

# ---- an event edited while running: the background check ---------------
cp "$tmp/good.db" "$db"; cp "$tmp/good.head" "$db.audit-head"
start checked --config "$tmp/area.yaml" --check-every 1s || exit 1
wait_for 60 health_is 200 '.self_check.state == "ok"' || bad "no background check: $body"
sqlite3 "$db" "PRAGMA busy_timeout = 5000; UPDATE event SET kind = 'x.y' WHERE seq = $seq_mid" >/dev/null
wait_for 60 health_is 503 '.status == "degraded" and (.reason | test("audit chain broken at seq"))' \
  || bad "the edit was not noticed: $code $body"
req POST /v1/referrals "$hospital" "{\"nhs_number\":\"$(nhs 9300)\",\"ready_date\":\"$today\",\"requested_pathway\":\"P2\",\"age\":80}"
check "a broken chain stops appending ($code)" [ "$code" = 503 ]
check "metrics say corrupt" sh -c "curl -s -H 'Authorization: Bearer $admin' $base/metrics | grep -q 'caretide_degraded{reason=\"corrupt\"} 1'"
stop_daemon

# ---- a plugin past its deadline while loading says so -------------------
mkdir -p "$tmp/pl/slow/lib"
printf 'name: slow\nversion: 1.0.0\napi: 1\ndescription: loops while loading\npublisher: tests\nfallback: manual_review\n' \
  > "$tmp/pl/slow/plugin.yaml"
printf 'local M = {}\nlocal x = 0\nwhile true do\n  x = x + 1\nend\nreturn M\n' > "$tmp/pl/slow/lib/util.lua"
printf 'local u = require("lib.util")\nreturn {}\n' > "$tmp/pl/slow/init.lua"
sed -e '/^# >>> standard plugins/,/^# <<< standard plugins/c\plugin_path: [pl]\nplugins:\n  - name: slow' \
    -e 's|^  listen: .*|  listen: 127.0.0.1:0|' -e 's|^  path: ./caretide.db|  path: slow.db|' \
    "$src/config/demo.yaml" > "$tmp/slow.yaml"
timeout 60 "$bin" run --config "$tmp/slow.yaml" >"$tmp/slow.out" 2>"$tmp/slow.err"
check "a plugin looping at load stops the start" [ $? = 1 ]
check "naming the line and the deadline" grep -q 'slow/lib/util.lua:4:0: deadline of [0-9]* ms exceeded' "$tmp/slow.err"

# ---- root only: read-only and full file systems ------------------------
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: read-only and disk-full checks need root (mount)"
else
  ro=$tmp/ro
  mkdir -p "$ro"
  if mount -t tmpfs -o size=8m tmpfs "$ro" 2>/dev/null; then
    mounts+=("$ro")
    cp "$tmp/good.db" "$ro/area.db"; cp "$tmp/good.head" "$ro/area.db.audit-head"
    mount -o remount,ro "$ro"
    timeout 60 "$bin" run --config "$tmp/area.yaml" --db "$ro/area.db" >"$tmp/ro.out" 2>"$tmp/ro.err"
    check "a read-only database is refused at start" [ $? = 1 ]
    check "naming the file and the cause" grep -Eq "$ro/area.db(.lock)?: .*([Rr]ead-only)" "$tmp/ro.err" \
      || grep -Eq "cannot create the lock file $ro/area.db.lock: Read-only file system" "$tmp/ro.err"
    grep -h 'error' "$tmp/ro.err" | head -2
    umount "$ro"; mounts=()

    full=$tmp/full
    mkdir -p "$full"
    if mount -t tmpfs -o size=2m tmpfs "$full"; then
      mounts+=("$full")
      start full --config "$tmp/area.yaml" --db "$full/area.db" || exit 1
      # Fill the rest of the file system, then write.
      dd if=/dev/zero of="$full/filler" bs=64k 2>/dev/null
      codes=
      for i in $(seq 1 30); do
        req POST /v1/referrals "$hospital" "{\"nhs_number\":\"$(nhs $((9400 + i)))\",\"ready_date\":\"$today\",\"requested_pathway\":\"P2\",\"age\":80}"
        codes="$codes $code"
        [ "$code" = 507 ] && break
      done
      check "disk full answers 507 (got:$codes)" [ "$code" = 507 ]
      check "with the cause" sh -c "echo '$body' | grep -q 'database or disk is full'"
      check "health is degraded: disk full" health_is 503 '.status == "degraded" and (.reason | startswith("database or disk is full"))'
      rm -f "$full/filler"
      req POST /v1/referrals "$hospital" "{\"nhs_number\":\"$(nhs 9500)\",\"ready_date\":\"$today\",\"requested_pathway\":\"P2\",\"age\":80}"
      check "space back: writes succeed ($code)" [ "${code:0:1}" = 2 ]
      check "and health is ok again" health_is 200 '.status == "ok"'
      stop_daemon
      n=$(grep -c 'group commit of .* failed' "$tmp/full.err")
      check "identical errors are not repeated in the log ($n)" [ "$n" -le 3 ]
      umount "$full"; mounts=()
    else
      echo "SKIP: cannot mount a tmpfs for the disk-full check"
    fi
  else
    echo "SKIP: cannot mount a tmpfs (not allowed here)"
  fi
fi

finish
