#!/usr/bin/env bash
# One tenant's costliest policy condition against another tenant's latency (issue 15,
# hole 6). Creates a second tenant ("noisy") whose owner carries a 256-item metadata list
# and a deny policy on memories:read, first with a cheap condition, then with about the
# costliest the budget admits: each of the 256 items compared with 120 constants (30,720
# comparisons per decision, 92,900 of its 100,000 estimated steps). Measures 300 calls
# of the demo tenant's `GET /v1/identities?limit=20`, one after another, on the idle
# server and while wrk keeps FLOOD_CONN connections of the noisy tenant's
# `GET /v1/memories` busy (each request decides memories:read, so each evaluates the
# condition), once per condition. Prints p50 / p95 / p99 of each phase and the flood's
# own rate.
#
#   bash scripts/bench-policy.sh            # FLOOD_SECS=30 FLOOD_CONN=32 CALLS=300
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TENANTRY_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/tenantry-target}/release/tenantry}
secs=${FLOOD_SECS:-30}
conn=${FLOOD_CONN:-32}
calls=${CALLS:-300}
port=${BENCH_PORT:-3211}
base="http://127.0.0.1:$port"
password="bench password 2026"

command -v wrk >/dev/null || { echo "==> installing wrk"; apt-get install -y -qq wrk >/dev/null; }
data=$(mktemp -d /tmp/tenantry-policy-XXXXXX); chmod 755 "$data"
export TENANTRY_DATA_DIR=$data TENANTRY_RATE_LIMITS=${BENCH_RATE_LIMITS:-false} TENANTRY_LOG=warn
"$bin" tenant create --slug noisy --name "Noisy" --owner-email owner@noisy.test \
  --owner-password "$password" >"$data/create.log" 2>&1
TENANTRY_ADDR=127.0.0.1:$port TENANTRY_DEMO_PASSWORD=$password TENANTRY_ACCESS_TOKEN_TTL=3600 \
  "$bin" serve >"$data/server.log" 2>&1 &
server=$!
flood=
cleanup() {
  [ -n "$flood" ] && kill "$flood" 2>/dev/null || true
  kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 600); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done

noisy=$(python3 - "$base" "$password" "$data/costly.json" <<'PY'
import json, sys, urllib.request
base, password = sys.argv[1], sys.argv[2]
def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})})
    return json.load(urllib.request.urlopen(req, timeout=30))
token = call("POST", "/v1/auth/token", {"tenant": "noisy", "email": "owner@noisy.test", "password": password})["access_token"]
me = call("GET", "/v1/me", token=token)
walked = [f"t{i}" for i in range(256)]
call("PATCH", f"/v1/identities/{me['identity']['id']}", {"metadata": {"teams": walked}}, token)
consts = [f"c{i}" for i in range(120)]
# First a cheap condition; `costly` below swaps in the costliest one.
policy = call("POST", "/v1/policies", {"name": "a deny for one team", "effect": "deny",
    "priority": 5, "resource_pattern": "memories", "action_pattern": "read",
    "condition": {"==": [{"var": "principal.metadata.team"}, "c0"]}}, token)
with open(sys.argv[3], "w") as f:
    json.dump({"policy": policy["id"], "token": token,
               "condition": {"some": [{"var": "principal.metadata.teams"},
                             {"or": [{"==": [{"var": ""}, c]} for c in consts]}]}}, f)
print(call("POST", "/v1/auth/token", {"tenant": "noisy", "email": "owner@noisy.test", "password": password})["access_token"])
PY
)
demo=$(curl -sf "$base/v1/auth/token" -H 'content-type: application/json' \
  -d "{\"tenant\":\"demo\",\"email\":\"admin@demo.test\",\"password\":\"$password\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/memories?limit=1" -H "authorization: Bearer $noisy")
[ "$code" = 200 ] || { echo "the noisy tenant's request answered $code"; exit 1; }

measure() { # label
  python3 - "$base" "$demo" "$calls" "$1" <<'PY'
import sys, time, urllib.request, urllib.error
base, token, n, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
times, errors = [], 0
for i in range(n):
    req = urllib.request.Request(base + "/v1/identities?limit=20", headers={"authorization": f"Bearer {token}"})
    t = time.perf_counter()
    try:
        urllib.request.urlopen(req, timeout=30).read()
    except urllib.error.HTTPError:
        errors += 1
    times.append((time.perf_counter() - t) * 1000)
times.sort()
q = lambda p: times[min(len(times) - 1, int(p * len(times)))]
print(f"| {label} | {n} | {errors} | {q(0.50):.1f} | {q(0.95):.1f} | {q(0.99):.1f} |")
PY
}

flood() { # label
  wrk -t 2 -c "$conn" -d "${secs}s" --latency -H "authorization: Bearer $noisy" \
    "$base/v1/memories?limit=1" >"$data/wrk.txt" 2>&1 &
  flood=$!
  sleep 2
  measure "$1"
  wait "$flood" || true
  flood=
  echo "| (the noisy tenant's own flood: $(grep -E 'Requests/sec' "$data/wrk.txt" | tr -s ' ' | cut -d' ' -f2) req/s, p50 $(grep -E '^ +50%' "$data/wrk.txt" | tr -s ' ' | cut -d' ' -f3), p99 $(grep -E '^ +99%' "$data/wrk.txt" | tr -s ' ' | cut -d' ' -f3)) | | | | | |"
}

echo "| the demo tenant, while | calls | errors | p50 ms | p95 ms | p99 ms |"
echo "|---|---|---|---|---|---|"
measure "idle"
flood "$conn connections of the noisy tenant, a cheap condition"
python3 - "$base" "$data/costly.json" <<'PY'
import json, sys, urllib.request
base, spec = sys.argv[1], json.load(open(sys.argv[2]))
req = urllib.request.Request(f"{base}/v1/policies/{spec['policy']}", method="PATCH",
    data=json.dumps({"condition": spec["condition"]}).encode(),
    headers={"content-type": "application/json", "authorization": f"Bearer {spec['token']}"})
urllib.request.urlopen(req, timeout=30).read()
PY
flood "$conn connections of the noisy tenant, the costliest condition"
