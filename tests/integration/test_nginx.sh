#!/usr/bin/env bash
# The reverse-proxy set-up of docs/operations.md "TLS", driven for real:
# the nginx server block is taken from the document itself (only the
# listening port, the certificate paths and caretide's port are changed),
# in front of a running daemon. Through it: TLS only (plain HTTP to the
# port is refused), health and a named user's referral answer as direct,
# with no-store and nosniff; nginx's request id reaches caretide's log and
# comes back as X-Request-Id; a body over client_max_body_size is refused
# by nginx; the audit names the user. nginx comes from Debian
# (packaging/install-deps.sh installs it): its absence is a failure.
set -u
bin=${CARETIDE:?set CARETIDE to the binary}
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
# shellcheck source=lib.sh
. "$src/tests/integration/lib.sh"
trap lib_cleanup EXIT

nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "FAIL: nginx is not installed (packaging/install-deps.sh installs it)"; exit 1; }
command -v openssl >/dev/null || { echo "FAIL: openssl is not installed"; exit 1; }

demo_area "$tmp/area.yaml"
start main --config "$tmp/area.yaml" || { finish; exit 1; }
today=$(date -u +%F)

# A certificate for 127.0.0.1, trusted by curl through --cacert.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=caretide.test" \
  -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$tmp/caretide.key" -out "$tmp/caretide.pem" 2>/dev/null \
  || { bad "openssl could not make a certificate"; finish; exit 1; }

# The documented server block, as printed in docs/operations.md.
block=$(sed -n '/^## TLS$/,/^## /p' "$src/docs/operations.md" | sed -n '/^```nginx$/,/^```$/p' | sed '1d;$d')
echo "$block" | grep -q 'proxy_pass http://127.0.0.1:8470;' && ok || { bad "no nginx block in docs/operations.md"; finish; exit 1; }

run_nginx() { # run_nginx PORT: nginx on PORT with the documented block
  local nport=$1
  mkdir -p "$tmp/nginx"
  {
    [ "$(id -u)" = 0 ] && echo "user root root;"
    cat <<CONF
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 64; }
http {
    access_log $tmp/nginx/access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
CONF
    echo "$block" | sed -e "s|listen 443 ssl;|listen 127.0.0.1:$nport ssl;|" \
      -e "s|/etc/ssl/certs/caretide.pem|$tmp/caretide.pem|" \
      -e "s|/etc/ssl/private/caretide.key|$tmp/caretide.key|" \
      -e "s|proxy_pass http://127.0.0.1:8470;|proxy_pass http://127.0.0.1:$port;|"
    echo "}"
  } > "$tmp/nginx/nginx.conf"
  "$nginx" -t -q -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' 2>"$tmp/nginx-t.err" \
    || { cat "$tmp/nginx-t.err"; return 1; }
  "$nginx" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;' 2>>"$tmp/nginx/stderr" &
  nginx_pid=$!
  pids+=("$nginx_pid")
}
nport=
for try in 1 2 3 4 5; do
  p=$((20000 + RANDOM % 20000))
  run_nginx "$p" || { bad "nginx -t refused the documented block"; finish; exit 1; }
  up() { curl -s -o /dev/null --max-time 2 --cacert "$tmp/caretide.pem" "https://127.0.0.1:$p/v1/health"; }
  if wait_for 10 up; then nport=$p; break; fi
  kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null
done
[ -n "$nport" ] || { bad "nginx did not come up: $(cat "$tmp/nginx/error.log" "$tmp/nginx/stderr" 2>/dev/null)"; finish; exit 1; }
proxy=https://127.0.0.1:$nport

# Health and headers, through TLS.
out=$(curl -s -D "$tmp/h" --cacert "$tmp/caretide.pem" "$proxy/v1/health")
echo "$out" | jq -e '.status == "ok"' >/dev/null && ok || bad "health through nginx: $out"
tr -d '\r' < "$tmp/h" | grep -qi '^Cache-Control: no-store' && ok || bad "no-store lost: $(cat "$tmp/h")"
tr -d '\r' < "$tmp/h" | grep -qi '^X-Content-Type-Options: nosniff' && ok || bad "nosniff lost"
# nginx's $request_id is caretide's request id, in its answer and its log.
rid=$(tr -d '\r' < "$tmp/h" | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p')
[[ $rid =~ ^[0-9a-f]{32}$ ]] && ok || bad "X-Request-Id is not nginx's \$request_id: '$rid'"
grep -q "$rid" "$tmp/main.err" && ok || bad "caretide's log does not have request $rid"
# TLS only: plain HTTP to the port is refused by nginx.
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$nport/v1/health")
[ "$c" = 400 ] && ok || bad "plain HTTP to the TLS port: $c"

# A named user through the proxy; the audit names them.
secret=$("$bin" token add --config "$tmp/area.yaml" --user pat --name "Pat Proxy" \
           --org demo-acute --role hospital --json | jq -r .secret)
works() { [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/caretide.pem" \
                 -H "Authorization: Bearer $secret" "$proxy/v1/referrals")" = 200 ]; }
check "a named user's token works through nginx" wait_for 30 works
code=$(curl -s -o "$tmp/body" -w '%{http_code}' --cacert "$tmp/caretide.pem" \
  -H "Authorization: Bearer $secret" -H 'Content-Type: application/json' \
  --data-binary "{\"nhs_number\":\"$(nhs 3)\",\"ready_date\":\"$today\",\"requested_pathway\":\"P0\",\"age\":80}" \
  "$proxy/v1/referrals")
[ "$code" = 201 ] && ok || bad "referral through nginx: $code $(cat "$tmp/body")"
# client_max_body_size 64k: a larger body stops at nginx.
head -c 100000 /dev/zero | tr '\0' ' ' > "$tmp/big"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/caretide.pem" \
  -H "Authorization: Bearer $secret" -H 'Content-Type: application/json' \
  --data-binary @"$tmp/big" "$proxy/v1/referrals")
[ "$code" = 413 ] && ok || bad "100 KB body through nginx: $code"

kill "$nginx_pid"; wait "$nginx_pid" 2>/dev/null
kill -TERM "$pid"; wait "$pid" 2>/dev/null
"$bin" audit list --db "$tmp/area.db" --kind referral.created | grep -q 'user:pat@demo-acute/hospital' \
  && ok || bad "the audit does not name user:pat"
out=$("$bin" audit verify --db "$tmp/area.db" 2>&1) && ok || bad "audit verify: $out"
finish
