#!/usr/bin/env bash
# The daemon's memory bound (docs/operations.md "Memory"): with every
# plugin holding all the memory its cap allows and asking for more
# (hoarder), a result amplified past the output limit (amplifier), a call
# stuck in one instruction holding its state (rehasher) and two reloads
# (old and new sets side by side), the daemon's peak RSS stays under
#   192 MiB + limits.plugin_memory x 2 x plugins.
# Under a sanitizer the shadow memory and the allocator's quarantine are
# no part of the bound: the figure is printed, not checked.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

mem_mib=16
demo_area "$tmp/area.yaml" \
  -e "s|^plugins: \[\]|plugin_path: [\"$src/tests/plugins\"]\nplugins:\n  - name: hoarder\n  - name: amplifier\n  - name: rehasher\n  - name: triage_p2|" \
  -e "s|^  plugin_memory: .*|  plugin_memory: ${mem_mib}MiB|"
grep -q "plugin_memory: ${mem_mib}MiB" "$tmp/area.yaml" || { echo "FAIL: could not set plugin_memory"; exit 1; }
plugins=4
start main --config "$tmp/area.yaml" || { finish; exit 1; }
hospital=$(token_of hospital) admin=$(token_of admin)
today=$(date -u +%F)

peak() { awk '/^VmHWM:/ {print $2}' "/proc/$pid/status"; }
for n in $(seq 1 8); do
  req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs "$n")\", \"ready_date\": \"$today\", \"age\": 80}"
  expect 201 '.referral.id > 0'
  if [ "$n" = 3 ] || [ "$n" = 6 ]; then
    # The second may be refused while the stuck call still runs.
    req POST /v1/admin/reload "$admin" '{}'
    [ "$code" = 200 ] || [ "$code" = 422 ] && ok || bad "reload: $code $body"
  fi
done
req GET /v1/health
expect 200 '[.plugins[] | select(.name == "hoarder") | .memory > 0] == [true]'

hwm=$(peak)
bound=$(( (192 + mem_mib * 2 * plugins) * 1024 ))
echo "daemon peak RSS: $((hwm / 1024)) MiB; bound: $((bound / 1024)) MiB ($plugins plugins of ${mem_mib} MiB)"
if grep -q __asan_init "$bin" 2>/dev/null || nm -D "$bin" 2>/dev/null | grep -q __asan; then
  echo "sanitizer build: the bound is not checked"
else
  [ "$hwm" -le "$bound" ] && ok || bad "peak RSS ${hwm} kB over the bound ${bound} kB"
fi
kill -TERM "$pid"; wait "$pid" 2>/dev/null
finish
