#!/usr/bin/env bash
# Load benchmark against the release build: starts `tenantry serve` over a throwaway
# embedded cluster, seeds identities through the API, and drives each scenario with wrk
# for a fixed time. Prints a Markdown table (paste it into docs/benchmarks.md).
#
#   make bench                      # or: BENCH_SECS=30 BENCH_CONN=32 bash scripts/bench.sh
#
# Before and after a change, in one run: TENANTRY_BIN_BEFORE=/path/to/old/tenantry runs every
# scenario against that binary, then against this build, each over a fresh cluster, and
# labels the rows. Keep a copy of the release binary before rebuilding to compare.
# BENCH_ONLY='keyword|get one' runs only the scenarios whose name matches (a bash regex).
# BENCH_ANALYZE=true gathers the tables' statistics after seeding; BENCH_CONN sets the
# connections (16).
# Rate limits are off (the scenarios drive one identity far past any plan's rate);
# BENCH_RATE_LIMITS=true turns them on (every bench script reads it).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TENANTRY_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/tenantry-target}/release/tenantry}
secs=${BENCH_SECS:-15}
conn=${BENCH_CONN:-16}
threads=${BENCH_THREADS:-2}
seed=${BENCH_SEED:-2000}
port=${BENCH_PORT:-3207}
only=${BENCH_ONLY:-}
base="http://127.0.0.1:$port"
password="bench password 2026"

command -v wrk >/dev/null || { echo "==> installing wrk"; apt-get install -y -qq wrk >/dev/null; }

bench_one() { # binary, label
local bin=$1 label=$2
data=$(mktemp -d /tmp/tenantry-bench-XXXXXX); chmod 755 "$data"
TENANTRY_DATA_DIR=$data TENANTRY_ADDR=127.0.0.1:$port TENANTRY_DEMO_PASSWORD=$password \
  TENANTRY_RATE_LIMITS=${BENCH_RATE_LIMITS:-false} TENANTRY_LOG=warn TENANTRY_ACCESS_TOKEN_TTL=3600 "$bin" serve >"$data/server.log" 2>&1 &
server=$!
cleanup() { kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 1 600); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done

token=$(curl -sf "$base/v1/auth/token" -H 'content-type: application/json' \
  -d "{\"tenant\":\"demo\",\"email\":\"admin@demo.test\",\"password\":\"$password\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

echo "==> seeding $seed identities" >&2
python3 - "$base" "$token" "$seed" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def create(i):
    body = json.dumps({"email": f"seed-{i}@bench.test", "display_name": f"Seed Person {i}",
                       "external_id": f"ext-{i}", "metadata": {"n": i}}).encode()
    req = urllib.request.Request(base + "/v1/identities", data=body, method="POST",
        headers={"content-type": "application/json", "authorization": "Bearer " + token})
    urllib.request.urlopen(req).read()
with ThreadPoolExecutor(8) as pool:
    list(pool.map(create, range(n)))
PY

echo "==> seeding 100 policies" >&2
python3 - "$base" "$token" <<'PY'
import json, random, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
random.seed(7)
modules = ["identities", "groups", "roles", "policies", "invitations", "api_keys", "sessions", "memories", "webhooks", "audit", "settings"]
actions = ["read", "create", "update", "delete", "manage"]
items = []
for i in range(100):
    deny = random.random() < 0.25
    item = {"op": "create", "name": f"bench policy {i}", "effect": "deny" if deny else "allow", "priority": 0,
            "resource_pattern": random.choice(modules), "action_pattern": random.choice(actions)}
    if deny:
        item["condition"] = {"==": [{"var": "resource.metadata.classified"}, True]}
    elif random.random() < 0.5:
        item["condition"] = {"==": [{"var": "resource.owner"}, {"var": "principal.id"}]}
    items.append(item)
req = urllib.request.Request(base + "/v1/policies/bulk", data=json.dumps({"items": items}).encode(), method="POST",
    headers={"content-type": "application/json", "authorization": "Bearer " + token})
urllib.request.urlopen(req).read()
PY

echo "==> seeding 100 memories" >&2
python3 - "$base" "$token" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
topics = ["invoice", "holiday", "deployment", "customer", "password", "meeting", "laptop", "contract", "budget", "train"]
items = [{"text": f"Note {i}: the {topics[i % 10]} for team {i % 7} was discussed on day {i}, with follow-up about the {topics[(i * 3) % 10]}.",
          "tags": [topics[i % 10]]} for i in range(100)]
req = urllib.request.Request(base + "/v1/memories/bulk", data=json.dumps({"items": items}).encode(), method="POST",
    headers={"content-type": "application/json", "authorization": "Bearer " + token})
urllib.request.urlopen(req).read()
PY

# BENCH_ANALYZE=true: statistics gathered after seeding, as autovacuum would a while later
# (without them PostgreSQL plans a fresh import blind, and the runs' spread is wider).
if [[ ${BENCH_ANALYZE:-false} == true ]]; then
  echo "==> analyze" >&2
  PGPASSWORD=$(cat "$data/postgres/superuser.password") psql -q -h 127.0.0.1 \
    -p "$(sed -n 4p "$data/postgres/data/postmaster.pid")" -U tenantry -d tenantry -c analyze
fi
for _ in $(seq 1 300); do  # until every memory is embedded
  curl -sf "$base/v1/memories/status" -H "authorization: Bearer $token" \
    | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s["total"] == s["current"] == 100 else 1)' && break
  sleep 0.5
done

search() { # file, mode, query expression (Lua)
cat > "$1" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
local n = 0
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format('{"mode":"$2","query":%s}', $3))
end
LUA
}
search "$data/keyword.lua" keyword "'\"invoice\"'"
search "$data/hybrid.lua" hybrid "'\"where is the invoice\"'"
# Distinct texts: every query is new to the server, so each one runs the model.
search "$data/hybrid-new.lua" hybrid "string.format('\"invoice number %d %d\"', math.random(1e9), n)"

lua=$data/create.lua
cat > "$lua" <<'LUA'
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread) thread:set("tid", #threads); table.insert(threads, thread) end
function init(args) wrk.method = "POST"; wrk.headers["content-type"] = "application/json" end
function request()
  counter = counter + 1
  local body = string.format('{"email":"load-%d-%d-%d@bench.test","display_name":"Load"}', tid, counter, math.random(1e9))
  return wrk.format(nil, nil, nil, body)
end
LUA
check=$data/check.lua
cat > "$check" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"action": "memories:read", "resource": {"metadata": {"classified": false}}}'
LUA
login=$data/login.lua
cat > "$login" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"tenant":"demo","email":"admin@demo.test","password":"$password"}'
LUA

run() { # name, connections, path, extra wrk args...
  local name=$1 c=$2 path=$3; shift 3
  [[ -n $only && ! $name =~ $only ]] && return 0
  local out
  out=$(wrk -t"$threads" -c"$c" -d"${secs}s" --latency "$@" "$base$path")
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  printf '| %s | %s | `%s` | %s | %s | %s | %s | %s |\n' "$label" "$name" "$path" "$c" "$rps" "$p50" "$p99" "${non2xx:-0}"
}

echo
echo "wrk -t$threads -c$conn -d${secs}s, $seed identities in the tenant, $(nproc) cores shared by server, PostgreSQL and wrk"
echo
one=$(curl -sf "$base/v1/identities?limit=1" -H "authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
echo "| build | scenario | request | connections | req/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|---|---|---|"
run "liveness" "$conn" /healthz
run "caller (JWT verify; caller and tenant from memory)" "$conn" /v1/me -H "authorization: Bearer $token"
run "list, first page of 50" "$conn" "/v1/identities?limit=50" -H "authorization: Bearer $token"
run "search by substring" "$conn" "/v1/identities?q=person%2012&limit=20" -H "authorization: Bearer $token"
run "get one by id" "$conn" "/v1/identities/$one" -H "authorization: Bearer $token"
run "create (audit + outbox in one tx)" "$conn" /v1/identities -s "$lua" -H "authorization: Bearer $token"
run "decision point, 100 policies" 64 /v1/authz/check -s "$check" -H "authorization: Bearer $token"
run "memory search, keyword, 100 memories" "$conn" /v1/memories/search -s "$data/keyword.lua" -H "authorization: Bearer $token"
run "memory search, hybrid, a repeated query" "$conn" /v1/memories/search -s "$data/hybrid.lua" -H "authorization: Bearer $token"
run "memory search, hybrid, every query new" "$conn" /v1/memories/search -s "$data/hybrid-new.lua" -H "authorization: Bearer $token"
key=$(curl -sf "$base/v1/api-keys" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name":"bench","scopes":["identities:read"]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
run "get one by id, API key (hash check + key row read)" "$conn" "/v1/identities/$one" -H "x-api-key: $key"
# The console, server-rendered with a session: the identities list and the events page
# (three resources in Suspense boundaries, the page that stalled two-thread renderers).
jar=$data/cookies
curl -sf -o /dev/null -c "$jar" "$base/api/auth/login" \
  --data-urlencode tenant=demo --data-urlencode email=admin@demo.test --data-urlencode "password=$password"
cookie=$(sed 's/^#HttpOnly_//' "$jar" | awk '!/^#/ && NF >= 7 {printf "%s%s=%s", (n++ ? "; " : ""), $6, $7}')
run "console: identities page (SSR, signed in)" 16 /identities -H "cookie: $cookie"
run "console: events page (SSR, signed in)" 16 /events -H "cookie: $cookie"
# One account: the throttle admits at most 5 attempts in flight per account, so 4 here.
run "password sign-in (argon2id), one account" 4 /v1/auth/token -s "$login"
cleanup
trap - EXIT
}

if [ -n "${TENANTRY_BIN_BEFORE:-}" ]; then
  bench_one "$TENANTRY_BIN_BEFORE" before
  bench_one "$bin" after
else
  bench_one "$bin" "this build"
fi
