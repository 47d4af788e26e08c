#!/usr/bin/env bash
# An England-sized sweep of `caretide sim` (issue 20, docs/simulation.md
# "Speed and sweeps"): prints figures, asserts nothing.
#
# Generates AREAS independent areas (default 150) from the demo area, each
# with its own id, a population from 200,000 to 500,000 (about 350,000 on
# average: England's 57 million over 150 areas) and every bed range, the
# red wing's staffing cap and winter_surge's acute beds and NCTR points
# scaled from the demo's 50,000 to it, so that each meets the default
# winter at the demo's pressure. At 0.19 discharges per 1,000 a day that
# is about 1.3 million referrals over the 150 areas' 120-day winters.
#
# Each area is one `caretide sim -n 1` process (xargs -P), as a sweep over
# many machines would run them (GNU parallel over SSH, a Kubernetes Job
# array: docs/simulation.md). It runs the first SAMPLE areas (default 4)
# with 1 process at a time, then the same areas with JOBS processes at a
# time (default: the cores), and prints for each the wall time, CPU time,
# referrals simulated and referrals a second, the speed-up of JOBS
# processes over 1, and the time the whole sweep would take at the
# measured rate. SAMPLE=all runs every area (then with JOBS only).
#
# Usage: bench/sim_england.sh [BUILD_DIR]   (default build)
#   env AREAS=150 SAMPLE=4 JOBS=$(nproc) KEEP=dir (keep the areas, results)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$src/${1:-build}/caretide
areas=${AREAS:-150}
sample=${SAMPLE:-4}
jobs=${JOBS:-$(nproc)}
[ "$sample" = all ] && sample=$areas
[ "$sample" -gt "$areas" ] && sample=$areas
tmp=${KEEP:-$(mktemp -d)}
mkdir -p "$tmp"
cd "$src"
# Areas live next to the demo (config/) so that its relative paths (the
# area's tests) still resolve; removed at exit.
cleanup() {
  rm -f config/.sim-england-*.yaml
  [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

# gen I: area I's population and config.
# Spread, so that the first few areas (the sample) are of every size.
pop_of() { echo $((200000 + ($1 * 185437) % 300001)); }
gen() {
  local i=$1 pop
  pop=$(pop_of "$i")
  awk -v k="$pop" -v id="england-$i" '
    function scale(n) { n = int(n * k / 50000 + 0.5); return n < 1 ? 1 : n }
    /^  id: / { print "  id: " id; next }
    /^tests:/ { next }   # the demo tests name the demo beds
    /- range: / {
      match($0, /range: [^ ]+/)
      r = substr($0, RSTART + 7, RLENGTH - 7)
      split(r, ends, /\.\./)
      match(ends[1], /[0-9]+$/); pre = substr(ends[1], 1, RSTART - 1)
      a = substr(ends[1], RSTART) + 0; w = RLENGTH
      match(ends[2], /[0-9]+$/); b = substr(ends[2], RSTART) + 0
      n = scale(b - a + 1)
      if (pre in next_of) a = next_of[pre]   # numbered on: no id twice
      last = a + n - 1; next_of[pre] = last + 1
      if (length(last "") > w) w = length(last "")
      fmt = "%s%0" w "d"
      line = sprintf("%srange: " fmt ".." fmt "%s", substr($0, 1, index($0, "range:") - 1),
                     pre, a, pre, last, substr($0, index($0, r) + length(r)))
      print line; next
    }
    /staffing_caps: \[willow-red=/ { sub(/=[0-9]+/, "=" scale(18)); print; next }
    /acute_beds: / { sub(/[0-9]+/, scale(400)); print; next }
    /nctr_points: / { print "      nctr_points: [" scale(20) ", " scale(40) ", " scale(60) "]"; next }
    { print }
  ' config/demo.yaml > "config/.sim-england-$i.yaml"
  sed -e "s/^  population: .*/  population: $pop/" config/scenarios/winter.yaml \
    > "$tmp/winter-$i.yaml"
}
for ((i = 0; i < areas; i++)); do gen "$i"; done
total_pop=0
for ((i = 0; i < areas; i++)); do total_pop=$((total_pop + $(pop_of "$i"))); done
echo "$areas areas generated, $total_pop people"

# sweep P N: the first N areas, P processes at a time; prints a line and
# sets rate (referrals a second of wall time).
sweep() {
  local p=$1 n=$2 out=$tmp/run-$1
  rm -rf "$out"
  mkdir -p "$out"
  local t0 t1 wall cpu refs=0 c
  t0=$(date +%s.%N)
  seq 0 $((n - 1)) | xargs -P "$p" -I{} /usr/bin/time -f '%U %S' -o "$out/cpu-{}" \
    "$bin" sim -q -n 1 -c "config/.sim-england-{}.yaml" -s "$tmp/winter-{}.yaml" -o "$out/{}"
  t1=$(date +%s.%N)
  wall=$(echo "$t1 - $t0" | bc)
  cpu=0
  for ((i = 0; i < n; i++)); do
    c=$(jq '[.runs[0].days[].referrals] | add' "$out/$i/results.json")
    refs=$((refs + c))
    cpu=$(echo "$cpu + $(awk '{print $1 + $2}' "$out/cpu-$i")" | bc)
  done
  rate=$(echo "$refs / $wall" | bc -l)
  printf '%d areas, %d process(es) at a time: %.0f s wall, %.0f s CPU, %d referrals, %.1f referrals/s\n' \
    "$n" "$p" "$wall" "$cpu" "$refs" "$rate"
  sweep_refs=$refs
}

if [ "$sample" -lt "$areas" ]; then
  sweep 1 "$sample"
  one=$rate
fi
sweep "$jobs" "$sample"
many=$rate
[ -n "${one:-}" ] &&
  printf 'speed-up of %d processes over 1: %.2f (linear: %d)\n' "$jobs" \
    "$(echo "$many / $one" | bc -l)" "$jobs"
# The whole sweep's referrals: the sample's per person, over everyone.
sample_pop=0
for ((i = 0; i < sample; i++)); do sample_pop=$((sample_pop + $(pop_of "$i"))); done
expected=$(echo "$sweep_refs * $total_pop / $sample_pop" | bc)
if [ "$sample" -lt "$areas" ]; then
  printf 'the whole sweep (%d areas, about %d referrals) at %.1f referrals/s: about %.1f hours on %d processes (projected, not run)\n' \
    "$areas" "$expected" "$many" "$(echo "$expected / $many / 3600" | bc -l)" "$jobs"
fi
