#!/usr/bin/env bash
# HTTP benchmarks of `caretide run` on loopback, with wrk.
#
#   tests/bench/http_bench.sh [options]
#     --bin PATH          the caretide binary (default: build/caretide)
#     --get PATH          GET benchmark path (default: /v1/health)
#     --token TOKEN       bearer token for the requests (default: demo-viewer-token)
#     --post PATH         also a durable POST benchmark on PATH ...
#     --body FILE         ... sending this JSON body
#     --post-token TOKEN  ... with this token (default: demo-hospital-token)
#     --connections N     wrk connections (default: 64)
#     --seconds N         duration of each run (default: 10)
#
# The GET run is compared with nginx serving a file of exactly the same
# bytes in the same run (nginx with NGINX_WORKERS workers, default auto).
# The POST run is made twice: with group commit and with one commit per
# request (--no-group-commit). Figures are printed, nothing is asserted.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/build/caretide get=/v1/health token=demo-viewer-token
post= body= post_token=demo-hospital-token conns=64 secs=10
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift 2 ;;
    --get) get=$2; shift 2 ;;
    --token) token=$2; shift 2 ;;
    --post) post=$2; shift 2 ;;
    --body) body=$2; shift 2 ;;
    --post-token) post_token=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --seconds) secs=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is needed" >&2; exit 1; }
[ -n "$post" ] && [ ! -f "$body" ] && { echo "--post needs --body FILE" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_caretide ARGS...: sets base.
start_caretide() {
  rm -f "$tmp"/bench.db*
  "$bin" run --listen 127.0.0.1:0 --db "$tmp/bench.db" --log-level warn "$@" \
    >"$tmp/run.out" 2>"$tmp/run.err" &
  cpid=$!
  pids+=("$cpid")
  local port=
  for ((i = 0; i < 600; i++)); do
    port=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p' "$tmp/run.out")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$tmp/run.err"; exit 1; }
  base=http://127.0.0.1:$port
  for ((i = 0; i < 600; i++)); do
    curl -sf -o /dev/null "$base/v1/health" && break
    sleep 0.1
  done
}

stop_caretide() {
  kill -TERM "$cpid"
  wait "$cpid"
}

# A wrk script that POSTs the body and reports p99 from wrk's histogram.
cat > "$tmp/post.lua" <<'EOF'
local f = assert(io.open(os.getenv("BENCH_BODY"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
local statuses = {}
response = function(status) statuses[status] = (statuses[status] or 0) + 1 end
done = function(summary, latency, requests)
  io.write(string.format("p50 %.2f ms, p99 %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
EOF

summary() { # summary LABEL WRK-OUTPUT-FILE
  local rps p99
  rps=$(sed -n 's/^Requests\/sec: *//p' "$2")
  p99=$(sed -n 's/^ *99% *//p' "$2")
  printf '%-34s %10s req/s   p99 %s\n' "$1" "$rps" "${p99:-?}"
  grep -E 'Non-2xx|Socket errors' "$2" | sed 's/^/    /'
}

echo "caretide $("$bin" version | head -1 | cut -d' ' -f2), $(nproc) cores, $conns connections, ${secs}s per run"

# ---- GET vs nginx ----------------------------------------------------------
start_caretide
curl -sf -H "Authorization: Bearer $token" -o "$tmp/body.json" "$base$get" \
  || { echo "GET $get failed" >&2; exit 1; }
size=$(stat -c %s "$tmp/body.json")
wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $token" \
  "$base$get" > "$tmp/get.txt"
summary "caretide GET $get ($size B)" "$tmp/get.txt"
stop_caretide

if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
  nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
  mkdir -p "$tmp/www"
  cp "$tmp/body.json" "$tmp/www/body.json"
  # nginx's workers may run as another user (nobody when started as root).
  chmod 755 "$tmp" "$tmp/www"
  chmod 644 "$tmp/www/body.json"
  nport=$(free_port)
  cat > "$tmp/nginx.conf" <<EOF
worker_processes ${NGINX_WORKERS:-auto};
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx.err;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx-body;
  proxy_temp_path $tmp/nginx-proxy;
  fastcgi_temp_path $tmp/nginx-fcgi;
  uwsgi_temp_path $tmp/nginx-uwsgi;
  scgi_temp_path $tmp/nginx-scgi;
  server {
    listen 127.0.0.1:$nport;
    root $tmp/www;
    location / { default_type application/json; }
  }
}
EOF
  "$nginx_bin" -c "$tmp/nginx.conf" -p "$tmp" &
  npid=$!
  pids+=("$npid")
  for ((i = 0; i < 300; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$nport/body.json" && break
    sleep 0.1
  done
  wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$nport/body.json" > "$tmp/nginx.txt"
  summary "nginx, the same $size B file" "$tmp/nginx.txt"
  kill "$npid"; wait "$npid" 2>/dev/null
  awk -v a="$(sed -n 's/^Requests\/sec: *//p' "$tmp/get.txt")" \
      -v b="$(sed -n 's/^Requests\/sec: *//p' "$tmp/nginx.txt")" \
      'BEGIN { if (b > 0) printf "caretide / nginx: %.2f\n", a / b }'
fi

# ---- durable POST, group commit on and off -----------------------------------
if [ -n "$post" ]; then
  for mode in group per-request; do
    if [ "$mode" = group ]; then start_caretide; else start_caretide --no-group-commit; fi
    BENCH_BODY=$body BENCH_TOKEN=$post_token wrk -t2 -c"$conns" -d"${secs}s" --latency \
      -s "$tmp/post.lua" "$base$post" > "$tmp/post-$mode.txt"
    summary "caretide POST $post ($mode commit)" "$tmp/post-$mode.txt"
    curl -s -H "Authorization: Bearer $token" "$base/metrics" \
      | grep -E '^caretide_commit_(groups_total|group_size_(sum|count))' | sed 's/^/    /'
    stop_caretide
  done
fi
