#!/usr/bin/env bash
# Drives `caretide audit verify` on real database files: a clean chain, and
# chains tampered with the sqlite3 shell as an attacker would.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
fill=${CT_AUDIT_FILL:?set CT_AUDIT_FILL to the ct_audit_fill helper}
if ! command -v sqlite3 >/dev/null; then
  echo "sqlite3 shell not installed; skipping"; exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/caretide-audit-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect_exit() { # expect_exit CODE cmd...
  local want=$1; shift
  "$@" >"$out" 2>&1; local got=$?
  if [ "$got" = "$want" ]; then ok; else bad "$* exited $got, wanted $want"; cat "$out"; fi
}
expect_out() { # expect_out TEXT
  if grep -qF -- "$1" "$out"; then ok; else bad "output lacks '$1'"; cat "$out"; fi
}
fresh() { # fresh N: a new database with N events
  rm -f "$tmp"/a.db*
  "$fill" "$tmp/a.db" "$1" || { bad "ct_audit_fill failed"; exit 1; }
}

fresh 5
expect_exit 0 "$bin" audit verify --db "$tmp/a.db"
expect_out "audit chain intact: 5 events, head seq 5"
expect_exit 0 "$bin" audit --db "$tmp/a.db" verify

sqlite3 "$tmp/a.db" "UPDATE event SET payload = '{\"bed\":\"demo-bed-9\",\"i\":2}' WHERE seq = 3"
expect_exit 1 "$bin" audit verify --db "$tmp/a.db"
expect_out "audit chain broken at seq 3:"

fresh 5
sqlite3 "$tmp/a.db" "DELETE FROM event WHERE seq = 2"
expect_exit 1 "$bin" audit verify --db "$tmp/a.db"
expect_out "audit chain broken at seq 2: event 2 is missing"

# Truncation covered up in chain_head: the head file still shows it.
fresh 6
sqlite3 "$tmp/a.db" "DELETE FROM event WHERE seq >= 5;
  UPDATE chain_head SET seq = 4, hash = (SELECT hash FROM event WHERE seq = 4);"
expect_exit 1 "$bin" audit verify --db "$tmp/a.db"
expect_out "audit chain broken at seq 5:"

# An empty database verifies; a missing one is an error and stays missing.
fresh 0
expect_exit 0 "$bin" audit verify --db "$tmp/a.db"
expect_out "audit chain intact: 0 events, head seq 0"
expect_exit 1 "$bin" audit verify --db "$tmp/none.db"
expect_out "none.db"
[ ! -e "$tmp/none.db" ] && ok || bad "verify created the missing database"

# Usage errors.
expect_exit 2 "$bin" audit
expect_exit 2 "$bin" audit frobnicate
expect_out "unknown subcommand 'frobnicate'"
expect_exit 2 "$bin" audit verify extra
expect_exit 2 "$bin" audit verify --db
expect_exit 2 "$bin" audit verify --bogus
expect_exit 0 "$bin" audit verify --help
expect_out "Usage: caretide audit verify"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
