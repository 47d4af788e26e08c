#!/usr/bin/env bash
# Installs the Debian 12 packages caretide's build, tests and tools need.
# Idempotent: quiet and quick when everything is already there.
# Usage: bash packaging/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

packages=(
  chromium jq
  build-essential cmake pkg-config
  liblua5.4-dev libuv1-dev libsqlite3-dev libyaml-dev libgsl-dev
  libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libsodium-dev libedit-dev nettle-dev
  libcriterion-dev clang libclang-rt-14-dev
  lua5.4 lua-check sqlite3 curl tmux faketime
  nginx openssl
  wrk
  dpkg-dev adduser
)

# wrk drives the HTTP benchmarks (tests/bench/http_bench.sh,
# bench/scale_bench.sh); nothing in ctest needs it.
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# The dashboard test (tests/integration/test_dashboard.sh) drives Debian's
# chromium with playwright-core from npm; a node from elsewhere will do.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
