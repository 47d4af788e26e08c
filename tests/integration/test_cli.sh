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
# Every library the binary links, each with a version.
for lib in 'Lua 5\.4' 'libuv [0-9]' 'SQLite [0-9]' 'libyaml [0-9]' 'libmicrohttpd [0-9]' \
           'jansson [0-9]' 'libsodium [0-9]' 'libedit [0-9]' 'Nettle [0-9]'; do
  grep -Eq "^  $lib" /tmp/ct-cli.out && ok || bad "version lacks $lib: $(cat /tmp/ct-cli.out)"
done
for c in run check repl test plugin audit report version; do
  expect_exit 0 "$bin" "$c" --help
  grep -q "Usage: caretide $c" /tmp/ct-cli.out && ok || bad "$c --help shows usage"
done
expect_exit 2 "$bin" check --no-such-option
grep -q "unknown option '--no-such-option'" /tmp/ct-cli.out && ok || bad "unknown option named"
expect_exit 2 "$bin" check --config
expect_exit 2 "$bin" version extra

# check: the demo passes; damaged copies fail with file:line:col errors.
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The copies find the standard plugins as the demo does (plugin_path:
# plugins), since check also checks their settings in a damaged area.
ln -s "$src/plugins" "$tmp/plugins"
expect_exit 0 "$bin" check
expect_exit 0 "$bin" check --config "$src/config/demo.yaml"
grep -q 'ok: area .demo-shire.' /tmp/ct-cli.out && ok || bad "check summary line"
expect_exit 0 "$bin" check --config "$src/config/demo.yaml" --json
jq -e '.ok == true and .errors == [] and .area == "demo-shire" and .beds > 0 and .plugins == 3' /tmp/ct-cli.out >/dev/null \
  && ok || bad "check --json: $(cat /tmp/ct-cli.out)"
damage() { # damage NAME SED-SCRIPT
  sed "$2" "$src/config/demo.yaml" > "$tmp/$1.yaml"
}
damage tab '0,/^    name: Demo General Hospital NHS Trust/s//\tname: Demo General Hospital NHS Trust/'
damage unknown 's/^storage:/storrage:/'
damage truncated 's/^pathogens: \[covid, flu, norovirus\]/pathogens: [covid, flu/'
: > "$tmp/empty.yaml"
for name in tab unknown truncated; do
  expect_exit 1 "$bin" check --config "$tmp/$name.yaml"
  grep -Eq "^$tmp/$name.yaml:[0-9]+:[0-9]+: " /tmp/ct-cli.out && ok || { bad "$name: file:line:col error"; cat /tmp/ct-cli.out; }
done
grep -q "did you mean 'storage'" <("$bin" check --config "$tmp/unknown.yaml") && ok || bad "did-you-mean"
expect_exit 1 "$bin" check --config "$tmp/unknown.yaml" --json
jq -e --arg f "$tmp/unknown.yaml" '.ok == false and (.errors | length) == 1 and .errors[0].file == $f and .errors[0].line > 0 and (.errors[0].message | test("did you mean .storage."))' /tmp/ct-cli.out >/dev/null \
  && ok || bad "check --json errors: $(cat /tmp/ct-cli.out)"
expect_exit 1 "$bin" check --config "$tmp/empty.yaml"
grep -q "empty.yaml: file is empty" /tmp/ct-cli.out && ok || bad "empty file message"
expect_exit 1 "$bin" check --config "$tmp/missing.yaml"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
