#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan and UBSan on) and runs each
# for a few seconds over its saved corpus in tests/fuzz/corpus/, the way CI
# runs them (ctest -R fuzz). Skipped (77) with a message when clang or its
# fuzzer runtime (Debian: clang, libclang-rt-14-dev) is missing.
# Usage: run.sh SOURCE_DIR BUILD_DIR [SECONDS]
set -euo pipefail
src=$1 build=$2 secs=${3:-3}
if ! command -v clang >/dev/null; then
  echo "fuzz: skipped: clang is not installed (packaging/install-deps.sh)"
  exit 77
fi
out=$build/fuzz
mkdir -p "$out"
probe=$out/probe.c
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' > "$probe"
if ! clang -fsanitize=fuzzer "$probe" -o "$out/probe" 2>/dev/null; then
  echo "fuzz: skipped: clang has no libFuzzer runtime (libclang-rt-14-dev)"
  exit 77
fi
# The units the targets reach, compiled with the fuzzer's instrumentation.
units=(sandbox sandbox_lib sandbox_load sandbox_json sandbox_string
       sandbox_table sandbox_worker error log util bundle bundle_fs tar sha256 trust signkey
       manifest manifest_form config_read yaml_tree diag json_canon clock)
files=()
for u in "${units[@]}"; do files+=("$src/host/$u.c"); done
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
for t in json bundle; do
  clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$src/host" -I"$build" $(pkg-config --cflags lua5.4) \
    "$src/tests/fuzz/fuzz_$t.c" "${files[@]}" "$build/embedded.c" \
    $(pkg-config --libs lua5.4 jansson libsodium nettle yaml-0.1 libuv) -lm \
    -o "$out/fuzz_$t"
  # New inputs go to a scratch directory; the saved corpus is only read.
  rm -rf "$out/new_$t" && mkdir -p "$out/new_$t"
  if "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$out/$t-" "$out/new_$t" "$src/tests/fuzz/corpus/$t" \
       > "$out/$t.log" 2>&1; then
    echo "fuzz_$t: ok ($(grep -o 'Done [0-9]* runs' "$out/$t.log" || echo '?'))"
  else
    echo "fuzz_$t: FAILED"; tail -40 "$out/$t.log"; status=1
  fi
done
exit $status
