#!/usr/bin/env bash
# What sealing the audit chain costs writers: identity create (wrk, 16 connections) with the
# sealer working, against the same server while another session holds the tenant's chain
# head (the sealer then waits, so writes run with no sealing at all), alternating, twice.
# Over a throwaway PostgreSQL cluster (fsync off) on port 55439, against a release binary:
#
#   bash scripts/bench-chain.sh [path/to/tenantry]     # SECS=15 per row, ROUNDS=2 by default
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-$HOME/.cache/tenantry-target}/release/tenantry}
port=3211; base=http://127.0.0.1:$port; pw="bench password 2026"
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
data=$(mktemp -d /tmp/tenantry-chain-XXXXXX); chmod 755 $data; chown postgres $data
runuser -u postgres -- $pgbin/initdb -D $data/pg -U tenantry --auth=trust --no-sync >/dev/null
runuser -u postgres -- $pgbin/pg_ctl -D $data/pg -l $data/pg.log -w \
  -o "-p 55439 -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off" start >/dev/null
url=postgres://tenantry@127.0.0.1:55439
psql -q "$url/postgres" -c "create database chaincost"
DATABASE_URL=$url/chaincost TENANTRY_DATA_DIR=$data/tenantry TENANTRY_ADDR=127.0.0.1:$port TENANTRY_DEMO_PASSWORD=$pw \
  TENANTRY_RATE_LIMITS=${BENCH_RATE_LIMITS:-false} TENANTRY_LOG=warn TENANTRY_ACCESS_TOKEN_TTL=3600 $bin serve > $data/log 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; runuser -u postgres -- $pgbin/pg_ctl -D $data/pg -m fast stop >/dev/null; rm -rf $data' EXIT
for _ in $(seq 1 300); do curl -sf $base/readyz >/dev/null && break; sleep 0.2; done
token=$(curl -sf $base/v1/auth/token -H 'content-type: application/json' \
  -d "{\"tenant\":\"demo\",\"email\":\"admin@demo.test\",\"password\":\"$pw\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
cat > $data/create.lua <<'LUA'
local counter = 0
local threads = {}
function setup(thread) thread:set("tid", #threads); table.insert(threads, thread) end
function init(args) wrk.method = "POST"; wrk.headers["content-type"] = "application/json"; math.randomseed(os.time() + tid * 7919) end
function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format('{"email":"c-%d-%d-%d@bench.test","display_name":"Load"}', tid, counter, math.random(1e9)))
end
LUA
runit() { wrk -t2 -c16 -d${SECS:-15}s --latency -s $data/create.lua -H "authorization: Bearer $token" $base/v1/identities \
  | awk -v l="$1" '/Requests\/sec/{r=$2} $1=="50%"{a=$2} $1=="99%"{b=$2} /Non-2xx/{n=$5} END{printf "| %s | %s | %s | %s | %s |\n", l, r, a, b, (n==""?0:n)}'; }
tenant=$(psql -At "$url/chaincost" -c "select id from tenants where slug='demo'")
runit "sealer working (warm-up)" >/dev/null
echo "| rows | req/s | p50 | p99 | non-2xx |"
echo "|---|---|---|---|---|"
for round in $(seq 1 ${ROUNDS:-2}); do
  runit "round $round: sealer working"
  # Hold the head: the sealer waits on it, writers do not.
  ( psql -q "$url/chaincost" <<SQL
begin;
select 1 from audit_chain_heads where tenant_id = '$tenant' for update;
select pg_sleep(${SECS:-15} + 3);
commit;
SQL
  ) >/dev/null &
  holder=$!; sleep 1
  runit "round $round: no sealing (head held)"
  wait $holder
  sleep 2
done
echo "unsealed after the runs (all sealed once the head is free): $(psql -At "$url/chaincost" -c "select count(*) from audit_log where seq is null")"
