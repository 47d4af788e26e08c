#!/usr/bin/env bash
# Instructions per decision (POST /v1/referrals through the whole daemon:
# HTTP, triage, candidates, rank, admit, hold, store, audit, reply), with
# and without the three standard plugins, counted by valgrind's callgrind.
# CPU time on the shared machine moves by 30-50% between runs of the same
# binary; an instruction count does not, so this is the figure to compare
# two builds by. Prints figures; asserts nothing; not run by ctest
# (docs/performance.md, "A decision in instructions").
#
#   bench/decision_instructions.sh [--bin PATH] [--beds N] [--posts N]
#                                  [--keep DIR] [--only plugins|bare]
#     --bin PATH   the caretide binary (default: build/caretide)
#     --beds N     the England-like area of bench/scale_bench.sh (default 2000)
#     --posts N    referrals counted (default 50, after 5 not counted)
#     --keep DIR   keep the callgrind files in DIR (callgrind_annotate them)
#     --only X     run only with the plugins or only without
#
# Needs valgrind and curl. The plugins get generous deadlines: under
# valgrind code runs 50 times slower.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/caretide beds=2000 posts=50 keep='' only=''
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --beds) beds=$2; shift 2 ;;
    --posts) posts=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "decision_instructions.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 2; }
tmp=$(mktemp -d)
cpid=
trap '[ -z "$cpid" ] || kill "$cpid" 2>/dev/null; rm -rf "$tmp"' EXIT

body() { # body N: referral N (NHS number 999 + six digits + check digit)
  local n=$1 base sum i check
  while true; do
    base=$(printf '999%06d' "$((n % 1000000))")
    sum=0
    for i in 1 2 3 4 5 6 7 8 9; do sum=$((sum + ${base:i-1:1} * (11 - i))); done
    check=$(((11 - sum % 11) % 11))
    [ "$check" != 10 ] && break
    n=$((n + 1000))
  done
  local pw=(P1 P2 P3 step_down)
  printf '{"nhs_number":"%s%s","ready_date":"%s","requested_pathway":"%s","age":80,"needs":["nursing"],"infections":{"covid":{"status":"negative","tested_at":"%s"}}}' \
    "$base" "$check" "$(date -u +%Y-%m-%d)" "${pw[$((n % 4))]}" "$(date -u -d '1 hour ago' +%Y-%m-%dT%H:%M:%SZ)"
}

post() { # post FROM TO
  local i
  for ((i = $1; i < $2; i++)); do
    curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
      -H 'Authorization: Bearer demo-hospital-token' \
      --data "$(body "$i")" "$base/v1/referrals" ||
      { echo "POST $i failed" >&2; exit 1; }
  done
}

count() { # count PLUGINS(0|1): prints instructions per decision
  local p=$1
  "$root/bench/scale_bench.sh" --gen "$beds" "$tmp/area.yaml"
  cat >> "$tmp/area.yaml" <<YAML
limits: {plugin_deadline: 60s, plugin_decision_budget: 600s, schedule_deadline: 60s}
YAML
  if [ "$p" = 1 ]; then
    printf 'plugin_path: [%s/plugins]\n' "$root" >> "$tmp/area.yaml"
    echo 'plugins: [{name: stepdown}, {name: discharge_hub}, {name: winter_surge}]' >> "$tmp/area.yaml"
  fi
  rm -f "$tmp"/scale.db* "$tmp"/cg.*
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$tmp/cg.%p" \
    "$bin" run --listen 127.0.0.1:0 --log-level warn --config "$tmp/area.yaml" \
    --db "$tmp/scale.db" >"$tmp/run.out" 2>"$tmp/run.err" &
  cpid=$!
  local port='' i
  for ((i = 0; i < 6000; i++)); do
    port=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p' "$tmp/run.out")
    [ -n "$port" ] && break
    kill -0 "$cpid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$tmp/run.err" >&2; exit 1; }
  base=http://127.0.0.1:$port
  until curl -sf -o /dev/null "$base/v1/health"; do sleep 0.2; done
  post $((p * 100000)) $((p * 100000 + 5))
  callgrind_control -i on "$cpid" >/dev/null 2>&1
  post $((p * 100000 + 5)) $((p * 100000 + 5 + posts))
  callgrind_control -i off "$cpid" >/dev/null 2>&1
  kill -TERM "$cpid"
  wait "$cpid" || true
  cpid=
  local f
  f=$(find "$tmp" -maxdepth 1 -name 'cg.*' | head -1)
  [ -z "$keep" ] || { mkdir -p "$keep"; cp "$f" "$keep/callgrind.$([ "$p" = 1 ] && echo plugins || echo bare)"; }
  callgrind_annotate "$f" 2>/dev/null |
    awk -v n="$posts" '/PROGRAM TOTALS/ { gsub(",", "", $1); printf "%d", $1 / n }'
}

echo "caretide $("$bin" version | head -1 | cut -d' ' -f2), $beds beds, $posts referrals counted, callgrind"
declare -A ins=([0]=0 [1]=0)
for p in 0 1; do
  [ "$only" = plugins ] && [ "$p" = 0 ] && continue
  [ "$only" = bare ] && [ "$p" = 1 ] && continue
  ins[$p]=$(count "$p")
  printf '  %-24s %10d instructions a decision\n' \
    "$([ "$p" = 1 ] && echo "three standard plugins" || echo "no plugins")" "${ins[$p]}"
done
[ "${ins[0]}" -gt 0 ] && [ "${ins[1]}" -gt 0 ] &&
  awk -v a="${ins[1]}" -v b="${ins[0]}" 'BEGIN { printf "  plugins / no plugins: %.1fx\n", a / b }'
exit 0
