#!/usr/bin/env bash
# caretide repl driven as a user would: scripted (-e, piped stdin, exit
# codes), the scratch copy against --live, and at a terminal through tmux:
# typing, tab completion, multi-line input, .referral, .advance, .quit and
# history recalled in a second session.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
sock=ct-repl-$$-1
cleanup() { tmux -L "$sock" kill-server 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# The demo area with test plugins; its database path is relative to the
# config, so it lands in $tmp.
# The demo's block of standard plugins (between its marker lines) gives
# way to the test plugins.
awk -v src="$src" '
  /^# >>> standard plugins/ {
    print "plugin_path: [\"" src "/tests/plugins\"]"
    print "plugins:"
    print "  - name: triage_p2"
    print "  - name: ranker"
    print "  - name: scheduler"
    print "  - name: escalator"
    print "    settings: {level: 3}"
    skip = 1; next
  }
  /^# <<< standard plugins/ { skip = 0; next }
  !skip' "$src/config/demo.yaml" > "$tmp/area.yaml"
grep -q 'name: escalator' "$tmp/area.yaml" || { echo "FAIL: could not adapt demo.yaml"; exit 1; }
cfg=$tmp/area.yaml
repl() { "$bin" repl -c "$cfg" "$@"; }

# --- scripted -----------------------------------------------------------
out=$(repl -e 'print(1 + 1)' -e '40 + 2' 2>&1) && ok || bad "-e exits 0"
[ "$out" = $'2\n42' ] && ok || bad "-e output: $out"
repl -e 'error("boom")' >/dev/null 2>"$tmp/err"; [ $? = 1 ] && ok || bad "-e error exits 1"
grep -q 'repl:1: boom' "$tmp/err" && ok || bad "-e error message: $(cat "$tmp/err")"
repl -e '.nosuch' >/dev/null 2>&1; [ $? = 1 ] && ok || bad "unknown command exits 1"
out=$(printf 'x = 20\nfunction double(n)\n  return n * 2\nend\ndouble(x) + 2\n' | repl 2>&1) && ok || bad "piped exits 0"
[ "$out" = "42" ] && ok || bad "piped output: $out"
out=$(printf 'print("before")\nerror("stop")\nprint("after")\n' | repl 2>&1); [ $? = 1 ] && ok || bad "piped error exits 1"
case $out in *before*stop*) ok ;; *) bad "piped error output: $out" ;; esac
case $out in *after*) bad "piped input went on after an error" ;; *) ok ;; esac
printf 'function f()\n' | repl >/dev/null 2>&1; [ $? = 1 ] && ok || bad "unfinished chunk at end of input exits 1"
out=$(printf '.quit\nprint("after")\n' | repl 2>&1) && ok || bad ".quit exits 0"
[ -z "$out" ] && ok || bad ".quit stops reading: $out"

# .referral runs the pipeline and shows each plugin's step.
out=$(repl -e '.referral {person = {age = 88, needs = {"nursing"}}}' 2>&1) && ok || bad ".referral exits 0"
case $out in *"referral 1: held bed"*"triage_p2 1.0.0  triage"*"pathway = \"P2\""*"ranker 2.0.0"*candidates*) ok ;;
  *) bad ".referral trace: $out" ;; esac
# An hour: the scheduler's 15-minute schedule and the host's escalation
# round, four times each. The hour is pinned to 10:00-11:00 tomorrow: the
# scratch clock starts at the real now, and an hour that crosses 08:30
# would also fire the scheduler's daily timer.
day=$(date -u -d tomorrow +%F)
out=$(repl -e ".clock ${day}T10:00Z" -e '.advance 1h' -e '.clock' -e 'ct.escalation().level' 2>&1)
case $out in *"${day}T11:00:00.000Z (8 timers fired)"*) ok ;; *) bad ".advance fires the 15-minute timers: $out" ;; esac
case $out in *$'\n3') ok ;; *) bad "escalation recorded on the clock: $out" ;; esac
out=$(repl -e '.escalate' 2>&1)
case $out in *"level 3 (changed)"*"escalator 0.1.0  escalate"*) ok ;; *) bad ".escalate: $out" ;; esac

# The scratch copy: --live writes the database; a copy sees it and keeps
# nothing.
repl --live -e '.referral {}' >/dev/null 2>&1 && ok || bad "--live .referral"
[ -f "$tmp/caretide.db" ] && ok || bad "--live created the database"
out=$(repl -e '.explain 1' -e '.referral {}' 2>&1)
case $out in *"referral 1: held"*"referral 2: held"*) ok ;; *) bad "copy sees the data: $out" ;; esac
out=$(repl --live -e '#ct.referrals()' 2>&1)
[ "$out" = "1" ] && ok || bad "the copy saved nothing: $out"
# A database with SQLite's 4 KiB pages (made before new stores got 8 KiB)
# is copied at its own page size.
[ "$(sqlite3 "$tmp/caretide.db" 'PRAGMA page_size')" = 8192 ] && ok || bad "a new database has 8 KiB pages"
sqlite3 "$tmp/caretide.db" 'PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096; VACUUM; PRAGMA journal_mode = WAL;' >/dev/null
[ "$(sqlite3 "$tmp/caretide.db" 'PRAGMA page_size')" = 4096 ] && ok || bad "converted to 4 KiB pages"
out=$(repl -e '#ct.referrals()' 2>&1)
[ "$out" = "1" ] && ok || bad "a copy of a 4 KiB database: $out"

# --- at a terminal, through tmux ---------------------------------------------
if ! command -v tmux >/dev/null; then
  echo "tmux not installed: terminal checks skipped"
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]; exit
fi
hist=$tmp/history
# The terminal session counts the timers of an area with nobody referred:
# the held referral --live wrote above would have its 4-hour hold expire
# and be held again down the waiting list (docs/plugins.md), adding its
# timers whenever that cycle falls in the half hour counted below.
rm -f "$tmp"/caretide.db "$tmp"/caretide.db-wal "$tmp"/caretide.db-shm
screen() { tmux -L "$sock" capture-pane -p -t repl -S -200 2>/dev/null; }
wait_for() { # wait_for TEXT: until the screen shows it (at most ~10 s)
  for _ in $(seq 100); do
    screen | grep -qF -- "$1" && return 0
    sleep 0.1
  done
  return 1
}
expect_screen() { wait_for "$1" && ok || { bad "screen lacks: $1"; screen | grep -v "^$" | tail -20; }; }
expect_prompt() { # the last line on the screen is a fresh, empty prompt
  for _ in $(seq 100); do
    [ "$(screen | grep -v '^$' | tail -1 | sed 's/ *$//')" = "caretide>" ] && { ok; return; }
    sleep 0.1
  done
  bad "no fresh prompt"; screen | grep -v "^$" | tail -5
}
typeline() { tmux -L "$sock" send-keys -t repl -l -- "$1"; tmux -L "$sock" send-keys -t repl Enter; }
start() {
  tmux -L "$sock" new-session -d -s repl -x 160 -y 50 \
    "$bin repl -c '$cfg' --history '$hist'; sleep 30"
  expect_screen "Type .help for commands"
}

start
expect_screen "caretide>"
typeline "6 * 7"
expect_screen "42"
# Completion: ct.met<Tab> becomes ct.metrics.
tmux -L "$sock" send-keys -t repl -l "ct.met"
tmux -L "$sock" send-keys -t repl Tab
expect_screen "caretide> ct.metrics"
typeline "().beds.total"
expect_screen "274"
# Several candidates are listed.
tmux -L "$sock" send-keys -t repl -l "ct.kv."
tmux -L "$sock" send-keys -t repl Tab Tab
expect_screen "ct.kv.delete"
tmux -L "$sock" send-keys -t repl C-u
# Multi-line input continues under its own prompt.
typeline "function twice(s)"
expect_screen "     ...>"
typeline "  return s .. s"
typeline "end"
typeline 'twice("ab")'
expect_screen '"abab"'
# From midnight, so that the scheduler's daily 08:30 is not in the half
# hour whatever the time of day the test runs. Before any referral: a
# hold that expires is offered on down the waiting list, and its timers
# would count too.
typeline ".clock ${day}T00:00Z"
typeline ".advance 30m"
expect_screen "(4 timers fired)"
typeline '.referral {person = {age = 92,'
typeline '  needs = {"nursing"}}}'
expect_screen "held bed WH-G"
expect_prompt
typeline ".quit"
expect_screen "caretide> .quit"
sleep 0.5
grep -q 'advance' "$hist" && ok || bad "history file written"
tmux -L "$sock" kill-server 2>/dev/null

# A second session recalls the first one's lines: after its own .clock,
# Up five times is .advance (past .quit and the referral's two lines).
sock=ct-repl-$$-2
start
typeline ".clock ${day}T00:00Z"
# Keys sent while .clock still runs reach a terminal not yet in raw mode,
# which echoes them as ^[[A: wait for the next prompt first.
expect_screen "timers fired)"
expect_prompt
tmux -L "$sock" send-keys -t repl Up Up Up Up Up
expect_screen "caretide> .advance 30m"
tmux -L "$sock" send-keys -t repl Enter
expect_screen "(4 timers fired)"
typeline ".quit"
tmux -L "$sock" kill-server 2>/dev/null

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
