#!/usr/bin/env bash
# Drives `caretide plugin` and `caretide check` through the life of a
# signed bundle: keygen, pack, sign, verify, install, list, diff, every
# refusal at check, key rotation, and an install that must not replace
# what runs.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
expect_exit() { # expect_exit CODE cmd...
  local want=$1; shift
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" = "$want" ]; then ok; else bad "$* exited $got, wanted $want"; cat "$out"; fi
}
expect_out() { # expect_out REGEX WHAT
  if grep -Eq -- "$1" "$out"; then ok; else bad "$2: no /$1/ in:"; cat "$out"; fi
}
cd "$tmp" || exit 1

# --- usage -------------------------------------------------------------
expect_exit 2 "$bin" plugin
expect_exit 2 "$bin" plugin frobnicate
expect_out "unknown subcommand 'frobnicate'" "unknown subcommand named"
expect_exit 0 "$bin" plugin --help
for s in keygen pack sign verify install list diff selftest; do
  expect_exit 0 "$bin" plugin "$s" --help
  expect_out "^Usage: caretide plugin $s" "$s --help"
done
expect_exit 2 "$bin" plugin pack
expect_exit 2 "$bin" plugin pack a b
expect_exit 2 "$bin" plugin keygen
expect_exit 2 "$bin" plugin keygen k --expires tomorrow
expect_exit 2 "$bin" plugin keygen k --expires 2020-01-01
expect_out "is in the past" "keygen refuses a key that has already expired"
expect_exit 2 "$bin" plugin keygen k --expires 2027-02-30
expect_out "2027-02-30 does not exist: February 2027 has 28 days" "keygen says the date does not exist"
[ ! -e k.key ] && [ ! -e k.pub ] && ok || bad "a refused keygen writes no key"
expect_exit 0 "$bin" plugin keygen today --expires "$(date -u +%F)"
expect_exit 2 "$bin" plugin sign x.ctb
expect_out "--key NAME.key is required" "sign needs a key"
expect_exit 2 "$bin" plugin verify x.ctb
expect_exit 2 "$bin" plugin install x.ctb
expect_exit 2 "$bin" plugin list --bogus
expect_exit 2 "$bin" plugin diff extra

# --- keys ---------------------------------------------------------------
mkdir keys
expect_exit 0 "$bin" plugin keygen keys/central-2025 --expires 2099-12-31
expect_out "^key [0-9a-f]{16} \(central-2025\)" "keygen prints the key id"
[ "$(stat -c %a keys/central-2025.key)" = 600 ] && ok || bad "secret key mode"
grep -q '^expires: 2099-12-31$' keys/central-2025.pub && ok || bad "expiry in .pub"
expect_exit 1 "$bin" plugin keygen keys/central-2025
expect_out "never overwritten without --force" "keygen keeps keys"
expect_exit 0 "$bin" plugin keygen keys/central-2026
expect_exit 0 "$bin" plugin keygen keys/stranger
id25=$(sed -n 's/^id: //p' keys/central-2025.pub)
id26=$(sed -n 's/^id: //p' keys/central-2026.pub)

# --- pack, sign, verify ---------------------------------------------------
mkdir src && cp -r "$src/tests/plugins/greeter" src/greeter
echo "scratch" > src/greeter/.notes.swp
expect_exit 0 "$bin" plugin pack src/greeter
expect_out "packed greeter 0.1.0 \(3 files\) into greeter-0.1.0.ctb" "pack summary"
if command -v tar >/dev/null; then
  tar tf greeter-0.1.0.ctb > "$out"
  expect_out "^MANIFEST.json$" "bundle is a tar with MANIFEST.json"
  expect_out "^lib/util.lua$" "bundle holds the plugin's files"
  grep -q swp "$out" && bad "dot files packed" || ok
fi
expect_exit 1 "$bin" plugin pack "$src/tests/plugins/broken"
expect_out "init.lua:[0-9]+:" "pack refuses code that does not compile"
expect_exit 1 "$bin" plugin verify greeter-0.1.0.ctb --key keys/central-2025.pub
expect_out "refused \(unsigned\): no MANIFEST.sig, and this plugin must be signed" "unsigned bundle fails verify"
expect_exit 0 "$bin" plugin sign greeter-0.1.0.ctb --key keys/central-2025.key
expect_out "signed greeter 0.1.0 with key $id25 \(central-2025\)" "sign summary"
expect_exit 0 "$bin" plugin verify greeter-0.1.0.ctb --key keys/central-2025.pub
expect_out "ok: greeter 0.1.0 by caretide tests, 3 files" "verify ok"
expect_out "signed by key $id25 \(central-2025\), valid through 2099-12-31" "verify names the key"
expect_exit 1 "$bin" plugin verify greeter-0.1.0.ctb --key keys/stranger.pub
expect_out "refused \(unknown_key\): signed with key $id25" "unknown key"
chmod 644 keys/stranger.key
expect_exit 1 "$bin" plugin sign greeter-0.1.0.ctb --key keys/stranger.key
expect_out "too open" "sign refuses a readable secret key"

# --- an area that requires signatures -------------------------------------
area() { # area FILE TRUST-KEYS-YAML [SETTINGS-YAML]
  sed -e '/^# >>> standard plugins/,/^# <<< standard plugins/c\plugins: []' "$src/config/demo.yaml" |
    sed "s|^plugins: \[\]|plugin_path: [installed]\ntrust:\n  require_signed: true\n  keys:\n$2\nplugins:\n  - name: greeter\n${3:-}|" > "$1"
}
area both.yaml "    - file: keys/central-2025.pub\n    - file: keys/central-2026.pub" \
  "    settings:\n      limit: 7\n      greeting: hi"
area new-only.yaml "    - file: keys/central-2026.pub"
area expired.yaml "    - {id: $id25, public_key: \"$(sed -n 's/^public_key: //p' keys/central-2025.pub)\", expires: 2001-01-01}"

expect_exit 1 "$bin" check --config both.yaml
expect_out "plugin 'greeter' not found" "nothing installed yet"
expect_exit 0 "$bin" plugin install greeter-0.1.0.ctb --config both.yaml
expect_out "installed greeter 0.1.0 into installed/greeter" "install summary"
[ -f installed/greeter/MANIFEST.json ] && [ -f installed/greeter/MANIFEST.sig ] && ok || bad "installed dir keeps the manifests"
expect_exit 0 "$bin" check --config both.yaml
expect_exit 0 "$bin" plugin verify installed/greeter --config both.yaml
expect_exit 0 "$bin" plugin list --config both.yaml
expect_out "^greeter +0.1.0 +caretide tests +$id25 +ok +2 differ +installed/greeter" "list row"
# Columns stay aligned whatever a publisher's name.
cp -r "$src/tests/plugins/greeter" installed/longpub
sed -i -e 's/^name: .*/name: longpub/' -e 's/^publisher: .*/publisher: The Very Long Named Regional Commissioning Support Unit/' installed/longpub/plugin.yaml
expect_exit 0 "$bin" plugin list --config both.yaml
awk 'NF == 0 { exit } NR == 1 { at = index($0, "DIR"); next } { if (substr($0, at, 10) != "installed/") bad = 1 } END { exit bad }' "$out" \
  && ok || bad "list columns out of line: $(cat "$out")"
expect_out "^longpub: refused \(unsigned\): " "list notes a refused plugin once"
rm -r installed/longpub
expect_exit 0 "$bin" plugin list --config both.yaml --json
jq -e --arg k "$id25" '.plugins[] | select(.name == "greeter") | .version == "0.1.0" and .key == $k and .status == "ok" and .settings == "2 differ" and .dir == "installed/greeter"' "$out" >/dev/null \
  && ok || bad "list --json: $(cat "$out")"
expect_exit 0 "$bin" plugin diff --config both.yaml --json
jq -e '.differ == 2 and (.plugins[0].settings | map({(.name): .value}) | add) == {limit: 7, greeting: "hi"} and (.plugins[0].settings[] | select(.name == "limit") | .at | test("^both.yaml:[0-9]+:14$"))' "$out" >/dev/null \
  && ok || bad "diff --json: $(cat "$out")"
expect_exit 0 "$bin" plugin diff --config both.yaml
expect_out "^  limit: 3 -> 7   \(both.yaml:[0-9]+:14\)" "diff names the setting and where"
expect_out '^  greeting: "hello" -> "hi"' "diff shows string values"
expect_out "1 plugins, 2 settings differ" "diff summary"

# Expired key: the config's expiry counts, against the real clock.
expect_exit 1 "$bin" check --config expired.yaml
expect_out "^expired.yaml:[0-9]+:5: plugin 'greeter' refused \(expired_key\)" "expired key at check"

# Key rotation: with only the new key trusted the old signature is refused,
# until the plugin is re-signed with the new key.
expect_exit 1 "$bin" check --config new-only.yaml
expect_out "refused \(unknown_key\): signed with key $id25" "withdrawn key at check"
sed -i 's/^version: 0.1.0/version: 0.2.0/' src/greeter/plugin.yaml
expect_exit 0 "$bin" plugin pack src/greeter -o greeter-0.2.0.ctb
expect_exit 0 "$bin" plugin sign greeter-0.2.0.ctb --key keys/central-2026.key
expect_exit 0 "$bin" plugin install greeter-0.2.0.ctb --config new-only.yaml
expect_out "installed greeter 0.2.0 into installed/greeter \(replacing 0.1.0\)" "upgrade"
expect_exit 0 "$bin" check --config new-only.yaml
expect_exit 0 "$bin" check --config both.yaml

# An install that fails verification leaves the running version alone.
expect_exit 1 "$bin" plugin install greeter-0.1.0.ctb --config new-only.yaml
expect_out "refused \(unknown_key\)" "old-key bundle refused at install"
grep -q '^version: 0.2.0' installed/greeter/plugin.yaml && ok || bad "0.2.0 still installed"
expect_exit 0 "$bin" check --config new-only.yaml
ls -A installed > "$out"
[ "$(cat "$out")" = greeter ] && ok || { bad "leftovers beside the plugin"; cat "$out"; }

# Found on main: 0.1.0 over 0.1.1, both signed by a trusted key, was
# installed without a word (a rollback to a known-bad release).
expect_exit 0 "$bin" plugin sign greeter-0.1.0.ctb --key keys/central-2026.key
expect_exit 1 "$bin" plugin install greeter-0.1.0.ctb --config new-only.yaml
expect_out "refused \(downgrade\): greeter 0.1.0 is older than the installed 0.2.0; give --allow-downgrade" "downgrade refused"
grep -q '^version: 0.2.0' installed/greeter/plugin.yaml && ok || bad "0.2.0 still installed after a refused downgrade"
expect_exit 0 "$bin" plugin install greeter-0.1.0.ctb --config new-only.yaml --allow-downgrade
expect_out "installed greeter 0.1.0 into installed/greeter \(replacing 0.2.0\)" "downgrade on request"
[ "$(cat installed/.greeter.allow-downgrade 2>/dev/null)" = "0.2.0 0.1.0" ] && ok || bad "no allowance for the daemon's reload after --allow-downgrade"
expect_out "records the downgrade in the audit log" "the allowance is announced"
expect_exit 0 "$bin" plugin install greeter-0.2.0.ctb --config new-only.yaml
[ ! -e installed/.greeter.allow-downgrade ] && ok || bad "an upgrade did not withdraw the allowance"

# Found on main: a bundle whose own tests fail was installed over the good
# one and passed check; the next restart failed. install runs its tests
# before the swap, and check runs them (and setup) as run would.
mkdir -p src/greeter/test
cat > src/greeter/test/greeting_test.lua <<'LUA'
describe("greeter", function()
  it("greets in French", function()
    expect("hello").to_be("bonjour")
  end)
end)
LUA
sed -i 's/^version: 0.2.0/version: 0.3.0/' src/greeter/plugin.yaml
expect_exit 0 "$bin" plugin pack src/greeter -o greeter-0.3.0.ctb
expect_exit 0 "$bin" plugin sign greeter-0.3.0.ctb --key keys/central-2026.key
expect_exit 1 "$bin" plugin install greeter-0.3.0.ctb --config new-only.yaml
expect_out "refused \(tests_failed\): plugin 'greeter' 0.3.0 not activated: its own tests failed" "failing bundle refused at install"
grep -q '^version: 0.2.0' installed/greeter/plugin.yaml && ok || bad "0.2.0 still installed after failing tests"
ls -A installed > "$out"
[ "$(cat "$out")" = greeter ] && ok || { bad "leftovers after a refused install"; cat "$out"; }
if command -v tar >/dev/null; then
  # Put on disk by other means, check refuses it as run would.
  mkdir bad030 && tar -xf greeter-0.3.0.ctb -C bad030
  mv installed/greeter good020 && mv bad030 installed/greeter
  expect_exit 1 "$bin" check --config new-only.yaml
  expect_out "plugin 'greeter' 0.3.0 not activated: its own tests failed" "check runs the bundle's tests"
  rm -rf installed/greeter && mv good020 installed/greeter
fi
rm -rf src/greeter/test
sed -i 's/^version: 0.3.0/version: 0.2.0/' src/greeter/plugin.yaml
expect_exit 0 "$bin" check --config new-only.yaml

# Rotation as docs/bundles.md tells it: the publisher re-signs the released
# bundle with its new key; the area installs it, never holding a secret key.
expect_exit 0 "$bin" plugin sign greeter-0.1.0.ctb --key keys/central-2026.key -o greeter-0.1.0-2026.ctb
mkdir area-side && cp greeter-0.1.0-2026.ctb new-only.yaml area-side/ && cp keys/central-2026.pub area-side/
sed -i 's|keys/central-2026.pub|central-2026.pub|' area-side/new-only.yaml
mkdir area-side/installed
(cd area-side && "$bin" plugin install greeter-0.1.0-2026.ctb --config new-only.yaml >/dev/null && "$bin" check --config new-only.yaml >/dev/null) \
  && ok || bad "a bundle re-signed by the publisher installs and checks at an area without any secret key"
[ -z "$(find area-side -name '*.key')" ] && ok || bad "the area side holds a secret key"

# Unsigned where signatures are required.
expect_exit 0 "$bin" plugin pack src/greeter -o unsigned.ctb
expect_exit 1 "$bin" plugin install unsigned.ctb --config both.yaml
expect_out "refused \(unsigned\)" "unsigned install refused"

# Tampered after installation: check refuses and names the file.
echo "-- changed" >> installed/greeter/lib/util.lua
expect_exit 1 "$bin" check --config both.yaml
expect_out "both.yaml:[0-9]+:5: plugin 'greeter' refused \(tampered\): lib/util.lua: content differs" "tampered at check"
expect_exit 1 "$bin" plugin verify installed/greeter --config both.yaml
expect_exit 0 "$bin" plugin list --config both.yaml
expect_out "refused: tampered" "list shows the refusal"
expect_exit 0 "$bin" plugin install greeter-0.2.0.ctb --config both.yaml
expect_exit 0 "$bin" check --config both.yaml
echo "os.exit()" > installed/greeter/extra.lua
expect_exit 1 "$bin" check --config both.yaml
expect_out "extra.lua: not in MANIFEST.json" "added file at check"
rm installed/greeter/extra.lua

# Wrong API: the manifest edited and re-signed by a trusted key.
cp -r installed/greeter wrongapi
sed -i 's/^  "api": 1,$/  "api": 2,/' wrongapi/MANIFEST.json
expect_exit 0 "$bin" plugin sign wrongapi --key keys/central-2026.key
expect_exit 1 "$bin" plugin verify wrongapi --key keys/central-2026.pub
expect_out "refused \(wrong_api\): built for plugin API 2" "wrong api"
rm -rf installed/greeter && mv wrongapi installed/greeter
expect_exit 1 "$bin" check --config both.yaml
expect_out "refused \(wrong_api\)" "wrong api at check"

# A crafted archive that reaches outside the plugin directory.
if command -v tar >/dev/null; then
  mkdir -p craft/in && echo '{}' > craft/in/MANIFEST.json && echo x > craft/escape
  (cd craft/in && tar --format=ustar -cPf ../../evil.ctb MANIFEST.json ../escape)
  expect_exit 1 "$bin" plugin install evil.ctb --dir elsewhere
  expect_out "refused \(unsafe\).*'\.\./escape'" "path traversal refused"
  [ ! -e elsewhere/escape ] && [ ! -e escape ] && ok || bad "traversal wrote a file"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
