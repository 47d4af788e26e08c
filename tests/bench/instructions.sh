#!/usr/bin/env bash
# Instructions per placement (candidate search + hold + audit event, the
# batched figure of bench_capacity), counted by valgrind's callgrind. Wall
# time on a shared machine moves by 10-40% from one quarter of an hour to
# the next; an instruction count does not, so this is the figure to compare
# two builds by. Prints figures; asserts nothing; not run by ctest.
#
#   tests/bench/instructions.sh [--bench PATH] [--beds N] [--rounds N]
#     --bench PATH   bench_capacity (default: build/bench/bench_capacity)
#     --beds N       area size (default: 5000)
#     --rounds N     batched rounds counted (default: 2)
#
# Needs valgrind. Under valgrind Nettle's SHA-256 runs without the SHA
# extensions, so the audit hash counts some 12,000 instructions that take
# a few hundred on the processor; it is the same in both builds compared.
set -euo pipefail

bench=build/bench/bench_capacity
beds=5000
rounds=2
while [ $# -gt 0 ]; do
    case "$1" in
    --bench) bench=$2; shift 2 ;;
    --beds) beds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "instructions.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
command -v valgrind >/dev/null || {
    echo "instructions.sh: needs valgrind (apt-get install valgrind)" >&2
    exit 2
}
[ -x "$bench" ] || {
    echo "instructions.sh: no $bench; build first (cmake --build build)" >&2
    exit 2
}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Only the placement loop is counted: not the area's set-up, not the
# timing of search alone or of the audit alone.
valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
    --toggle-collect='place_all*' \
    "$bench" --beds "$beds" --rounds "$rounds" --full 0 >"$out/bench" 2>"$out/log" || {
    cat "$out/log" >&2
    exit 1
}
holds=$(sed -n 's/.*(\([0-9]*\) holds a round.*/\1/p' "$out/bench")
[ -n "$holds" ] || { echo "instructions.sh: no hold count in the bench's output" >&2; exit 1; }
ops=$((holds * rounds))
summary() { callgrind_annotate --inclusive=yes "$out/cg" 2>/dev/null; }
total=$(summary | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
fn() { summary | awk -v f="$1" '$0 ~ f { gsub(",", "", $1); print $1; exit }'; }
per() { [ -n "$1" ] && echo $(($1 / ops)) || echo "?"; }

echo "bench_capacity, $beds beds, $rounds rounds of $holds holds ($ops placements), callgrind"
printf '%-36s %8s instructions\n' "search + hold + audit event" "$(per "$total")"
printf '%-36s %8s\n' "  candidate search" "$(per "$(fn 'ct_candidates_find ')")"
printf '%-36s %8s\n' "  hold" "$(per "$(fn 'ct_capacity_hold ')")"
printf '%-36s %8s\n' "    assignment insert + bed status" "$(per "$(fn 'insert_assignment')")"
printf '%-36s %8s\n' "    audit event" "$(per "$(fn 'ct_audit_append_members ')")"
printf '%-36s %8s\n' "    referral state" "$(per "$(fn 'ct_referral__move ')")"
printf '%-36s %8s\n' "    reading the bed" "$(per "$(fn 'load_bed ')")"
