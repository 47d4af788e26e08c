#!/bin/sh
# Refreshes the dashboard's charting library from npm: installs the
# version pinned in package-lock.json (npm ci) and copies the package's
# own dist file and licence into web/vendor/, which is committed and
# compiled into the binary (CMakeLists.txt, ct_embed). The dashboard
# loads nothing from a CDN: the strict Content-Security-Policy forbids it
# and a hub's screen may be on a closed network.
#
# To upgrade: edit the version in package.json, run `npm install` here to
# update the lock file, then this script; commit all four files.
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
cp node_modules/chart.js/dist/chart.umd.min.js vendor/chart.umd.min.js
cp node_modules/chart.js/LICENSE.md vendor/chart.js.LICENSE.md
echo "vendor/chart.umd.min.js: chart.js $(node -p "require('./node_modules/chart.js/package.json').version")"
