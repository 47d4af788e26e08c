# What the wrk benchmarks share (sourced by tests/bench/http_bench.sh and
# bench/scale_bench.sh): starting and stopping the daemon, its CPU time,
# and the POST /v1/referrals script. The caller sets bin, tmp and pids.

# start_caretide ARGS...: launches `caretide run ARGS...` on a free port
# of loopback; sets cpid, base and ready_ms (launch to the first 200 from
# /v1/health).
start_caretide() {
  rm -f "$tmp/run.out" "$tmp/run.err"
  local t0 t1 i port=
  t0=$(date +%s%N)
  "$bin" run --listen 127.0.0.1:0 --log-level warn "$@" \
    >"$tmp/run.out" 2>"$tmp/run.err" &
  cpid=$!
  pids+=("$cpid")
  for ((i = 0; i < 60000; i++)); do
    port=$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p' "$tmp/run.out" 2>/dev/null)
    [ -n "$port" ] && break
    kill -0 "$cpid" 2>/dev/null || break
    sleep 0.01
  done
  [ -n "$port" ] || { cat "$tmp/run.err"; exit 1; }
  base=http://127.0.0.1:$port
  for ((i = 0; i < 60000; i++)); do
    curl -sf -o /dev/null "$base/v1/health" && break
    sleep 0.01
  done
  t1=$(date +%s%N)
  ready_ms=$(((t1 - t0) / 1000000))
}

stop_caretide() {
  kill -TERM "$cpid"
  wait "$cpid"
}

# The daemon's CPU time so far in ms (user + system): figures per request
# that hold on a machine shared with other work.
cpu_ms() {
  awk -v hz="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / hz) }' "/proc/$cpid/stat"
}

# post_lua OFFSET FILE [tested]: the wrk script of durable POST
# /v1/referrals. Each wrk thread numbers its requests from its own offset
# (plus OFFSET, which keeps runs on one database apart); the NHS number is
# 999 followed by six digits and the modulus 11 check digit (numbers whose
# check would be 10 are skipped). Ready today, the four pathways in turn,
# nursing. With "tested", a negative covid test an hour old: care homes
# take people only with a recent result (the stepdown plugin), so
# decisions end in holds.
post_lua() {
  sed -e "s/@OFFSET@/$1/" -e "s/@TESTED@/$([ "${3:-}" = tested ] && echo true || echo false)/" \
    > "$2" <<'LUA'
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
local tid, n, stride = 0, 0, 16 -- at most 16 wrk threads
local today = os.date("!%Y-%m-%d")
local tested = @TESTED@ and os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() - 3600)
local pathways = {"P1", "P2", "P3", "step_down"}
function init(args)
  tid = tonumber(wrk.thread:get("tid")) or 0
  n = tid + @OFFSET@
end
local function nhs()
  while true do
    local base = string.format("999%06d", n % 1000000)
    n = n + stride
    local sum = 0
    for i = 1, 9 do sum = sum + tonumber(base:sub(i, i)) * (11 - i) end
    local check = (11 - sum % 11) % 11
    if check ~= 10 then return base .. check end
  end
end
function request()
  local body = string.format(
    '{"nhs_number":"%s","ready_date":"%s","requested_pathway":"%s","age":80,"needs":["nursing"]',
    nhs(), today, pathways[math.floor(n / stride) % 4 + 1])
  if tested then
    body = body .. string.format(
      ',"infections":{"covid":{"status":"negative","tested_at":"%s"}}', tested)
  end
  return wrk.format("POST", "/v1/referrals", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer demo-hospital-token",
  }, body .. "}")
end
LUA
}
