#!/usr/bin/env bash
# The examples in docs/plugins.md are real: the worked example's
# plugin.yaml, init.lua and area override, and the settings-schema
# example, are cut out of the page and must pass `caretide check` (and
# luacheck, for the Lua); a broken override of the example is refused
# with file:line:col.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
doc=$src/docs/plugins.md

# block LANG N: the N-th fenced block of that language in the page.
block() {
  awk -v lang="$1" -v want="$2" '
    $0 == "```" lang { n++; inside = (n == want); next }
    /^```/ { inside = 0; next }
    inside { print }' "$doc"
}

mkdir -p "$tmp/plugins/prefer_local" "$tmp/plugins/schema_example"
block yaml 1 > "$tmp/plugins/prefer_local/plugin.yaml"
block lua 1 > "$tmp/plugins/prefer_local/init.lua"
block yaml 2 > "$tmp/override.yaml"
block yaml 3 > "$tmp/schema.yaml"
for f in plugins/prefer_local/plugin.yaml plugins/prefer_local/init.lua override.yaml schema.yaml; do
  [ -s "$tmp/$f" ] || bad "no example cut out for $f (did the page's blocks move?)"
done
grep -q '^name: prefer_local' "$tmp/plugins/prefer_local/plugin.yaml" || bad "first yaml block is not the example's plugin.yaml"
grep -q '^plugins:' "$tmp/override.yaml" || bad "second yaml block is not the area override"
grep -q '^settings:' "$tmp/schema.yaml" || bad "third yaml block is not the schema example"

# The schema example as a plugin of its own (its settings all defaulted).
{ printf 'name: schema_example\nversion: 1.0.0\napi: 1\ndescription: The settings schema example of docs/plugins.md\npublisher: caretide tests\nfallback: skip\n'
  cat "$tmp/schema.yaml"; } > "$tmp/plugins/schema_example/plugin.yaml"
echo 'return {}' > "$tmp/plugins/schema_example/init.lua"

# area CONFIG-OUT EXTRA-PLUGIN-LINES: the bare demo area with the example's
# override and the schema plugin.
area() {
  sed -e '/^# >>> standard plugins/,/^# <<< standard plugins/d' \
      -e 's|^  path: ./caretide.db|  path: area.db|' "$src/config/demo.yaml"
  echo "plugin_path: [plugins]"
  cat "$1"
  echo "  - name: schema_example"
}
area "$tmp/override.yaml" > "$tmp/area.yaml"
if out=$(cd "$tmp" && "$bin" check --config area.yaml 2>&1); then ok
else bad "the documented examples fail check: $out"; fi

# The example's Lua is clean as the repository's own (a misspelt name
# compiles, and check does not run hooks).
if command -v luacheck >/dev/null; then
  if out=$(luacheck --no-config --no-color --std lua54 --read-globals ct --no-unused-args --codes \
             "$tmp/plugins/prefer_local/init.lua" 2>&1); then ok
  else bad "luacheck on the worked example's init.lua: $out"; fi
else
  echo "note: luacheck not installed; the example's Lua is only compiled"
fi

# A wrong override of the example is refused, naming the line.
sed 's/local_orgs: \[.*\]/local_orgs: 3/' "$tmp/override.yaml" > "$tmp/bad.yaml"
area "$tmp/bad.yaml" > "$tmp/area-bad.yaml"
out=$(cd "$tmp" && "$bin" check --config area-bad.yaml 2>&1) && bad "a number for a list passed check"
echo "$out" | grep -Eq 'area-bad\.yaml:[0-9]+:[0-9]+: .*local_orgs' && ok \
  || bad "the refusal does not name the file, line and setting: $out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
