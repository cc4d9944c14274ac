#!/usr/bin/env bash
# Sign-in latency while a flood of bogus invitation accepts hits the server (issue 15,
# hole 5). Starts `tenantry serve` (release) over a throwaway embedded cluster, measures
# 200 sign-ins one after another on the idle server, then the same while wrk keeps 300
# connections busy with accepts of forged tokens, each from an address of its own
# (`X-Forwarded-For`, trusted here) so the per-address throttle never stops them: only
# "the token first, the hash last" protects sign-in. Prints p50 / p95 / p99 of both.
#
#   bash scripts/bench-flood.sh            # FLOOD_SECS=30 FLOOD_CONN=300 SIGNINS=200
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TENANTRY_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/tenantry-target}/release/tenantry}
secs=${FLOOD_SECS:-30}
conn=${FLOOD_CONN:-300}
signins=${SIGNINS:-200}
port=${BENCH_PORT:-3209}
base="http://127.0.0.1:$port"
password="bench password 2026"

command -v wrk >/dev/null || { echo "==> installing wrk"; apt-get install -y -qq wrk >/dev/null; }
data=$(mktemp -d /tmp/tenantry-flood-XXXXXX); chmod 755 "$data"
TENANTRY_DATA_DIR=$data TENANTRY_ADDR=127.0.0.1:$port TENANTRY_DEMO_PASSWORD=$password \
  TENANTRY_TRUST_PROXY=true TENANTRY_RATE_LIMITS=${BENCH_RATE_LIMITS:-false} TENANTRY_LOG=warn "$bin" serve >"$data/server.log" 2>&1 &
server=$!
flood=
cleanup() {
  [ -n "$flood" ] && kill "$flood" 2>/dev/null || true
  kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 600); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done

measure() { # label
  python3 - "$base" "$password" "$signins" "$1" <<'PY'
import json, sys, time, urllib.request, urllib.error
base, password, n, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = json.dumps({"tenant": "demo", "email": "admin@demo.test", "password": password}).encode()
times, errors = [], 0
for i in range(n):
    req = urllib.request.Request(base + "/v1/auth/token", data=body, method="POST",
        headers={"content-type": "application/json", "x-forwarded-for": "198.51.100.7"})
    t = time.perf_counter()
    try:
        urllib.request.urlopen(req, timeout=30).read()
    except urllib.error.HTTPError as e:
        errors += 1
    times.append((time.perf_counter() - t) * 1000)
times.sort()
q = lambda p: times[min(len(times) - 1, int(p * len(times)))]
print(f"| {label} | {n} | {errors} | {q(0.50):.1f} | {q(0.95):.1f} | {q(0.99):.1f} |")
PY
}

lua=$data/flood.lua
cat > "$lua" <<'LUA'
-- Forged invitation tokens (well formed, opening nothing), each from another address.
local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local last = "AQgw" -- 64 bytes in 86 characters: the last one carries 2 bits
local function token()
  local t = {}
  for i = 1, 85 do local r = math.random(1, 64); t[i] = b64:sub(r, r) end
  local r = math.random(1, 4); t[86] = last:sub(r, r)
  return "iv1." .. table.concat(t)
end
function init(args) wrk.method = "POST"; wrk.headers["content-type"] = "application/json" end
function request()
  wrk.headers["x-forwarded-for"] = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
  local body = string.format('{"token":"%s","display_name":"Mallory","password":"a long enough password"}', token())
  return wrk.format(nil, "/v1/invitations/accept", nil, body)
end
LUA

echo "| phase | sign-ins | errors | p50 ms | p95 ms | p99 ms |"
echo "|---|---|---|---|---|---|"
measure "idle"
wrk -t 2 -c "$conn" -d "${secs}s" -s "$lua" "$base" >"$data/wrk.txt" 2>&1 &
flood=$!
sleep 2
measure "300 connections of bogus accepts"
wait "$flood" || true
flood=
echo
echo "flood: $(grep -E 'Requests/sec' "$data/wrk.txt") $(grep -E 'Non-2xx' "$data/wrk.txt" || true)"
