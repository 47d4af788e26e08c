#!/usr/bin/env bash
# `caretide check` means `run` will start and behave (docs/config.md,
# "What check proves"): plugin settings that name facilities, zones,
# organisations or tags are checked against the area with did-you-mean;
# every plugin's setup() runs with the area's settings; needs no bed can
# meet are warned about; and every error comes out in one run.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=${SRC:?set SRC to the source tree}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
out=$tmp/out
expect_exit() { # expect_exit CODE cmd...
  local want=$1; shift
  "$@" >"$out" 2>"$tmp/err"; local got=$?
  if [ "$got" = "$want" ]; then ok; else bad "$* exited $got, wanted $want"; cat "$out"; fi
}
has() { # has DESCRIPTION EXTENDED-REGEX: a line of the last output matches
  grep -Eq -- "$2" "$out" && ok || { bad "$1: no line matching '$2' in:"; cat "$out"; }
}
# area NAME SOURCE SED-SCRIPT: an edited copy of an example area beside the
# source tree's plugins (plugin_path is relative to the config).
area() {
  mkdir -p "$tmp/config"
  sed "$3" "$src/config/$2.yaml" > "$tmp/config/$1.yaml"
  ln -sfn "$src/plugins" "$tmp/plugins"
  echo "$tmp/config/$1.yaml"
}
line_of() { grep -n -- "$2" "$1" | head -1 | cut -d: -f1; }

# --- the two example areas with settings that name a missing facility -----
for ex in demo rural-county; do
  case $ex in
    demo) fac=willow-stepdown; miss=willow-stepdwn ;;
    rural-county) fac=oakleigh; miss=oakleihg ;;
  esac
  f=$(area "$ex-surge" "$ex" "s/^      surge_facilities: \[$fac, /      surge_facilities: [reed-beds, $miss, /")
  expect_exit 1 "$bin" check --config "$f"
  l=$(line_of "$f" "surge_facilities:")
  has "$ex: unknown facility with its position" \
    "^$f:$l:[0-9]+: setting 'surge_facilities' of plugin 'winter_surge': no facility 'reed-beds' in the area"
  has "$ex: did-you-mean for a misspelt facility" \
    "^$f:$l:[0-9]+: .*no facility '$miss' in the area; did you mean '$fac'\?"
done

# --- the issue's three cases, in one run -----------------------------------
f=$(area refs rural-county 's/^        - eastmere-cottage=2/        - eastmere-cotage=2/; s/staffing_caps: \[oakleigh-red=8\]/staffing_caps: [oakleigh-rde=8]/; s/org_links: \[wolds-acute=wolds-community\]/org_links: [wolds-acute=wolds-comunity]/; s/^      surge_facilities: \[oakleigh, /      surge_facilities: [reed-beds, /')
expect_exit 1 "$bin" check --config "$f"
has "distance band facility" "^$f:$(line_of "$f" eastmere-cotage):[0-9]+: .*distance_bands.*no facility 'eastmere-cotage' in the area; did you mean 'eastmere-cottage'\?"
has "staffing cap zone" "^$f:$(line_of "$f" oakleigh-rde):[0-9]+: .*staffing_caps.*no zone 'oakleigh-rde' in the area; did you mean 'oakleigh-red'\?"
has "org link organisation" "^$f:$(line_of "$f" wolds-comunity):[0-9]+: .*org_links.*no organisation 'wolds-comunity' in the area; did you mean 'wolds-community'\?"
has "surge facility" "no facility 'reed-beds' in the area"
[ "$(grep -c ': setting ' "$out")" = 4 ] && ok || { bad "four reference errors"; cat "$out"; }
# A value of the wrong shape is named with the shape expected.
f=$(area shape rural-county 's/^        - oakleigh=1/        - oakleigh:1/')
expect_exit 1 "$bin" check --config "$f"
has "shape" "^$f:$(line_of "$f" oakleigh:1):[0-9]+: .*'oakleigh:1' should look like \[organisation/\]facility=band"
# A per-organisation band names both.
f=$(area orgband rural-county 's/^        - oakleigh=1/        - wolds-acute\/oakleigh=1\n        - wolds-acut\/oakleigh=1/')
expect_exit 1 "$bin" check --config "$f"
has "org/facility form" "no organisation 'wolds-acut' in the area; did you mean 'wolds-acute'\?"
[ "$(grep -c ': setting ' "$out")" = 1 ] && ok || { bad "only the misspelt org"; cat "$out"; }

# --- all errors in one run: structure, settings, references ----------------
f=$(area stages rural-county '0,/kind: step_down/s//kind: step_dwn/; s/^      max_band: 3/      max_bnd: 3/; s/^      surge_facilities: \[oakleigh, /      surge_facilities: [reed-beds, /')
expect_exit 1 "$bin" check --config "$f"
has "structural error" "unknown facility kind 'step_dwn'"
has "unknown setting in the same run" "plugin 'discharge_hub' has no setting 'max_bnd'; did you mean 'max_band'\?"
has "reference in the same run" "no facility 'reed-beds' in the area"
expect_exit 1 "$bin" check --config "$f" --json
jq -e '.ok == false and (.errors | length) == 3' "$out" >/dev/null && ok || { bad "--json: three errors"; cat "$out"; }

# --- setup() runs with the area's settings ----------------------------------
f=$(area setup rural-county 's/^      summary_at: "07:30"/      summary_at: "37:30"/; s/^      surge_facilities: \[oakleigh, /      surge_facilities: [reed-beds, /')
expect_exit 1 "$bin" check --config "$f"
has "setup error" "summary_at: \"37:30\" is not a time of day HH:MM"
has "setup error with the reference error" "no facility 'reed-beds' in the area"
f=$(area setup2 demo 's/^      summary_at: "07:30"/      summary_at: "37:30"/; s/^      max_stay_p1: 4w/      max_stay_p1: 4w\n      summary_at: "25:00"/')
expect_exit 1 "$bin" check --config "$f"
has "setup error, demo" "summary_at: \"25:00\" is not a time of day HH:MM"
# The same config refuses to run: check said so first.
expect_exit 1 "$bin" run --config "$f" --listen 127.0.0.1:0 --db "$tmp/setup2.db"

# --- needs that no bed's tags can meet: a warning, still ok ---------------
f=$(area needs rural-county 's/^      max_band: 3/      max_band: 3\n      p1_needs: [reablement, frailty, telecare]/')
expect_exit 0 "$bin" check --config "$f"
has "need warning" "^$f:$(line_of "$f" telecare):[0-9]+: warning: .*need 'telecare': no bed in the area carries the tag 'telecare'"
has "still ok" "ok: area 'wolds-county'"
expect_exit 0 "$bin" check --config "$f" --json
jq -e '.ok == true and (.warnings | map(select(.message | test("telecare"))) | length) == 1' "$out" >/dev/null \
  && ok || { bad "--json warnings"; cat "$out"; }

# --- the examples themselves stay clean ----------------------------------
for ex in demo rural-county city-system; do
  expect_exit 0 "$bin" check --config "$src/config/$ex.yaml"
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
