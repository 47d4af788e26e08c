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

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
