#!/usr/bin/env bash
# Named users (docs/operations.md "Tokens"): `caretide token add|list|
# revoke|rotate` against a running daemon, which picks each change up
# without a restart. A user's token works and its changes carry the actor
# user:ID@ORG/ROLE in `caretide audit list`; a revoked or rotated-away
# secret is 401; an expired one too (the daemon's clock moved under
# libfaketime); a machine client is marked client:NAME@ORG/ROLE; a display
# made by the CLI sees aggregate figures only; every change is audited
# with the CLI user as actor and the chain verifies; the file holds no
# secret; a config token sharing a stored secret fails `caretide check`;
# migration 9's display links move into the store.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

faketime_lib=
for f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
  [ -f "$f" ] && { faketime_lib=$f; break; }
done
[ -n "$faketime_lib" ] || { echo "FAIL: libfaketime is missing (packaging/install-deps.sh installs faketime)"; exit 1; }

today=$(date -u +%F)
me="cli:$(id -un)"
demo_area "$tmp/area.yaml"
tok() { "$bin" token --config "$tmp/area.yaml" "$@"; }

# A display link made before the token store (migration 9's table) moves
# into it at the first start.
old_secret=old-display-secret-0123456789abcdef
old_hash=$(printf %s "$old_secret" | sha256sum | cut -d' ' -f1)

# The daemon runs under libfaketime with no offset until the expiry test.
echo "+0" > "$tmp/offset"
# Make the database (schema) first, then put an old-style display in it.
start first --config "$tmp/area.yaml" || { finish; exit 1; }
kill -TERM "$pid"; wait "$pid" 2>/dev/null
sqlite3 "$tmp/area.db" "INSERT INTO display (name, sha256, issued_at, issued_by) VALUES ('old-tv', X'$old_hash', 1, 'org:demo-council/hub')" \
  || bad "could not seed a migration 9 display"

start_faked() {
  local name=$1; shift
  LD_PRELOAD=$faketime_lib FAKETIME_TIMESTAMP_FILE=$tmp/offset FAKETIME_NO_CACHE=1 \
  FAKETIME_DONT_FAKE_MONOTONIC=1 \
  ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
    start "$name" "$@"
}
start_faked tokens --config "$tmp/area.yaml" || { finish; exit 1; }

req GET /v1/capacity "$old_secret"
[ "$code" = 200 ] && ok || bad "the moved display link: $code $body"
[ "$(sqlite3 "$tmp/area.db" 'SELECT count(*) FROM display')" = 0 ] && ok \
  || bad "migration 9's display rows are still there"
tok list | grep -q 'display:old-tv' && ok || bad "old-tv not listed: $(tok list)"

# A named user.
out=$(tok add --user jsmith --name "Jane Smith" --org demo-acute --role hospital --json) \
  || bad "token add: $out"
jane=$(echo "$out" | jq -r .secret)
jane_id=$(echo "$out" | jq -r .token.id)
[ ${#jane} = 43 ] && ok || bad "secret '$jane'"
grep -q "$jane" "$tmp/area.db.tokens" && bad "the secret is in the token file" || ok
grep -q "$(printf %s "$jane" | sha256sum | cut -d' ' -f1)" "$tmp/area.db.tokens" && ok \
  || bad "the hash is not in the token file"
out=$(tok add --user jsmith --name "Jane Smith" --org demo-acute --role hospital 2>&1) \
  && bad "a second valid token for jsmith was added" || ok
echo "$out" | grep -q 'already has a valid token' && ok || bad "second add: $out"
out=$(tok add --user x --name X --org nowhere --role hub 2>&1) && bad "unknown org accepted" || ok
echo "$out" | grep -q "organisation 'nowhere'" && ok || bad "unknown org: $out"

works() { req GET /v1/referrals "$1"; [ "$code" = 200 ]; }
check "the user's token works without a restart" wait_for 30 works "$jane"
req POST /v1/referrals "$jane" \
  "{\"nhs_number\":\"$(nhs 1)\",\"ready_date\":\"$today\",\"requested_pathway\":\"P0\",\"age\":70}"
expect 201 '.referral.id > 0'

# A machine client, marked as such.
out=$(tok add --client epr --org demo-acute --role hospital --json) || bad "client add: $out"
epr=$(echo "$out" | jq -r .secret)
check "the client's token works" wait_for 30 works "$epr"
req POST /v1/referrals "$epr" \
  "{\"nhs_number\":\"$(nhs 2)\",\"ready_date\":\"$today\",\"requested_pathway\":\"P0\",\"age\":71}"
expect 201 '.referral.id > 0'

# A display from the CLI: aggregate figures only.
out=$(tok add --display ward-9 --json) || bad "display add: $out"
wall=$(echo "$out" | jq -r .secret)
capok() { req GET /v1/capacity "$wall"; [ "$code" = 200 ]; }
check "the display link reads capacity" wait_for 30 capok
req GET /v1/referrals "$wall"
[ "$code" = 403 ] && ok || bad "display on /v1/referrals: $code"
req GET /v1/displays "$(token_of hub)"
expect 200 '[.displays[].name] | index("ward-9") != null'

# Audited access: each read of a person's data is an access.read event
# naming the reader and the referrals; viewer reads (nothing personal)
# are not; the access report names who read a referral.
req GET '/v1/referrals?limit=5' "$epr"
expect 200 '.referrals | length >= 1'
rid=$(echo "$body" | jq -r '.referrals[0].id')
req GET "/v1/referrals/$rid" "$epr"
expect 200 '.referral.nhs_number != null'
req GET "/v1/referrals/$rid" "$(token_of viewer)"
expect 200 '.referral.nhs_number == null'
req GET "/v1/reports/access?referral=$rid" "$(token_of admin)"
expect 200 "[.reads[] | select(.actor == \"client:epr@demo-acute/hospital\")] | length >= 2"
expect 200 '[.reads[] | select(.actor | startswith("org:demo-council/viewer"))] | length == 0'
expect 200 "[.reads[].route][-2:] == [\"GET /v1/referrals\", \"GET /v1/referrals/{id}\"]"
req GET "/v1/reports/access?referral=$rid" "$(token_of hospital)"
[ "$code" = 403 ] && ok || bad "access report to a hospital: $code"
req GET "/v1/reports/access" "$(token_of admin)"
expect_error 400 missing referral

# A reload is an event with its actor and what changed (a bed added).
sed -i 's|          - range: WH-R17..WH-R20|          - range: WH-R17..WH-R21|' "$tmp/area.yaml"
req POST /v1/admin/reload "$(token_of admin)" '{"reason": "one more bed"}'
expect 200 '.changes.beds_added == 1'

# Rotation: the old secret is refused, the new one works.
out=$(tok rotate "$jane_id" --json) || bad "rotate: $out"
jane2=$(echo "$out" | jq -r .secret)
refused() { req GET /v1/referrals "$1"; [ "$code" = 401 ]; }
check "the rotated-away secret is refused" wait_for 30 refused "$jane"
check "the new secret works" wait_for 30 works "$jane2"

# Revocation.
tok revoke "$jane_id" >/dev/null || bad "revoke"
check "a revoked token is refused" wait_for 30 refused "$jane2"
echo "$body" | jq -e '.error.code == "unauthorized"' >/dev/null && ok || bad "revoked: $body"
out=$(tok revoke "$jane_id" 2>&1) && bad "revoked twice" || ok
tok list | grep -q jsmith && bad "list shows a revoked token without --all" || ok
tok list --all | grep -q 'user:jsmith@demo-acute/hospital.*revoked' && ok || bad "list --all: $(tok list --all)"

# Expiry: a token for an hour, then the daemon's clock two hours on.
out=$(tok add --user short --name "Sam Short" --org demo-council --role hub --expires 1h --json) \
  || bad "add short: $out"
short=$(echo "$out" | jq -r .secret)
check "the short token works" wait_for 30 works "$short"
echo "+7200" > "$tmp/offset"
check "an expired token is refused" wait_for 30 refused "$short"
echo "$body" | jq -e '.error.message | test("expired")' >/dev/null && ok || bad "expired: $body"
echo "+0" > "$tmp/offset"

# The audit: actors and token events, by content and by the chain.
audited() {
  "$bin" audit list --db "$tmp/area.db" > "$tmp/audit.txt" 2>&1 &&
    grep -q "token.revoked" "$tmp/audit.txt"
}
check "token changes are audited" wait_for 30 audited
grep -E "^[0-9]+ .* user:jsmith@demo-acute/hospital referral.created " "$tmp/audit.txt" >/dev/null \
  && ok || bad "no referral.created by user:jsmith: $(grep referral.created "$tmp/audit.txt")"
grep -E " client:epr@demo-acute/hospital referral.created " "$tmp/audit.txt" >/dev/null \
  && ok || bad "no referral.created by client:epr"
for k in token.added token.rotated token.revoked display.issued; do
  grep -E " $me $k " "$tmp/audit.txt" >/dev/null && ok || bad "no $k by $me: $(grep token "$tmp/audit.txt")"
done
grep -E " org:demo-council/admin config.reloaded .*\"beds_added\":\[\"WH-R21\"\]" "$tmp/audit.txt" >/dev/null \
  && ok || bad "no config.reloaded naming WH-R21: $(grep config.reloaded "$tmp/audit.txt")"
grep -E " host config.loaded .*\"plugins\":\[" "$tmp/audit.txt" >/dev/null \
  && ok || bad "no config.loaded at start: $(grep config. "$tmp/audit.txt")"
grep -E " client:epr@demo-acute/hospital access.read .*\"referrals\":\[$rid\]" "$tmp/audit.txt" >/dev/null \
  && ok || bad "no access.read by client:epr for $rid: $(grep access.read "$tmp/audit.txt")"
"$bin" report access --referral "$rid" --db "$tmp/area.db" | grep -q 'client:epr@demo-acute/hospital' \
  && ok || bad "report access: $("$bin" report access --referral "$rid" --db "$tmp/area.db" 2>&1)"
[ "$(grep -c ' token.added ' "$tmp/audit.txt")" = 3 ] && ok || bad "token.added not once each: $(grep token.added "$tmp/audit.txt")"
grep -q "$jane2" "$tmp/audit.txt" && bad "a secret in the audit" || ok
"$bin" audit list --db "$tmp/area.db" --kind token. --json | jq -e -s 'all(.kind | startswith("token."))' >/dev/null \
  && ok || bad "audit list --kind"
kill -TERM "$pid"; wait "$pid" 2>/dev/null
out=$("$bin" audit verify --db "$tmp/area.db" 2>&1) && ok || bad "audit verify: $out"

# A restart audits nothing twice; a change made while it was down is
# audited at start.
n_before=$("$bin" audit list --db "$tmp/area.db" --kind token. | wc -l)
tok revoke "$(tok list --json | jq -r '.tokens[] | select(.name == "epr") | .id')" >/dev/null || bad "revoke epr"
start again --config "$tmp/area.yaml" || { finish; exit 1; }
req GET /v1/referrals "$epr"
[ "$code" = 401 ] && ok || bad "revoked while down: $code"
kill -TERM "$pid"; wait "$pid" 2>/dev/null
n_after=$("$bin" audit list --db "$tmp/area.db" --kind token. | wc -l)
[ "$n_after" = $((n_before + 1)) ] && ok || bad "restart audit: $n_before then $n_after"

# The token store goes with a backup (found on main: a restore on a new
# machine locked every named user out). A restore keeps the current store
# (a token revoked since the backup stays revoked) and brings the
# backup's back only where there is none.
"$bin" backup --db "$tmp/area.db" "$tmp/b.db" > "$tmp/backup.out" 2>&1 || bad "backup: $(cat "$tmp/backup.out")"
cmp -s "$tmp/area.db.tokens" "$tmp/b.db.tokens" && ok || bad "the token store is not beside the backup"
[ "$(stat -c %a "$tmp/b.db.tokens")" = 600 ] && ok || bad "the copied token store is not 0600"
grep -q "^tokens $tmp/b.db.tokens" "$tmp/backup.out" && ok || bad "backup does not say so: $(cat "$tmp/backup.out")"
tok revoke "$(tok list --json | jq -r '.tokens[0].id')" >/dev/null && ok || bad "revoke after the backup"
cp "$tmp/area.db.tokens" "$tmp/revoked.tokens"
"$bin" restore --db "$tmp/area.db" "$tmp/b.db" > "$tmp/restore.out" 2>&1 || bad "restore: $(cat "$tmp/restore.out")"
cmp -s "$tmp/area.db.tokens" "$tmp/revoked.tokens" && ok || bad "a restore replaced the current token store"
rm "$tmp/area.db.tokens"
"$bin" restore --db "$tmp/area.db" "$tmp/b.db" > "$tmp/restore.out" 2>&1 || bad "restore: $(cat "$tmp/restore.out")"
cmp -s "$tmp/area.db.tokens" "$tmp/b.db.tokens" && ok || bad "the backup's token store was not installed where there was none"
grep -q "installed the backup's token store" "$tmp/restore.out" && ok || bad "restore does not say so: $(cat "$tmp/restore.out")"

# A config token with a stored secret is refused at check.
sed -e "s|sha256: db2c460a3dd812a27b2a7f60d1320322c27ac3b28b3b90b11c05ecc7b4bcc856|sha256: $(printf %s "$short" | sha256sum | cut -d' ' -f1)|" \
  "$tmp/area.yaml" > "$tmp/clash.yaml"
if grep -q "$(printf %s "$short" | sha256sum | cut -d' ' -f1)" "$tmp/clash.yaml"; then
  out=$("$bin" check --config "$tmp/clash.yaml" 2>&1) && bad "check passed a shared secret" || ok
  echo "$out" | grep -q 'same secret as token' && ok || bad "clash: $out"
else
  bad "could not make the clash config (demo viewer token line not found)"
fi

finish
