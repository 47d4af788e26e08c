#!/usr/bin/env bash
# caretide sim's speed (docs/simulation.md "Speed and sweeps",
# docs/performance.md): prints figures, asserts nothing.
#   1. the demo area, the default 120-day winter (after its warm-up), one
#      seed, one process: wall and CPU seconds;
#   2. a sweep of generated areas (the example areas with their ids and
#      populations varied), one process per area, as many at once as there
#      are cores: the wall time, referrals simulated, and the time the
#      issue's England-sized sweep (about 150 areas, 1.3 million referrals)
#      would take at this rate on this machine (bench/sim_england.sh runs
#      and projects the England-sized sweep itself).
# Usage: bench/sim_bench.sh [BUILD_DIR] [AREAS]   (defaults: build, 6;
# DEMO_ONLY=1: the demo winter alone)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
bin=$src/${1:-build}/caretide
areas=${2:-6}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"
cores=$(nproc)

t0=$(date +%s.%N)
/usr/bin/time -f '%U %S' -o "$tmp/cpu" "$bin" sim -q -n 1 -o "$tmp/demo"
t1=$(date +%s.%N)
read -r u s < "$tmp/cpu"
refs=$(jq '[.runs[0].days[].referrals] | add' "$tmp/demo/results.json")
printf 'demo area, 120-day winter, one seed: %.1f s wall, %.1f s CPU, %d referrals, %.1f referrals a CPU second\n' \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$u + $s" | bc)" "$refs" "$(echo "$refs / ($u + $s)" | bc -l)"
[ "${DEMO_ONLY:-}" ] && exit 0

examples=(demo city-system rural-county)
for ((i = 0; i < areas; i++)); do
  base=${examples[$((i % 3))]}
  sed -e "s/^  id: .*/  id: gen-area-$i/" "config/$base.yaml" > "config/.sim-bench-$i.yaml"
  pop=$((60000 + (i * 7919) % 60000))
  sed -e "s/^  population: .*/  population: $pop/" config/scenarios/winter.yaml > "$tmp/winter-$i.yaml"
done
trap 'rm -rf "$tmp"; rm -f config/.sim-bench-*.yaml' EXIT
t0=$(date +%s.%N)
seq 0 $((areas - 1)) | xargs -P "$cores" -I{} \
  "$bin" sim -q -n 1 -c config/.sim-bench-{}.yaml -s "$tmp/winter-{}.yaml" -o "$tmp/sweep-{}"
t1=$(date +%s.%N)
wall=$(echo "$t1 - $t0" | bc)
total=0
for ((i = 0; i < areas; i++)); do
  n=$(jq '[.runs[0].days[].referrals] | add' "$tmp/sweep-$i/results.json")
  total=$((total + n))
done
printf 'sweep: %d generated areas on %d cores: %.1f s wall, %d referrals, %.0f referrals/s\n' \
  "$areas" "$cores" "$wall" "$total" "$(echo "$total / $wall" | bc -l)"
printf 'at that rate, 1.3 million referrals (about 150 areas) would take %.0f minutes on %d cores\n' \
  "$(echo "1300000 / ($total / $wall) / 60" | bc -l)" "$cores"
