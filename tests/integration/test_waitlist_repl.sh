#!/usr/bin/env bash
# The waiting list served in order (issue 21) in the REPL, which runs the
# daemon's host on a virtual clock: a bed unblocked goes to the referral
# already waiting before a new one; an escalation level that lifts a
# plugin's limit re-matches the list; a plugin's drops are explained.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# The demo area without plugins (the host's defaults), and with the
# gatekeeper test plugin.
sed -e '/^# >>> standard plugins/,/^# <<< standard plugins/c\plugins: []' \
  "$src/config/demo.yaml" > "$tmp/bare.yaml"
sed -e "/^# >>> standard plugins/,/^# <<< standard plugins/c\\plugin_path: [\"$src/tests/plugins\"]\nplugins:\n  - name: gatekeeper" \
  "$src/config/demo.yaml" > "$tmp/gate.yaml"
grep -q 'name: gatekeeper' "$tmp/gate.yaml" || { echo "FAIL: could not adapt demo.yaml"; exit 1; }

ago=$(date -u -d '5 days ago' +%F)
today=$(date -u +%F)
bariatric="requested_pathway = 'P3', person = {needs = {'bariatric'}}"

# Finding 1: six bariatric beds, five blocked; referral 1 takes the sixth,
# referral 2 (ready five days ago, priority 25) waits; a bed is unblocked
# and an hour passes; referral 3 (priority 0) comes after.
out=$("$bin" repl -c "$tmp/bare.yaml" \
  -e 'for _, b in ipairs{"OAK-032", "OAK-033", "OAK-034", "OAK-035", "OAK-036"} do assert(ct.act.block_bed(b, "hoist repair")) end' \
  -e ".referral {ready_date = '$today', $bariatric}" \
  -e ".referral {ready_date = '$ago', priority = 25, $bariatric}" \
  -e 'assert(ct.act.unblock_bed("OAK-032"))' \
  -e '.advance 1h' \
  -e 'print("r2", ct.referral(2).state, ct.referral(2).bed)' \
  -e ".referral {ready_date = '$today', $bariatric}" \
  -e 'print("r3", ct.referral(3).state)' 2>&1)
case $out in *"r2	held	OAK-032"*) ok ;; *) bad "referral 2 was not offered the unblocked bed: $out" ;; esac
case $out in *"r3	waiting"*) ok ;; *) bad "referral 3 took the bed from referral 2: $out" ;; esac
case $out in *"referral 3: waiting"*) ok ;; *) bad ".referral 3 says it waits: $out" ;; esac

# An escalation level that lifts a limit re-matches the list: below level
# 3 gatekeeper drops every bed, with its reason shown.
out=$("$bin" repl -c "$tmp/gate.yaml" \
  -e ".referral {$bariatric}" \
  -e '.explain 1' \
  -e ".referral {$bariatric}" \
  -e 'print("before", ct.referral(1).state, ct.referral(2).state)' \
  -e '.escalate' \
  -e 'print("after", ct.referral(1).state, ct.referral(2).state, ct.escalation().level)' 2>&1)
case $out in *"before	waiting	waiting"*) ok ;; *) bad "the gatekeeper holds both back at level 1: $out" ;; esac
case $out in *"after	held	held	3"*) ok ;; *) bad "level 3 did not re-match the waiting list: $out" ;; esac
case $out in *"held back below escalation level 3"*) ok ;; *) bad "the plugin's drop reason is not shown: $out" ;; esac

# Existing residents (ct.act.record_resident): OAK-031 is occupied by a
# resident expected to leave in two hours, the rest blocked; a bariatric
# referral waits, with the occupied bed counted in why; the expected end
# passes on the virtual clock and the bed goes down the waiting list.
out=$("$bin" repl -c "$tmp/bare.yaml" \
  -e 'for _, b in ipairs{"OAK-032", "OAK-033", "OAK-034", "OAK-035", "OAK-036"} do assert(ct.act.block_bed(b, "hoist repair")) end' \
  -e 'assert(ct.act.record_resident("OAK-031", ct.now() + 2 * 3600 * 1000))' \
  -e 'print("again", ct.act.record_resident("OAK-032"))' \
  -e 'print("bed", ct.beds{facility = "oakwood", status = "occupied"}[1].id)' \
  -e ".referral {ready_date = '$today', $bariatric}" \
  -e 'print("r1", ct.referral(1).state)' \
  -e '.advance 3h' \
  -e 'print("r1", ct.referral(1).state, ct.referral(1).bed)' \
  -e 'assert(ct.act.block_bed("OAK-031", "x") == nil)' 2>&1)
case $out in *"bed	OAK-031"*) ok ;; *) bad "the resident's bed is not occupied: $out" ;; esac
case $out in *"again	nil	bed OAK-032 is blocked"*) ok ;; *) bad "a resident in a blocked bed: $out" ;; esac
case $out in *"r1	waiting"*) ok ;; *) bad "referral 1 took the resident's bed: $out" ;; esac
case $out in *"r1	held	OAK-031"*) ok ;; *) bad "the expected end did not free the bed for the waiting list: $out" ;; esac

# A queue hook orders the list (docs/plugins.md "The waiting list"): fifo
# serves by arrival whatever the priority, so the bed unblocked goes to
# referral 2 (priority 0) before referral 3 (priority 50), and the waiting
# list shows that order; a hook that answers nonsense leaves the host's.
for mode in fifo broken; do
  sed -e "/^# >>> standard plugins/,/^# <<< standard plugins/c\\plugin_path: [\"$src/tests/plugins\"]\nplugins:\n  - name: fifo\n    settings: {mode: $mode}" \
    "$src/config/demo.yaml" > "$tmp/fifo.yaml"
  grep -q "mode: $mode" "$tmp/fifo.yaml" || bad "could not adapt demo.yaml for fifo"
  out=$("$bin" repl -c "$tmp/fifo.yaml" \
    -e 'for _, b in ipairs{"OAK-032", "OAK-033", "OAK-034", "OAK-035", "OAK-036"} do assert(ct.act.block_bed(b, "hoist repair")) end' \
    -e ".referral {ready_date = '$today', $bariatric}" \
    -e ".referral {ready_date = '$today', $bariatric}" \
    -e ".referral {ready_date = '$today', priority = 50, $bariatric}" \
    -e 'assert(ct.act.unblock_bed("OAK-032"))' \
    -e '.advance 1m' \
    -e 'print("after", ct.referral(2).state, ct.referral(3).state)' \
    -e ".referral {ready_date = '$today', priority = 100, $bariatric}" \
    -e '.waiting' 2>&1)
  if [ "$mode" = fifo ]; then
    case $out in *"after	held	waiting"*) ok ;; *) bad "fifo's order was not served: $out" ;; esac
    case $out in *"1. referral 3  P3  priority 50"*"2. referral 4  P3  priority 100"*) ok ;; *) bad ".waiting does not show fifo's order: $out" ;; esac
  else
    case $out in *"after	waiting	held"*) ok ;; *) bad "a broken queue hook did not leave the host's order: $out" ;; esac
    case $out in *"1. referral 4  P3  priority 100"*"2. referral 2  P3  priority 0"*) ok ;; *) bad ".waiting does not show the host's order: $out" ;; esac
    case $out in *"queue returned not a list"*) ok ;; *) bad "the broken queue hook was not reported: $out" ;; esac
  fi
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
