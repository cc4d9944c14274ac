#!/usr/bin/env bash
# What rate limits cost: `GET /v1/me` with limits off and on (the demo tenant's rates raised
# so that nothing is refused: every request still spends from its tenant's and its own
# bucket), alternated over one server each, and what a client far past its rate costs: an
# API key limited to 1 request a second driven as fast as wrk can, against the same key path
# unlimited. Runs against the release build; prints a Markdown table.
#
#   BENCH_SECS=15 BENCH_CONN=16 bash scripts/bench-limits.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TENANTRY_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/tenantry-target}/release/tenantry}
secs=${BENCH_SECS:-15}
conn=${BENCH_CONN:-16}
threads=${BENCH_THREADS:-2}
rounds=${BENCH_ROUNDS:-2}
port=${BENCH_PORT:-3208}
base="http://127.0.0.1:$port"
password="bench password 2026"
admin="bench-admin-token-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

command -v wrk >/dev/null || { echo "==> installing wrk"; apt-get install -y -qq wrk >/dev/null; }

server=""
data=""
stop() {
  [ -n "$server" ] && { kill -TERM "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; }
  [ -n "$data" ] && rm -rf "$data"
  server=""; data=""
}
trap stop EXIT

start() { # rate limits: true or false
  data=$(mktemp -d /tmp/tenantry-bench-XXXXXX); chmod 755 "$data"
  TENANTRY_DATA_DIR=$data TENANTRY_ADDR=127.0.0.1:$port TENANTRY_DEMO_PASSWORD=$password \
    TENANTRY_RATE_LIMITS=$1 TENANTRY_ADMIN_TOKEN=$admin TENANTRY_LOG=warn \
    TENANTRY_ACCESS_TOKEN_TTL=3600 "$bin" serve >"$data/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 600); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done
  token=$(curl -sf "$base/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"tenant\":\"demo\",\"email\":\"admin@demo.test\",\"password\":\"$password\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  tenant=$(curl -sf "$base/v1/me" -H "authorization: Bearer $token" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["tenant"]["id"])')
  # Far above what this machine serves: limits are checked, never reached.
  curl -sf -X PUT "$base/v1/admin/tenants/$tenant/limits" -H "authorization: Bearer $admin" \
    -H 'content-type: application/json' \
    -d '{"overrides":{"rates":{"tenant":{"rate":1000000,"burst":1000000},"user":{"rate":1000000,"burst":1000000}}}}' >/dev/null
}

key() { # JSON of the key's rate limit, or null
  curl -sf "$base/v1/api-keys" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"name\":\"bench $RANDOM\",\"scopes\":[\"*:read\"],\"rate_limit\":$1}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])'
}

run() { # label, wrk args...
  local label=$1; shift
  local out rps p50 p99 non2xx
  out=$(wrk -t"$threads" -c"$conn" -d"${secs}s" --latency "$@" "$base/v1/me")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '| %s | %s | %s | %s | %s |\n' "$label" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

echo
echo "wrk -t$threads -c$conn -d${secs}s on \`GET /v1/me\`, $(nproc) cores shared by server, PostgreSQL and wrk; $(git rev-parse --short HEAD)"
echo
echo "| scenario | req/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
for round in $(seq 1 "$rounds"); do
  start false
  run "round $round: limits off (token)" -H "authorization: Bearer $token"
  stop
  start true
  run "round $round: limits on, never reached (token)" -H "authorization: Bearer $token"
  free_key=$(key null)
  slow_key=$(key '{"rate":1,"burst":1}')
  run "round $round: limits on, API key without a rate of its own" -H "x-api-key: $free_key"
  run "round $round: limits on, API key limited to 1/s (nearly all 429)" -H "x-api-key: $slow_key"
  stop
done
