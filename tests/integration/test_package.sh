#!/usr/bin/env bash
# Builds the Debian package with CPack, installs it with dpkg, checks that
# every file is where the package promises and that `caretide check` passes
# with the installed paths (also as the service user), installs a plugin
# bundle into the state directory, then removes and purges the package and
# checks what each leaves behind. Installs system-wide: root only, and only
# on a machine without caretide installed (exit 77, a skip, otherwise).
# Usage: test_package.sh BUILD_DIR
set -u
build=${1:?usage: test_package.sh BUILD_DIR}
src=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # check WHAT cmd...
  local what=$1; shift
  if "$@" >/tmp/ct-pkg.out 2>&1; then ok; else bad "$what"; cat /tmp/ct-pkg.out; fi
}

if [ "$(id -u)" != 0 ] || ! command -v dpkg >/dev/null; then
  echo "skip: the package test installs system-wide and needs root and dpkg"
  exit 77
fi
if dpkg-query -W -f='${Status}' caretide 2>/dev/null | grep -q installed; then
  echo "skip: caretide is already installed here; not touching it"
  exit 77
fi

cd "$build" || exit 1
rm -f caretide_*.deb
check "cpack builds the package" cpack -G DEB
deb=$(ls caretide_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] && ok || { bad "no .deb produced"; echo "$pass passed, $fail failed"; exit 1; }
trap 'dpkg -P caretide >/dev/null 2>&1' EXIT

check "dpkg-deb lists the control fields" dpkg-deb -f "$deb" Package Version Depends
grep -q '^Depends: .*libsodium' /tmp/ct-pkg.out && ok || bad "Depends computed by dpkg-shlibdeps"
# dpkg does not wait for its lock: another install on the machine (apt,
# unattended-upgrades) would fail this test. Retry while the lock is held,
# for up to ten minutes.
dpkg_wait() { # dpkg_wait ARGS...: dpkg ARGS, waiting out another's lock
  local i
  for ((i = 0; i < 600; i++)); do
    dpkg "$@" >/tmp/ct-pkg.out 2>&1 && return 0
    grep -Eq 'lock|locked' /tmp/ct-pkg.out || return 1
    [ "$i" = 0 ] && echo "dpkg is locked by another process; waiting"
    sleep 1
  done
  return 1
}
# Prove the wait: hold dpkg's frontend lock for a few seconds while
# installing (python3's fcntl locks are the ones dpkg takes).
if command -v python3 >/dev/null; then
  python3 -c 'import fcntl, time, sys
f = open("/var/lib/dpkg/lock-frontend", "w"); fcntl.lockf(f, fcntl.LOCK_EX)
print("held", flush=True); time.sleep(4)' >/tmp/ct-pkg.lock 2>&1 &
  holder=$!
  for ((i = 0; i < 50; i++)); do grep -q held /tmp/ct-pkg.lock && break; sleep 0.1; done
fi
if dpkg_wait -i "$deb"; then ok; else bad "dpkg -i"; cat /tmp/ct-pkg.out; fi
[ -n "${holder:-}" ] && wait "$holder"

docs=()
for d in "$src"/docs/*.md; do docs+=("/usr/share/doc/caretide/$(basename "$d")"); done
for f in /usr/bin/caretide /usr/share/man/man1/caretide.1.gz \
         /lib/systemd/system/caretide.service /etc/caretide/caretide.yaml \
         /usr/share/caretide/keys/package.pub \
         /usr/share/doc/caretide/README.md "${docs[@]}"; do
  [ -f "$f" ] && ok || bad "$f missing"
done
[ -x /usr/bin/caretide ] && ok || bad "/usr/bin/caretide not executable"
[ -d /usr/share/caretide/plugins ] && ok || bad "standard plugin directory"
dpkg-query -W -f='${Conffiles}\n' caretide | grep -q '/etc/caretide/caretide.yaml' \
  && ok || bad "caretide.yaml is not a conffile"

# The service user and its state directory.
check "system user" getent passwd caretide
uid=$(id -u caretide 2>/dev/null || echo 99999)
[ "$uid" -lt 1000 ] && ok || bad "caretide is not a system user (uid $uid)"
[ "$(stat -c %U:%a /var/lib/caretide 2>/dev/null)" = caretide:750 ] && ok || bad "/var/lib/caretide owner and mode"
[ "$(stat -c %G:%a /etc/caretide/caretide.yaml)" = caretide:640 ] && ok || bad "config readable by the service only"

# The unit's hardening, as written.
unit=/lib/systemd/system/caretide.service
for want in '^User=caretide$' '^NoNewPrivileges=yes$' '^ProtectSystem=strict$' \
            '^ReadWritePaths=/var/lib/caretide$' '^StateDirectory=caretide$' \
            '^ExecStart=/usr/bin/caretide run --config /etc/caretide/caretide.yaml$'; do
  grep -Eq "$want" "$unit" && ok || bad "unit lacks $want"
done
if command -v systemd-analyze >/dev/null; then
  # Units are checked offline; complaints about this container's own
  # missing services are not ours.
  systemd-analyze verify "$unit" >/tmp/ct-pkg.out 2>&1
  if grep -i 'caretide.service' /tmp/ct-pkg.out | grep -v 'man caretide' | grep -q .; then
    bad "systemd-analyze verify"; cat /tmp/ct-pkg.out
  else ok; fi
fi
if command -v man >/dev/null; then
  check "man page renders" man -l /usr/share/man/man1/caretide.1.gz
fi

# The installed binary checks the installed config, as root and as the
# user the service runs as.
check "caretide check with the installed paths" \
  /usr/bin/caretide check --config /etc/caretide/caretide.yaml
grep -q "ok: area" /tmp/ct-pkg.out && ok || bad "check summary"
if command -v runuser >/dev/null; then
  check "caretide check as the service user" \
    runuser -u caretide -- /usr/bin/caretide check --config /etc/caretide/caretide.yaml
fi

# A bundle goes into the state directory, the first plugin_path entry.
work=$(mktemp -d)
check "pack a plugin" /usr/bin/caretide plugin pack "$src/tests/plugins/greeter" -o "$work/greeter.ctb"
check "install it with the packaged config" \
  /usr/bin/caretide plugin install "$work/greeter.ctb" --config /etc/caretide/caretide.yaml
[ -f /var/lib/caretide/plugins/greeter/MANIFEST.json ] && ok || bad "bundle installed under /var/lib/caretide/plugins"
check "plugin list" /usr/bin/caretide plugin list --config /etc/caretide/caretide.yaml
grep -q '^greeter .*/var/lib/caretide/plugins/greeter' /tmp/ct-pkg.out && ok || bad "list shows the installed plugin"
rm -rf "$work"

# Remove keeps the conffile, the user and the state; purge takes them.
if dpkg_wait -r caretide; then ok; else bad "dpkg -r"; cat /tmp/ct-pkg.out; fi
[ ! -e /usr/bin/caretide ] && ok || bad "binary left after remove"
[ ! -e /lib/systemd/system/caretide.service ] && ok || bad "unit left after remove"
[ -f /etc/caretide/caretide.yaml ] && ok || bad "conffile removed by remove"
[ -d /var/lib/caretide ] && ok || bad "state removed by remove"
if dpkg_wait -P caretide; then ok; else bad "dpkg -P"; cat /tmp/ct-pkg.out; fi
[ ! -e /etc/caretide ] && ok || bad "/etc/caretide left after purge"
[ ! -e /var/lib/caretide ] && ok || bad "/var/lib/caretide left after purge"
getent passwd caretide >/dev/null && bad "user left after purge" || ok
dpkg-query -W caretide >/dev/null 2>&1 && bad "package still known to dpkg" || ok
trap - EXIT

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
