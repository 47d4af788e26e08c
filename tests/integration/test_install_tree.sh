#!/usr/bin/env bash
# What the package installs, without root: `cmake --install` into a scratch
# DESTDIR, then every doc of docs/ is shipped, the standard plugins are
# signed by the package key that the installed config trusts, and that
# config lists the standard plugins commented out, ready to turn on: with
# the block uncommented and require_signed: true it checks as it is.
# Usage: test_install_tree.sh BUILD_DIR   (CTest: install_tree)
set -u
build=${1:?usage: test_install_tree.sh BUILD_DIR}
src=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
root=$tmp/root

DESTDIR=$root cmake --install "$build" --prefix /usr >"$tmp/install.out" 2>&1 \
  && ok || { bad "cmake --install"; cat "$tmp/install.out"; echo "$pass passed, $fail failed"; exit 1; }
bin=$root/usr/bin/caretide

# Every page of docs/, and the README.
for d in "$src"/docs/*.md "$src/README.md"; do
  [ -f "$root/usr/share/doc/caretide/$(basename "$d")" ] && ok || bad "$(basename "$d") not shipped"
done

# The standard plugins, each signed by the package key; no secret key shipped.
pub=$root/usr/share/caretide/keys/package.pub
[ -f "$pub" ] && ok || bad "package.pub not shipped"
[ -z "$(find "$root" -name '*.key')" ] && ok || bad "a secret key is shipped: $(find "$root" -name '*.key')"
for p in discharge_hub stepdown winter_surge; do
  "$bin" plugin verify "$root/usr/share/caretide/plugins/$p" --key "$pub" >"$tmp/v.out" 2>&1 \
    && grep -q "signed by key .* (package)" "$tmp/v.out" && ok || bad "$p is not signed by the package key: $(cat "$tmp/v.out")"
done

# The installed config: the standard plugins commented out, with the pointer.
cfg=$root/etc/caretide/caretide.yaml
grep -q '^plugins: \[\]$' "$cfg" && ok || bad "installed config turns no plugin on"
for p in stepdown discharge_hub winter_surge; do
  grep -q "^#   - name: $p$" "$cfg" && ok || bad "installed config does not list $p commented out"
done
grep -q 'docs/config.md' "$cfg" && ok || bad "installed config does not point to docs/config.md"
# Uncommented, with signatures required and the paths inside the scratch
# root: it checks, without an exception per plugin.
sed -e '/^plugins: \[\]$/d' -e '/^# plugins:$/,/^$/s/^# //' \
    -e 's/require_signed: false/require_signed: true/' \
    -e "s|/usr/share/caretide|$root/usr/share/caretide|g" \
    -e "s|/var/lib/caretide/plugins|$tmp/state-plugins|" \
    -e "s|/var/lib/caretide/caretide.db|$tmp/area.db|" "$cfg" > "$tmp/on.yaml"
grep -q 'require_signed: true' "$tmp/on.yaml" && grep -q '^  - name: winter_surge' "$tmp/on.yaml" \
  && ok || bad "could not turn the plugins on: $(grep -n 'plugins\|name:' "$tmp/on.yaml" | tail -8)"
"$bin" check --config "$tmp/on.yaml" >"$tmp/check.out" 2>&1 && grep -q '3 plugins' "$tmp/check.out" \
  && ok || bad "the installed config with the standard plugins on does not check: $(cat "$tmp/check.out")"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
