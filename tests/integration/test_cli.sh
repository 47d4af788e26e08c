#!/usr/bin/env bash
# Drives the caretide binary's command line: dispatch, --help, usage errors.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect_exit() { # expect_exit CODE cmd...
  local want=$1; shift
  "$@" >/tmp/ct-cli.out 2>&1; local got=$?
  if [ "$got" = "$want" ]; then ok; else bad "$* exited $got, wanted $want"; cat /tmp/ct-cli.out; fi
}

expect_exit 2 "$bin"
expect_exit 2 "$bin" frobnicate
expect_exit 0 "$bin" --help
expect_exit 0 "$bin" version
grep -q '^caretide ' /tmp/ct-cli.out && grep -q 'SQLite' /tmp/ct-cli.out && grep -q 'libuv' /tmp/ct-cli.out \
  && grep -q 'Lua' /tmp/ct-cli.out && grep -q 'libyaml' /tmp/ct-cli.out && ok || bad "version lists libraries"
for c in run check repl test plugin audit report version; do
  expect_exit 0 "$bin" "$c" --help
  grep -q "Usage: caretide $c" /tmp/ct-cli.out && ok || bad "$c --help shows usage"
done
expect_exit 2 "$bin" check --no-such-option
grep -q "unknown option '--no-such-option'" /tmp/ct-cli.out && ok || bad "unknown option named"
expect_exit 2 "$bin" check --config
expect_exit 2 "$bin" version extra

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
