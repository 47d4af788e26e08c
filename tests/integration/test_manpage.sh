#!/usr/bin/env bash
# The man page (packaging/caretide.1) names every command, plugin
# subcommand and option that the binary's --help texts list, and renders
# without groff warnings, so it cannot silently drift from the code.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
page=$src/packaging/caretide.1
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# The page as plain text: roff's \- is a hyphen, font escapes go.
text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$page")

check_help() { # check_help WHAT HELP-TEXT
  local opt
  for opt in $(printf '%s\n' "$2" | grep -oE '(^|[ ,[])--?[a-z][a-z-]*' | sed 's/^[ ,[]//' | sort -u); do
    if printf '%s\n' "$text" | grep -qF -- "$opt"; then ok; else bad "$1: option $opt not in the man page"; fi
  done
}

commands=$("$bin" --help | sed -n 's/^  \([a-z]\+\) .*/\1/p')
[ -n "$commands" ] && ok || bad "no commands in caretide --help"
for c in $commands; do
  printf '%s\n' "$text" | grep -qE "^\.BR? $c( |$)" && ok || bad "command $c has no entry"
  check_help "$c" "$("$bin" "$c" --help)"
done
for s in keygen pack sign verify install list diff selftest; do
  printf '%s\n' "$text" | grep -qE "plugin $s" && ok || bad "plugin $s has no entry"
  check_help "plugin $s" "$("$bin" plugin "$s" --help)"
done
# The other way round: every option a command accepts (its getopt table in
# host/cmd_*.c) is in its --help and in the man page.
for f in "$src"/host/cmd_*.c; do
  # The commands the file defines (cmd_backup.c: backup, restore, standby).
  cmds=$(sed -n 's/^int ct_cmd_\([a-z]*\)(.*/\1/p' "$f")
  c=$(basename "$f" .c); c=${c#cmd_}
  c=${c%%_*} # cmd_plugin_bundle.c is part of plugin
  [ "$c" = version ] && continue
  if [ "$c" = plugin ]; then
    help=$(for s in keygen pack sign verify install list diff selftest; do "$bin" plugin "$s" --help; done)
  else
    help=$(for k in $cmds; do "$bin" "$k" --help; done)
  fi
  for opt in $(grep -oE '\{"[a-z][a-z-]*", *(no|required|optional)_argument' "$f" | sed -E 's/^\{"([a-z-]+)".*/\1/' | sort -u); do
    printf '%s\n' "$help" | grep -qF -- "--$opt" && ok || bad "$c accepts --$opt but its --help does not say so"
    printf '%s\n' "$text" | grep -qF -- "--$opt" && ok || bad "$c accepts --$opt but the man page does not say so"
  done
done
if command -v groff >/dev/null; then
  warnings=$(LC_ALL=C.UTF-8 groff -man -ww -z "$page" 2>&1)
  [ -z "$warnings" ] && ok || bad "groff warnings: $warnings"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
