#!/usr/bin/env bash
# Webhook delivery, against the release build, a throwaway PostgreSQL and the local
# receiver of the tests (end2end/webhooks/receiver.mjs, node):
#
#   1. throughput: EVENTS identities are created while no instance delivers, each event
#      matching SUBS subscriptions, so EVENTS x SUBS deliveries wait; then an instance with
#      WORKERS delivery loops starts and the script times how fast the receiver gets them
#      all (deliveries/s);
#   2. latency when not backlogged: RATE events per second for SECONDS seconds, each to
#      SUBS subscriptions, with the deliverer running; the receiver notes, for every
#      message, the time from the event (its `timestamp`, set in the change's transaction)
#      to its arrival: p50, p95, p99.
#
# Every message is signed (HMAC-SHA256) as always; the receiver answers 200 without
# checking signatures here (the tests check them with the official library), so that it
# measures the server, not the receiver's JavaScript HMAC.
#
#   bash scripts/bench-webhooks.sh                    # 20 subscriptions, 2,500 events
#   SUBS=10 EVENTS=500 RATE=20 bash scripts/bench-webhooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TENANTRY_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/tenantry-target}/release/tenantry}
subs=${SUBS:-20}
events=${EVENTS:-2500}
workers=${WORKERS:-4}
rate=${RATE:-25}
seconds=${SECONDS_RUN:-30}
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
work=$(mktemp -d /tmp/tenantry-wbench-XXXXXX)
chmod 755 "$work"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir "$work/pg"
[ "$(id -u)" -eq 0 ] && chown postgres "$work/pg"
pgport=$(free_port)
port=$(free_port)
rport=$(free_port)
base="http://127.0.0.1:$port"
password="bench password 2026"
server=
receiver=
cleanup() {
  [ -n "$server" ] && { kill -TERM "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; }
  [ -n "$receiver" ] && kill "$receiver" 2>/dev/null || true
  as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
as_pg "$pgbin/initdb" -D "$work/pg/data" -U tenantry --auth=trust --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -o "-p $pgport -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories= -c shared_buffers=1GB" start >/dev/null
url="postgres://tenantry@127.0.0.1:$pgport/tenantry"
psql -q "postgres://tenantry@127.0.0.1:$pgport/postgres" -c "create database tenantry"

node end2end/webhooks/receiver.mjs "$rport" --quiet >"$work/receiver.log" 2>&1 &
receiver=$!

start_server() { # $1: delivery loops
  DATABASE_URL=$url TENANTRY_DATA_DIR=$work/srv TENANTRY_ADDR=127.0.0.1:$port \
    TENANTRY_DEMO_PASSWORD=$password TENANTRY_RATE_LIMITS=${BENCH_RATE_LIMITS:-false} TENANTRY_LOG=warn TENANTRY_ACCESS_TOKEN_TTL=86400 \
    TENANTRY_WEBHOOKS_ALLOW_PRIVATE=true TENANTRY_WEBHOOKS_WORKERS="$1" TENANTRY_DB_MAX_CONNECTIONS=30 \
    "$bin" serve >>"$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 600); do curl -sf "$base/readyz" >/dev/null && return 0; sleep 0.1; done
  cat "$work/server.log" >&2
  exit 1
}
stop_server() { kill -TERM "$server"; wait "$server" 2>/dev/null || true; server=; }

start_server 0
BASE=$base RECEIVER="http://127.0.0.1:$rport" PASSWORD=$password SUBS=$subs EVENTS=$events \
  python3 - <<'PY'
import json, os, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, receiver = os.environ["BASE"], os.environ["RECEIVER"]
def call(path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json", **({"authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
token = call("/v1/auth/token", {"tenant": "demo", "email": "admin@demo.test", "password": os.environ["PASSWORD"]})["access_token"]
open(os.environ.get("TOKEN_FILE", "/dev/null"), "w").write(token)
for i in range(int(os.environ["SUBS"])):
    call("/v1/webhooks", {"name": f"bench {i}", "url": f"{receiver}/hook/s{i}", "event_types": ["identity.*"]}, token)
with ThreadPoolExecutor(4) as pool:
    list(pool.map(lambda i: call("/v1/identities", {"email": f"backlog-{i}@bench.test"}, token), range(int(os.environ["EVENTS"]))))
PY
backlog=$((subs * events))
stop_server
echo "backlog: $events events x $subs subscriptions = $backlog deliveries waiting"

start_server "$workers"
RECEIVER="http://127.0.0.1:$rport" BACKLOG=$backlog python3 - <<'PY'
import json, os, time, urllib.request
receiver, backlog = os.environ["RECEIVER"], int(os.environ["BACKLOG"])
def count():
    with urllib.request.urlopen(receiver + "/count") as r:
        return json.load(r)["total"]
start, first = None, None
deadline = time.time() + 600
while time.time() < deadline:
    n = count()
    if n > 0 and start is None:
        start, first = time.time(), n
    if n >= backlog:
        break
    time.sleep(0.05)
took = time.time() - start
print(f"throughput: {n - first} deliveries in {took:.2f} s = {(n - first) / took:.0f} deliveries/s")
urllib.request.urlopen(urllib.request.Request(receiver + "/latencies", method="POST")).read()
PY
echo "after the backlog, in the database (each delivery once, each attempt logged):"
psql -qAt -F ' ' "$url" -c "select '  deliveries ' || status, count(*) from webhook_deliveries group by status" \
  -c "select '  attempts', count(*) from webhook_attempts"

TOKEN=$(curl -sf "$base/v1/auth/token" -H 'content-type: application/json' \
  -d "{\"tenant\":\"demo\",\"email\":\"admin@demo.test\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
BASE=$base RECEIVER="http://127.0.0.1:$rport" TOKEN=$TOKEN RATE=$rate SECONDS_RUN=$seconds SUBS=$subs \
  python3 - <<'PY'
import json, os, threading, time, urllib.request
base, receiver, token = os.environ["BASE"], os.environ["RECEIVER"], os.environ["TOKEN"]
rate, seconds, subs = float(os.environ["RATE"]), int(os.environ["SECONDS_RUN"]), int(os.environ["SUBS"])
def create(i):
    req = urllib.request.Request(base + "/v1/identities", method="POST",
        data=json.dumps({"email": f"steady-{i}@bench.test"}).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer " + token})
    urllib.request.urlopen(req).read()
threads, t0 = [], time.time()
for i in range(int(rate * seconds)):
    wait = t0 + i / rate - time.time()
    if wait > 0:
        time.sleep(wait)
    t = threading.Thread(target=create, args=(i,))
    t.start()
    threads.append(t)
for t in threads:
    t.join()
expected = int(rate * seconds) * subs
lat = []
deadline = time.time() + 60
while len(lat) < expected and time.time() < deadline:
    time.sleep(0.5)
    with urllib.request.urlopen(urllib.request.Request(receiver + "/latencies", method="POST")) as r:
        lat += json.load(r)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"latency at {rate:g} events/s x {subs} subscriptions = {rate * subs:.0f} deliveries/s for {seconds} s: "
      f"{len(lat)} of {expected} delivered; event to delivery p50 {q(0.50)} ms, p95 {q(0.95)} ms, p99 {q(0.99)} ms, max {lat[-1]} ms")
PY
