#!/usr/bin/env bash
# Builds caretide twice and runs every test: once normally with warnings as
# errors, once under AddressSanitizer + UndefinedBehaviorSanitizer.
# As root (CI), the normal run also builds the Debian package, installs it,
# runs `caretide check` with the installed paths and purges it (the
# "package" test); elsewhere that test is skipped and says so.
# The last line sums both runs as 'N passed, N failed'.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
total_pass=0 total_fail=0 total_skip=0 status=0

run_suite() { # run_suite BUILD_DIR LABEL CMAKE_ARGS...
  local dir=$1 label=$2; shift 2
  echo "== $label: configure and build ($dir)"
  if ! cmake -S "$root" -B "$dir" -DCT_WERROR=ON "$@" >"$dir.log" 2>&1 ||
     ! cmake --build "$dir" -j "$jobs" >>"$dir.log" 2>&1; then
    cat "$dir.log"; echo "== $label: build failed"; status=1; total_fail=$((total_fail + 1)); return
  fi
  echo "== $label: tests"
  local out
  out=$(cd "$dir" && ctest --output-on-failure -j "$jobs" 2>&1); local rc=$?
  echo "$out"
  local line passed failed
  line=$(echo "$out" | grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' | tail -1)
  failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
  total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
  if [ -z "$line" ]; then failed=1; total=1; fi
  # ctest counts a skipped test (exit 77) as not failed; count it apart.
  local skipped
  skipped=$(echo "$out" | grep -cE '^[[:space:]]*[0-9]+ - .* \(Skipped\)$')
  passed=$((total - failed - skipped))
  total_pass=$((total_pass + passed)); total_fail=$((total_fail + failed))
  total_skip=$((total_skip + skipped))
  [ $rc -eq 0 ] || status=1
}

mkdir -p "$root/build" "$root/build-san"
package=-DCT_PACKAGE_TEST=OFF
if [ "$(id -u)" = 0 ] && command -v dpkg >/dev/null; then
  package=-DCT_PACKAGE_TEST=ON
else
  echo "== package: skipped (installing the Debian package needs root and dpkg)"
fi
run_suite "$root/build" "release" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$package"
run_suite "$root/build-san" "asan+ubsan" -DCMAKE_BUILD_TYPE=Debug -DCT_SANITIZE=ON
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
exit $status
