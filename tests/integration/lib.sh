# Helpers for the integration tests that drive `caretide run` (sourced).
# The caller sets bin (the binary) and tmp (a scratch directory) first.
#
# Robust on a loaded machine: every wait polls for a condition with a
# generous ceiling; nothing sleeps and hopes.

pids=()
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION command...
  local what=$1; shift
  if "$@"; then ok; else bad "$what"; fi
}
# Kills the daemons this test started (by pid) and removes tmp.
lib_cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
finish() {
  # Under a sanitizer build, the daemons' reports (at exit) fail the test.
  local f
  for f in "$tmp"/*.err; do
    [ -f "$f" ] || continue
    if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f"; then
      bad "sanitizer report in $(basename "$f"):"
      grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -40
    fi
  done
  echo "$pass passed, $fail failed"
  [ "$fail" = 0 ]
}

# health_probe LOG: asks $base/v1/health every 100 ms in the background
# (killed with the test's daemons), one line per probe in LOG:
# "HTTP-CODE MILLISECONDS". health_probe_check LOG MIN ends it.
health_probe() {
  local log=$1
  (
    while :; do
      local t0 t1 c
      t0=$(date +%s%N)
      c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$base/v1/health")
      t1=$(date +%s%N)
      echo "$c $(( (t1 - t0) / 1000000 ))" >> "$log"
      sleep 0.1
    done
  ) &
  probe_pid=$!
  pids+=("$probe_pid")
}

# health_probe_check LOG MIN: stops the probe and checks that more than MIN
# probes ran and every one was answered 200 within 1 s.
health_probe_check() {
  local log=$1 min=$2 probes failed slowest
  kill "$probe_pid" 2>/dev/null; wait "$probe_pid" 2>/dev/null
  probes=$(wc -l < "$log")
  failed=$(awk '$1 != 200' "$log" | wc -l)
  slowest=$(awk 'BEGIN {m = 0} $2 > m {m = $2} END {print m}' "$log")
  echo "health: $probes probes, $failed failed or over 1 s, slowest ${slowest} ms"
  [ "$probes" -gt "$min" ] && [ "$failed" = 0 ] && ok || bad "health did not answer every probe within 1 s"
}

# read_probe LOG PATH [TOKEN]: as health_probe, for any GET (with a
# bearer token); the probe's pid is appended to read_probe_pids.
# read_probe_check LOG MIN WHAT ends them all on its first call and
# checks LOG as health_probe_check does.
read_probe_pids=()
read_probe() {
  local log=$1 path=$2 token=${3:-}
  local auth=()
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  (
    while :; do
      local t0 t1 c
      t0=$(date +%s%N)
      c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "${auth[@]}" "$base$path")
      t1=$(date +%s%N)
      echo "$c $(( (t1 - t0) / 1000000 ))" >> "$log"
      sleep 0.1
    done
  ) &
  read_probe_pids+=($!)
  pids+=($!)
}
read_probe_check() {
  local log=$1 min=$2 what=$3 probes failed slowest p
  for p in "${read_probe_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  read_probe_pids=()
  probes=$(wc -l < "$log")
  failed=$(awk '$1 != 200' "$log" | wc -l)
  slowest=$(awk 'BEGIN {m = 0} $2 > m {m = $2} END {print m}' "$log")
  echo "$what: $probes probes, $failed failed or over 1 s, slowest ${slowest} ms"
  [ "$probes" -gt "$min" ] && [ "$failed" = 0 ] && ok || bad "$what did not answer every probe within 1 s"
}

# need_browser: the headless-browser tests' set-up. Sets chromium
# (CHROMIUM, default Debian's /usr/bin/chromium), artifacts (ARTIFACTS,
# default ./artifacts) and dir (tests/integration/dashboard, the tests and
# the pinned playwright-core); exits 77 (skipped) when chromium, node or
# npm is missing; runs `npm ci` when node_modules is missing or older
# than the lock file. Needs src (the source tree).
need_browser() {
  chromium=${CHROMIUM:-/usr/bin/chromium}
  artifacts=${ARTIFACTS:-$PWD/artifacts}
  dir=$src/tests/integration/dashboard
  local tool
  for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "$tool not installed: skipped"; exit 77; }
  done
  [ -x "$chromium" ] || { echo "$chromium not installed: skipped"; exit 77; }
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
     [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) ||
      { echo "FAIL: npm ci in $dir"; echo "0 passed, 1 failed"; exit 1; }
  fi
}

# wait_for SECONDS command...: polls every 0.1s until the command succeeds.
wait_for() {
  local limit=$(( $1 * 10 )); shift
  for ((i = 0; i < limit; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

tokens=(hub:demo-hub-token hospital:demo-hospital-token
        provider:demo-provider-token viewer:demo-viewer-token
        admin:demo-admin-token)
token_of() { for t in "${tokens[@]}"; do [ "${t%%:*}" = "$1" ] && echo "${t#*:}"; done; }

# demo_bare: the demo area without its standard plugins (`plugins: []`),
# on stdout.
demo_bare() {
  sed -e '/^# >>> standard plugins/,/^# <<< standard plugins/c\plugins: []' \
      "$src/config/demo.yaml"
}

# demo_area FILE [SED ARGS...]: a copy of the demo area, without its
# standard plugins, on port 0 with its database beside it (area.db),
# further edited by the sed arguments.
# demo_area_standard OUT [sed args...]: the demo area with its standard
# plugins (from the source tree), on port 0, its database beside it; the
# sed args (-e EXPR ...) change more. Exits when the common part did not
# apply; callers check their own.
demo_area_standard() {
  local out=$1; shift
  sed -e 's|^  listen: .*|  listen: 127.0.0.1:0|' \
      -e 's|^  path: ./caretide.db|  path: area.db|' \
      -e "s|^plugin_path: .*|plugin_path: [\"$src/plugins\"]|" \
      "$@" "$src/config/demo.yaml" > "$out"
  grep -q 'listen: 127.0.0.1:0' "$out" && grep -q 'path: area.db' "$out" &&
    grep -q "plugin_path: \[\"$src/plugins\"\]" "$out" \
    || { echo "FAIL: could not adapt demo.yaml"; exit 1; }
}
demo_area() {
  local out=$1; shift
  demo_bare | sed -e 's|^  listen: .*|  listen: 127.0.0.1:0|' \
      -e 's|^  path: ./caretide.db|  path: area.db|' \
      "$@" > "$out"
  grep -q 'listen: 127.0.0.1:0' "$out" && grep -q 'path: area.db' "$out" \
    || { echo "FAIL: could not adapt demo.yaml"; exit 1; }
}

# start NAME ARGS...: runs the daemon, waits for its URL and readiness.
# Sets pid, port and base.
start() {
  local name=$1; shift
  "$bin" run "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pid=$!
  pids+=("$pid")
  port=
  listening() {
    port=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p' "$tmp/$name.out")
    [ -n "$port" ] || ! kill -0 "$pid" 2>/dev/null
  }
  wait_for 60 listening
  if [ -z "$port" ]; then
    bad "$name: no 'listening on' line"; cat "$tmp/$name.out" "$tmp/$name.err"; return 1
  fi
  base="http://127.0.0.1:$port"
  ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$base/v1/health")" = 200 ]; }
  if ! wait_for 60 ready; then
    # Say why: what health answers (503 says "starting" or why degraded)
    # and the daemon's last words.
    bad "$name: never ready; health: $(curl -s --max-time 5 "$base/v1/health" | head -c 600)"
    tail -n 15 "$tmp/$name.err" | cut -c1-300
    return 1
  fi
}

# req METHOD PATH [TOKEN] [BODY] [CURL ARGS...]: sets code, body, headers.
req() {
  local method=$1 path=$2 token=${3:-} data=${4:-}
  shift 4 2>/dev/null || shift $#
  local args=(-s -X "$method" --max-time 30 -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}')
  [ -n "$token" ] && args+=(-H "Authorization: Bearer $token")
  [ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  code=$(curl "${args[@]}" "$@" "$base$path")
  body=$(cat "$tmp/body")
  headers=$(tr -d '\r' < "$tmp/headers")
}
# expect_error STATUS CODE FIELD|null
expect_error() {
  local want=$1 ecode=$2 field=$3
  if [ "$code" != "$want" ]; then bad "want $want, got $code: $body"; return; fi
  local got
  got=$(echo "$body" | jq -r '[.error.code, (.error.field // "null"), (.error.message | type)] | join(" ")' 2>/dev/null)
  [ "$got" = "$ecode $field string" ] && ok || bad "error body '$body': want code=$ecode field=$field"
}
# expect STATUS JQ-FILTER: the status and a jq test of the body.
expect() {
  local want=$1 filter=$2
  if [ "$code" != "$want" ]; then bad "want $want, got $code: $body"; return; fi
  echo "$body" | jq -e "$filter" >/dev/null 2>&1 && ok || bad "body fails '$filter': $body"
}

# nhs N: the N-th valid NHS number of the test range 999 000 0000 ..
# (modulus 11; numbers whose check digit would be 10 are skipped, so
# distinct N give distinct numbers).
nhs() {
  local n=$1 k=0 base digits sum i check
  while :; do
    base=$(printf '999%06d' $((n * 2 + k)))
    sum=0
    for ((i = 0; i < 9; i++)); do sum=$((sum + ${base:i:1} * (10 - i))); done
    check=$(( (11 - sum % 11) % 11 ))
    [ "$check" != 10 ] && { echo "$base$check"; return; }
    k=1
  done
}

# slow_triage_area AREA N DEADLINE: the demo area with N plugins slow1..N
# (in $tmp/plugins) whose triage spends about 200 ms of Lua work and has
# no opinion, then triage_p2, with limits.plugin_deadline DEADLINE.
slow_triage_area() {
  local n list=""
  for n in $(seq 1 "$2"); do
    mkdir -p "$tmp/plugins/slow$n"
    cat > "$tmp/plugins/slow$n/plugin.yaml" <<YAML
name: slow$n
version: 1.0.0
api: 1
description: A triage that takes about 200 ms and has no opinion (integration test).
publisher: caretide tests
fallback: skip
YAML
    cat > "$tmp/plugins/slow$n/init.lua" <<'LUA'
local M = {}
function M.triage(referral)
  local t0, x = os.clock(), 0
  repeat
    for i = 1, 20000 do x = x + i % 7 end
  until os.clock() - t0 >= 0.2
  return nil
end
return M
LUA
    list="$list\n  - name: slow$n"
  done
  demo_area "$1" \
    -e "s|^plugins: \[\]|plugin_path: [\"$tmp/plugins\", \"$src/tests/plugins\"]\nplugins:$list\n  - name: triage_p2|" \
    -e "s|^  plugin_deadline: .*|  plugin_deadline: $3|"
  grep -q "name: slow$2" "$1" && grep -q "plugin_deadline: $3" "$1" \
    || { echo "FAIL: could not add plugins and limits"; exit 1; }
}
