#!/usr/bin/env bash
# A reload never holds the event loop for plugin code (docs/sandbox.md):
# the new set's init.lua and setup() run on the plugins' own threads while
# the loop serves requests. Five plugins each spend about 350 ms of their
# 500 ms setup deadline; on the main of December 2026 a reload held the
# loop for all of them in a row (about 1.8 s). /v1/health is probed every
# 100 ms, each probe bounded to 1 s, through two reloads: every probe must
# answer. Then the reloaded set must be the one that runs, a setup that
# fails must still refuse a reload and keep the running set, and a
# shutdown in the middle of a reload must end cleanly.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

# slowN: a setup of about 350 ms of Lua work (the clock read only now and
# then), a version the test bumps to tell the reloaded set apart, and an
# answer from triage that says which setup ran.
mkdir -p "$tmp/plugins"
slow_plugin() { # slow_plugin NAME VERSION
  mkdir -p "$tmp/plugins/$1"
  cat > "$tmp/plugins/$1/plugin.yaml" <<YAML
name: $1
version: $2
api: 1
description: A setup that takes about 350 ms (integration test).
publisher: caretide tests
fallback: skip
YAML
  cat > "$tmp/plugins/$1/init.lua" <<'LUA'
local M = {}
local ran = 0
function M.setup()
  local t0, x = os.clock(), 0
  repeat
    for i = 1, 20000 do x = x + i % 7 end
  until os.clock() - t0 >= 0.35
  ran = ran + 1
end
return M
LUA
}
names=(slow1 slow2 slow3 slow4 slow5)
for n in "${names[@]}"; do slow_plugin "$n" 1.0.0; done
list=""
for n in "${names[@]}"; do list="$list\n  - name: $n"; done
demo_area "$tmp/area.yaml" -e "s|^plugins: \[\]|plugin_path: [\"$tmp/plugins\"]\nplugins:$list|"
grep -q 'name: slow5' "$tmp/area.yaml" || { echo "FAIL: could not add plugins"; exit 1; }
start main --config "$tmp/area.yaml" || { finish; exit 1; }
admin=$(token_of admin)

probe() {
  while :; do
    local t0 t1 c
    t0=$(date +%s%N)
    c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$base/v1/health")
    t1=$(date +%s%N)
    echo "$c $(( (t1 - t0) / 1000000 ))" >> "$tmp/probe.log"
    sleep 0.1
  done
}
probe & probe_pid=$!
pids+=("$probe_pid")

# reload: POST /v1/admin/reload, again while another one runs (the
# daemon reloads by itself too when plugin files change).
reload() {
  for _ in $(seq 1 100); do
    req POST /v1/admin/reload "$admin" '{}'
    [ "$code" = 409 ] || return 0
    sleep 0.2
  done
}

# Two reloads, the second with new versions: each answers once its set is
# loaded and swapped in.
reload
expect 200 '. != null'
for n in "${names[@]}"; do sed -i 's/^version: 1.0.0/version: 1.1.0/' "$tmp/plugins/$n/plugin.yaml"; done
reload
expect 200 '. != null'
kill "$probe_pid" 2>/dev/null; wait "$probe_pid" 2>/dev/null

probes=$(wc -l < "$tmp/probe.log")
failed=$(awk '$1 != 200' "$tmp/probe.log" | wc -l)
slowest=$(awk 'BEGIN {m = 0} $2 > m {m = $2} END {print m}' "$tmp/probe.log")
echo "health during two reloads of five 350 ms setups: $probes probes, $failed failed or over 1 s, slowest ${slowest} ms"
[ "$probes" -ge 5 ] && [ "$failed" = 0 ] && ok || bad "health did not answer every probe within 1 s during the reloads"

req GET /v1/health
expect 200 '[.plugins[] | select(.name | startswith("slow")) | [.version, .state]] == [range(5) | ["1.1.0", "active"]]'

# A set whose setup fails: refused, the running set stays.
cat > "$tmp/plugins/slow3/init.lua" <<'LUA'
local M = {}
function M.setup() error("setup refuses") end
return M
LUA
sed -i 's/^version: 1.1.0/version: 1.2.0/' "$tmp/plugins/slow3/plugin.yaml"
reload
[ "$code" = 422 ] && echo "$body" | grep -q "setup refuses" && ok \
  || bad "a failing setup did not refuse the reload: $code $body"
req GET /v1/health
expect 200 '[.plugins[] | select(.name == "slow3") | .version] == ["1.1.0"]'

# A shutdown while the set loads: the daemon ends, and cleanly.
sed -i 's/^version: 1.2.0/version: 1.3.0/' "$tmp/plugins/slow3/plugin.yaml"
cp "$tmp/plugins/slow1/init.lua" "$tmp/plugins/slow3/init.lua"
curl -s -o /dev/null --max-time 30 -X POST -H "Authorization: Bearer $admin" \
  -H 'Content-Type: application/json' --data '{}' "$base/v1/admin/reload" &
reload_pid=$!
sleep 0.5
kill -TERM "$pid"
ended() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 30 ended && ok || bad "the daemon did not end during a reload"
wait "$pid"; rc=$?
[ "$rc" = 0 ] && ok || { bad "exit status $rc after SIGTERM during a reload"; tail -5 "$tmp/main.err"; }
wait "$reload_pid" 2>/dev/null
finish
