#!/usr/bin/env bash
# Reads never wait for plugin code (docs/sandbox.md, "Reads beside the
# host thread"): while a referral's decision waits for its plugins, its
# write transaction is open; GET routes and /metrics read the last commit
# on a read-only connection of their own instead of waiting for that
# group. Six plugins each spend about 200 ms of Lua work in triage, so one
# decision holds its group open over 1.2 s; on the main of 7 December
# 2026 every read waited for it. The referral list, one referral, a
# report, the escalation level and /metrics are probed every 100 ms, each
# probe bounded to 1 s, while referrals are decided one after the other:
# every probe must answer. A referral read right after its POST's answer
# (while the next referral's plugins run) shows it decided
# (read-your-writes), and a hospital's read, which is recorded in the
# audit chain before it is answered, still answers.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

slow_triage_area "$tmp/area.yaml" 6 300ms
start main --config "$tmp/area.yaml" || { finish; exit 1; }
hospital=$(token_of hospital)
viewer=$(token_of viewer)
admin=$(token_of admin)
today=$(date -u +%F)

post() { # post N OUT: a referral in the background; sets last_post
  curl -s -o "$2" --max-time 60 -X POST -H "Authorization: Bearer $hospital" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"nhs_number\": \"$(nhs "$1")\", \"ready_date\": \"$today\", \"age\": 80}" \
    "$base/v1/referrals" &
  last_post=$!
}

# A first referral, so that there is one to read.
req POST /v1/referrals "$hospital" "{\"nhs_number\": \"$(nhs 1)\", \"ready_date\": \"$today\", \"age\": 80}"
expect 201 '.referral.id > 0 and .decision.outcome == "held"'
first=$(echo "$body" | jq -r '.referral.id')

# Every GET route answers from the last commit as it answers with no
# write open: the same status, while a referral's plugins run.
routes=(
  "viewer /v1/beds" "viewer /v1/escalation" "admin /v1/notifications"
  "viewer /v1/reports/delays" "viewer /v1/reports/capacity"
  "viewer /v1/reports/escalation" "viewer /v1/reports/today"
  "viewer /v1/reports/daily" "viewer /v1/reports/providers"
  "viewer /v1/reports/pathways" "viewer /v1/reports/decisions"
  "admin /v1/reports/access?referral=$first" "admin /v1/displays"
  "viewer /fhir/R4/Location" "viewer /fhir/R4/HealthcareService"
  "viewer /v1/audit?limit=5" "viewer /v1/waiting-list"
  "viewer /v1/referrals?limit=5" "viewer /v1/referrals/$first"
  "viewer /fhir/R4/Task" "viewer /fhir/R4/ServiceRequest/$first"
  "admin /metrics" "viewer /v1/capacity")
statuses() { # statuses OUT: one line per route, "STATUS ROUTE"
  local r
  for r in "${routes[@]}"; do
    echo "$(curl -s -o "$tmp/route.body" -w '%{http_code}' --max-time 30 \
      -H "Authorization: Bearer $(token_of "${r%% *}")" "$base${r#* }") $r"
  done > "$1"
}
statuses "$tmp/idle.status"
post 90 "$tmp/post.90"
# (once the first slow triage has begun; the five after it take 1 s)
busy() { curl -s --max-time 1 "$base/v1/health" | jq -e '.plugins[] | select(.name == "slow1") | .calls >= 2' >/dev/null; }
wait_for 30 busy || true
statuses "$tmp/busy.status"
wait "$last_post"
jq -e '.decision.outcome == "held"' "$tmp/post.90" >/dev/null && ok || bad "referral 90: $(head -c 300 "$tmp/post.90")"
diff "$tmp/idle.status" "$tmp/busy.status" >/dev/null && ok \
  || bad "GET routes answered otherwise while a write was open: $(diff "$tmp/idle.status" "$tmp/busy.status")"
grep -v '^200 ' "$tmp/idle.status" && bad "GET routes not 200 with no write open" || ok

read_probe "$tmp/list.log" "/v1/referrals?limit=20" "$viewer"
read_probe "$tmp/one.log" "/v1/referrals/$first" "$viewer"
read_probe "$tmp/report.log" "/v1/reports/delays" "$viewer"
read_probe "$tmp/escalation.log" "/v1/escalation" "$viewer"
read_probe "$tmp/metrics.log" "/metrics" "$admin"
read_probe "$tmp/capacity.log" "/v1/capacity" "$viewer"
health_probe "$tmp/health.log"

# Four referrals at once: the loop decides them one after the other, so
# while one is answered the next one's plugins run.
posts=()
for n in 2 3 4 5; do post "$n" "$tmp/post.$n"; posts+=("$last_post"); done
i=0
for n in 2 3 4 5; do
  wait "${posts[$i]}"; i=$((i + 1))
  id=$(jq -r '.referral.id // empty' "$tmp/post.$n")
  [ -n "$id" ] && jq -e '.decision.outcome == "held"' "$tmp/post.$n" >/dev/null && ok \
    || { bad "referral $n: $(head -c 300 "$tmp/post.$n")"; continue; }
  # Read-your-writes: acknowledged, so the next read shows it decided.
  req GET "/v1/referrals/$id" "$viewer"
  expect 200 ".referral.id == $id and .referral.state == \"held\""
done
read_probe_check "$tmp/list.log" 10 "GET /v1/referrals"
# (one call ended every read probe; the logs are checked one by one)
for f in one report escalation metrics capacity; do
  probes=$(wc -l < "$tmp/$f.log")
  failed=$(awk '$1 != 200' "$tmp/$f.log" | wc -l)
  slowest=$(awk 'BEGIN {m = 0} $2 > m {m = $2} END {print m}' "$tmp/$f.log")
  echo "$f: $probes probes, $failed failed or over 1 s, slowest ${slowest} ms"
  [ "$probes" -gt 10 ] && [ "$failed" = 0 ] && ok || bad "$f did not answer every probe within 1 s"
done
health_probe_check "$tmp/health.log" 10

# The plugins ran every time: the reads overlapped their decisions.
req GET /v1/health
expect 200 '[.plugins[] | select(.name | startswith("slow")) | .calls >= 6] == [range(6) | true]'

# A hospital's read of a referral is an audited read: it answers, and the
# access.read event it recorded is in the chain.
req GET "/v1/referrals/$first" "$hospital"
expect 200 ".referral.id == $first"
req GET "/v1/reports/access?referral=$first" "$admin"
expect 200 '[.reads[] | select(.actor | test("hospital"))] | length >= 1'
check "the daemon is alive" kill -0 "$pid"
finish
