#!/usr/bin/env bash
# England-scale benchmark of `caretide run` and `caretide check` on an
# England-like generated area. Prints figures; asserts nothing; not run by
# ctest (docs/performance.md, "Scale").
#
#   bench/scale_bench.sh [options]
#     --bin PATH        the caretide binary (default: build/caretide)
#     --beds N[,N...]   area sizes in beds (default: 5000,50000,500000)
#     --decision-beds N the area for the per-decision CPU figures
#                       (default: 20000; 0 skips them)
#     --seconds N       duration of each load run (default: 10)
#     --connections N   POST connections (default: 64)
#     --gen BEDS FILE   only write the area of BEDS beds to FILE (for
#                       profiling by hand) and exit
#
# The area: homes of about 32 beds (24 to 40, two zones each), 85% care
# homes and the rest step-down, rehab and home care; one provider
# organisation per 10 homes; every third zone cohorted covid-negative;
# nursing on half the homes. The demo's tokens: hospital
# demo-hospital-token, viewer demo-viewer-token. England has about 450,000
# care-home beds in about 14,000 homes: 500,000 beds is 15,625 homes.
#
# For each size it prints:
#   check          wall time of `caretide check --config` (best of 3)
#   start, new db  launch to GET /v1/health 200 on an empty database
#   start, existing launch to 200 again on the database the first made
#   idle RSS       VmRSS of the ready daemon after 2 s idle
#   GET alone      GET /v1/capacity latency, no writes (4 connections)
#   GET under POST the same while durable POSTs run (--connections), and
#                  the POSTs' own latency in that run (max: the slowest)
# and for --decision-beds, daemon CPU per POST /v1/referrals without
# plugins and with the three standard plugins (stepdown, discharge_hub,
# winter_surge), beds free, and their ratio.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/caretide sizes=5000,50000,500000 dbeds=20000 secs=10 conns=64
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --beds) sizes=$2; shift 2 ;;
    --decision-beds) dbeds=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --gen) gen=("$2" "$3"); shift 3 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is needed" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

# gen_area BEDS FILE [plugins]: the England-like area (awk: 500,000 beds is
# about 1.4 million lines of YAML).
gen_area() {
  awk -v beds="$1" -v plugins="${3:-0}" -v root="$root" \
      -v hosp="$(printf %s demo-hospital-token | sha256sum | cut -d' ' -f1)" \
      -v view="$(printf %s demo-viewer-token | sha256sum | cut -d' ' -f1)" '
  BEGIN {
    srand(18)
    print "area: {id: england, name: England-like area}"
    print "server: {listen: 127.0.0.1:0}"
    print "storage: {path: scale.db, synchronous: full}"
    print "pathogens: [covid, flu, norovirus]"
    print "organisations:"
    print "  - id: acute"
    print "    name: Acute Trust"
    print "    tokens:"
    print "      - {role: hospital, sha256: " hosp "}"
    print "  - id: council"
    print "    name: Council"
    print "    tokens:"
    print "      - {role: viewer, sha256: " view "}"
    # one provider per 10 homes, homes of 24..40 beds (mean 32)
    nhomes = 0; left = beds
    while (left > 0) { n = 24 + int(rand() * 17); if (n > left) n = left; size[nhomes++] = n; left -= n }
    for (p = 0; p * 10 < nhomes; p++) {
      print "  - id: p" p
      print "    name: Provider " p
    }
    print "facilities:"
    for (h = 0; h < nhomes; h++) {
      r = rand()
      kind = r < 0.85 ? "care_home" : r < 0.90 ? "step_down" : r < 0.95 ? "rehab" : "home_care"
      print "  - id: h" h
      print "    name: Home " h
      print "    kind: " kind
      print "    organisation: p" int(h / 10)
      print "    zones:"
      half = int(size[h] / 2)
      for (z = 0; z < 2; z++) {
        nb = z == 0 ? half : size[h] - half
        if (nb == 0) continue
        print "      - id: h" h "-z" z
        print "        name: Floor " z
        if ((h * 2 + z) % 3 == 0) print "        cohort: {covid: negative}"
        print "        beds:"
        tags = h % 2 == 0 ? "[nursing]" : "[]"
        printf "          - {range: B%d-%d-01..B%d-%d-%02d, tags: %s}\n", h, z, h, z, nb, tags
      }
    }
    if (plugins) {
      print "plugin_path: [" root "/plugins]"
      print "plugins: [{name: stepdown}, {name: discharge_hub}, {name: winter_surge}]"
    }
  }' > "$2"
}

if [ -n "${gen[*]:-}" ]; then
  gen_area "${gen[0]}" "${gen[1]}"
  exit 0
fi

# shellcheck source=../tests/bench/wrk_lib.sh
. "$root/tests/bench/wrk_lib.sh"

lat() { # lat WRK-OUTPUT: "req/s, p50, p99, max"
  awk '/^Requests\/sec:/ { r = $2 } / 50%/ { p50 = $2 } / 99%/ { p99 = $2 }
       /^    Latency/ { max = $4 }
       END { printf "%8.0f req/s  p50 %-8s p99 %-8s max %s", r, p50, p99, max }' "$1"
}

echo "caretide $("$bin" version | head -1 | cut -d' ' -f2), $(nproc) cores (load $(cut -d' ' -f1-3 /proc/loadavg)), ${secs}s per load run"

IFS=, read -r -a list <<< "$sizes"
for beds in "${list[@]}"; do
  gen_area "$beds" "$tmp/area.yaml"
  homes=$(grep -c '^  - id: h' "$tmp/area.yaml")
  echo
  echo "== $beds beds, $homes homes, $(grep -c 'range:' "$tmp/area.yaml") zones, $(grep -c 'kind: care_home' "$tmp/area.yaml") care homes"

  best=
  for _ in 1 2 3; do
    t0=$(date +%s%N)
    "$bin" check --config "$tmp/area.yaml" --quiet >/dev/null 2>"$tmp/check.err" ||
      { echo "check failed:"; head -5 "$tmp/check.err"; }
    t=$((($(date +%s%N) - t0) / 1000000))
    [ -z "$best" ] || [ "$t" -lt "$best" ] && best=$t
  done
  printf '  %-22s %6d ms\n' "check" "$best"

  rm -f "$tmp"/scale.db*
  start_caretide --config "$tmp/area.yaml" --db "$tmp/scale.db"
  printf '  %-22s %6d ms\n' "start, new db" "$ready_ms"
  stop_caretide
  start_caretide --config "$tmp/area.yaml" --db "$tmp/scale.db"
  printf '  %-22s %6d ms\n' "start, existing db" "$ready_ms"
  sleep 2
  printf '  %-22s %6d MB\n' "idle RSS" "$(($(awk '/^VmRSS/ { print $2 }' "/proc/$cpid/status") / 1024))"

  wrk -t1 -c4 -d"${secs}s" --latency -H 'Authorization: Bearer demo-viewer-token' \
    "$base/v1/capacity" > "$tmp/get.txt"
  size=$(curl -s -H 'Authorization: Bearer demo-viewer-token' "$base/v1/capacity" | wc -c)
  printf '  %-22s %s  (%d bytes)\n' "GET alone" "$(lat "$tmp/get.txt")" "$size"

  post_lua 0 "$tmp/post.lua" tested
  wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$tmp/post.lua" \
    "$base/v1/referrals" > "$tmp/post.txt" &
  wpid=$!
  wrk -t1 -c4 -d"${secs}s" --latency -H 'Authorization: Bearer demo-viewer-token' \
    "$base/v1/capacity" > "$tmp/get.txt"
  wait "$wpid"
  printf '  %-22s %s\n' "GET under POST" "$(lat "$tmp/get.txt")"
  printf '  %-22s %s\n' "  the POSTs" "$(lat "$tmp/post.txt")"
  t0=$(date +%s%N)
  curl -s -o /dev/null -H 'Authorization: Bearer demo-viewer-token' "$base/metrics"
  printf '  %-22s %6d ms\n' "GET /metrics after" "$((($(date +%s%N) - t0) / 1000000))"
  stop_caretide
done

if [ "$dbeds" -gt 0 ]; then
  echo
  echo "== per decision, $dbeds beds, beds free, $conns connections"
  declare -A us
  for p in 0 1; do
    gen_area "$dbeds" "$tmp/area.yaml" "$p"
    rm -f "$tmp"/scale.db*
    start_caretide --config "$tmp/area.yaml" --db "$tmp/scale.db"
    post_lua 0 "$tmp/post.lua" tested
    # A short warm-up (the candidate index, the plugins' first calls).
    wrk -t1 -c4 -d1s -s "$tmp/post.lua" "$base/v1/referrals" > /dev/null
    post_lua 500000 "$tmp/post.lua" tested
    c0=$(cpu_ms)
    wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$tmp/post.lua" \
      "$base/v1/referrals" > "$tmp/post.txt"
    n=$(awk '/requests in/ { print $1 }' "$tmp/post.txt")
    us[$p]=$(awk -v a="$c0" -v b="$(cpu_ms)" -v n="$n" 'BEGIN { printf "%.0f", (b - a) * 1000 / n }')
    label=$([ "$p" = 1 ] && echo "three standard plugins" || echo "no plugins")
    printf '  %-22s %s  daemon CPU %s us a decision\n' "$label" "$(lat "$tmp/post.txt")" "${us[$p]}"
    grep -E 'Non-2xx|Socket errors' "$tmp/post.txt" | sed 's/^/    /'
    stop_caretide
  done
  awk -v a="${us[1]}" -v b="${us[0]}" 'BEGIN { if (b > 0) printf "  plugins / no plugins: %.1fx\n", a / b }'
fi
