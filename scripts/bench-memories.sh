#!/usr/bin/env bash
# Memories at scale, against the release build and a throwaway PostgreSQL:
#
#   1. ingest: generated sentences stored through the API with the local model embedding
#      them (one at a time with POST /v1/memories, then in bulk with POST /v1/memories/bulk);
#   2. search at ROWS memories in one tenant: end-to-end latency of POST /v1/memories/search
#      (semantic; the query is embedded too), and, inside PostgreSQL, the latency and
#      recall@10 of the indexed search exactly as service::memories::search issues it
#      against an exact scan of the tenant's rows, for several hnsw.ef_search values;
#   3. the same when the tenant holds 1% of 1,000,000 rows among 100 tenants: it keeps
#      10,000 of its memories, the rest move to 99 other tenants, and those get blends of
#      two real vectors until there are 1,000,000 rows (the blends lie where real text does
#      and crowd the measured tenant's neighbourhoods). `memories` is hash-partitioned by tenant (16 partitions), so the
#      measured tenant shares its partition with the few others that hash beside it.
#
# The ingested vectors are kept in ~/.cache/tenantry-bench (TENANTRY_BENCH_CACHE); a later
# run with the same ROWS and QUERIES loads them instead of embedding again (and so skips the
# ingest and API figures); INGEST=1 embeds afresh.
#
#   bash scripts/bench-memories.sh                       # 100,000 memories, 200 queries
#   ROWS=20000 QUERIES=50 SHARE=0 bash scripts/bench-memories.sh   # a quicker look
#   ROWS=20000 bash scripts/bench-memories.sh   # the 1% case from 20,000 real vectors (the
#                                               # tenant keeps 10,000; 5 minutes of ingest)
#   bash scripts/bench-memories.sh load    # search req/s under wrk at ROWS synthetic
#                                          # memories (keyword, hybrid, semantic)
#   bash scripts/bench-memories.sh exact   # exact-scan latency of tenants of 10k/20k/50k
#                                          # rows among 300k (synthetic vectors: the time
#                                          # of an exact scan does not depend on them)
#
# Real embeddings, not random vectors: random points in 384 dimensions are nearly all
# equidistant, which makes "the 10 nearest" arbitrary and recall meaningless.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TENANTRY_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/tenantry-target}/release/tenantry}
rows=${ROWS:-100000}
queries=${QUERIES:-200}
share_case=${SHARE:-1}
total=${TOTAL:-1000000}
efs=${EF_SEARCH:-"40 64 100"}
others=${OTHERS:-99}
keep=${KEEP:-$((total / 100))}   # the measured tenant's rows in the 1% case
cache_dir=${TENANTRY_BENCH_CACHE:-$HOME/.cache/tenantry-bench}
cache=$cache_dir/pool-$rows-$queries.tsv
ingest=${INGEST:-auto}
[ "$ingest" = auto ] && { [ -s "$cache" ] && ingest=0 || ingest=1; }
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
work=$(mktemp -d /tmp/tenantry-mbench-XXXXXX)
chmod 755 "$work"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir "$work/pg"
[ "$(id -u)" -eq 0 ] && chown postgres "$work/pg"
pgport=$(free_port)
port=$(free_port)
base="http://127.0.0.1:$port"
password="bench password 2026"
server=
cleanup() {
  [ -n "$server" ] && { kill -TERM "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; }
  as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
as_pg "$pgbin/initdb" -D "$work/pg/data" -U tenantry --auth=trust --no-sync >/dev/null
as_pg "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -o "-p $pgport -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories= -c fsync=off -c synchronous_commit=off -c shared_buffers=4GB \
  -c maintenance_work_mem=8GB -c max_parallel_maintenance_workers=1 -c max_wal_size=8GB" start >/dev/null
url="postgres://tenantry@127.0.0.1:$pgport/tenantry"
psql -q "postgres://tenantry@127.0.0.1:$pgport/postgres" -c "create database tenantry"

if [ "${1:-}" = exact ]; then
  for f in migrations/*.sql; do psql -q -v ON_ERROR_STOP=1 "$url" -f "$f"; done
  psql -q -v ON_ERROR_STOP=1 "$url" <<'SQL'
set client_min_messages = warning;
insert into tenants (id, slug, name, plan) values
  ('00000000-0000-7000-8000-000000000001', 't10k', 'a', 'pro'),
  ('00000000-0000-7000-8000-000000000002', 't20k', 'b', 'pro'),
  ('00000000-0000-7000-8000-000000000003', 't50k', 'c', 'pro'),
  ('00000000-0000-7000-8000-000000000004', 'others', 'd', 'pro');
drop index memories_embedding_384_idx;
alter table memories disable trigger user;
insert into memories (tenant_id, id, text, embedding, embedding_model, embedding_dim, content_hash)
select case when r < 0.0333 then '00000000-0000-7000-8000-000000000001'::uuid
            when r < 0.1 then '00000000-0000-7000-8000-000000000002'::uuid
            when r < 0.2667 then '00000000-0000-7000-8000-000000000003'::uuid
            else '00000000-0000-7000-8000-000000000004'::uuid end,
       gen_random_uuid(), 'synthetic ' || i,
       l2_normalize((select array_agg(random() - 0.5 + d * 0 + i * 0) from generate_series(1, 384) d)::vector),
       'all-MiniLM-L6-v2', 384, sha256(i::text::bytea)
from (select i, random() r from generate_series(1, 300000) i) s;
analyze memories;
SQL
  echo "| tenant's rows | rows | exact scan p50 | p95 |"
  echo "|---|---|---|---|"
  for t in 1 2 3; do
    psql -q -At -v ON_ERROR_STOP=1 "$url" <<SQL
set role tenantry_app;
select set_config('tenantry.tenant_id', '00000000-0000-7000-8000-00000000000$t', false) \\gset ignored_
create temp table r (ms float8);
do \$\$
declare q vector; t0 timestamptz; x uuid[];
begin
  for i in 1..$queries loop
    q := l2_normalize((select array_agg(random() - 0.5 + d * 0 + i * 0) from generate_series(1, 384) d)::vector);
    t0 := clock_timestamp();
    select array_agg(id) into x from (select id from memories m
      where m.tenant_id = '00000000-0000-7000-8000-00000000000$t' and m.embedding_dim = 384
        and m.embedding_model = 'all-MiniLM-L6-v2'
        and (m.expires_at is null or m.expires_at > now()) and m.deleted_at is null
      order by m.embedding <=> q limit 10) s;
    insert into r values (extract(epoch from clock_timestamp() - t0) * 1000);
  end loop;
end \$\$;
select format('| %s | 300000 | %s ms | %s ms |',
  (select count(*) from memories where tenant_id = '00000000-0000-7000-8000-00000000000$t'),
  round(percentile_cont(0.5) within group (order by ms)::numeric, 2),
  round(percentile_cont(0.95) within group (order by ms)::numeric, 2)) from r;
SQL
  done
  exit 0
fi

DATABASE_URL=$url TENANTRY_DATA_DIR=$work/srv TENANTRY_ADDR=127.0.0.1:$port \
  TENANTRY_DEMO_PASSWORD=$password TENANTRY_RATE_LIMITS=${BENCH_RATE_LIMITS:-false} TENANTRY_LOG=warn TENANTRY_ACCESS_TOKEN_TTL=86400 \
  "$bin" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "$base/readyz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }

if [ "${1:-}" = load ]; then
  # Search under load at ROWS memories in the demo tenant: wrk, 16 connections, each query
  # repeated (its vector comes from the server's query-vector cache after the first request).
  # The rows are synthetic and written straight into PostgreSQL: sentences over a vocabulary
  # of 1,000 made-up words (each in about 2 of every 1,000 rows, as a specific term is) and
  # random unit vectors: for throughput only (recall needs real vectors, see above).
  command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
  echo "==> $rows synthetic memories in the demo tenant, then the vector index" >&2
  psql -q -v ON_ERROR_STOP=1 "$url" <<SQL
set client_min_messages = warning;
create function pg_temp.w(n integer) returns text language sql immutable
  as \$\$ select translate(left(md5('w' || n), 8), '0123456789', 'ghijklmnop') \$\$;
drop index memories_embedding_384_idx;
insert into memories (tenant_id, id, text, embedding, embedding_model, embedding_dim, content_hash)
select t.id, gen_random_uuid(),
       format('Note %s: the %s for team %s was discussed on day %s, with follow-up about the %s.',
              i, pg_temp.w(i % 1000), i % 7, i % 365, pg_temp.w((i * 7 + 3) % 1000)),
       l2_normalize((select array_agg(random() - 0.5 + d * 0 + i * 0) from generate_series(1, 384) d)::vector),
       'all-MiniLM-L6-v2', 384, sha256(('load ' || i)::bytea)
from tenants t, generate_series(1, $rows) i
where t.slug = 'demo';
create index memories_embedding_384_idx on memories
    using hnsw ((embedding::vector(384)) vector_cosine_ops) where embedding_dim = 384;
analyze memories;
SQL
  word=$(psql -At "$url" -c "select translate(left(md5('w0'), 8), '0123456789', 'ghijklmnop')")
  token=$(curl -sf "$base/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"tenant\":\"demo\",\"email\":\"admin@demo.test\",\"password\":\"$password\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  echo "wrk -t2 -c16 -d${SECS:-15}s at $rows memories (query word: $word); $(nproc) cores shared"
  echo "| index state | mode | query | req/s | p50 | p99 | non-2xx |"
  echo "|---|---|---|---|---|---|---|"
  # First right after the insert (what a tenant meets after a bulk ingest or an import, until
  # autovacuum comes), then after VACUUM has merged every GIN index's pending list.
  for state in "after insert" "after VACUUM"; do
  [ "$state" = "after VACUUM" ] && psql -q "$url" -c "vacuum memories"
  for case in "keyword|$word" "hybrid|where is the $word" "semantic|where is the $word"; do
    mode=${case%%|*} q=${case#*|}
    printf 'wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = [[{"mode":"%s","query":"%s"}]]\n' \
      "$mode" "$q" > "$work/q.lua"
    curl -sf "$base/v1/memories/search" -H "authorization: Bearer $token" \
      -H 'content-type: application/json' -d "{\"mode\":\"$mode\",\"query\":\"$q\"}" >/dev/null
    wrk -t2 -c16 -d"${SECS:-15}s" --latency -s "$work/q.lua" -H "authorization: Bearer $token" \
      "$base/v1/memories/search" | awk -v m="$mode" -v q="$q" \
      '/Requests\/sec/{r=$2} $1=="50%"{a=$2} $1=="99%"{b=$2} /Non-2xx/{n=$5}
       END{printf "| %s | %s | `%s` | %s | %s | %s | %s |\n", s, m, q, r, a, b, (n==""?0:n)}' s="$state"
  done
  done
  exit 0
fi

if [ "$ingest" = 1 ]; then
echo "==> ingest: $rows memories and $queries held-out queries through the API" >&2
python3 - "$base" "$password" "$rows" "$queries" "$work/ingest.txt" <<'PY'
import json, random, statistics, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, password, rows, nq, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def call(path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json", **({"authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)

token = call("/v1/auth/token", {"tenant": "demo", "email": "admin@demo.test", "password": password})["access_token"]

# Sentences like the ones agents keep: who did what, about what, where/when, and why.
who = ["The customer", "Our CFO", "Maria from support", "The on-call engineer", "A new hire", "The vendor",
       "The marketing team", "Dr. Chen", "The landlord", "My sister", "The auditor", "An angry user",
       "The design lead", "Grandpa", "The sales rep", "The intern", "The kitchen staff", "Our lawyer",
       "The night nurse", "The coach", "A journalist", "The board", "The pilot", "The teacher"]
did = ["asked about", "complained about", "approved", "rejected", "forgot", "scheduled", "cancelled",
       "praised", "reported a problem with", "wants a refund for", "is worried about", "loves",
       "is allergic to", "renegotiated", "postponed", "double-checked", "lost", "signed",
       "needs help with", "recommended", "prefers", "cannot stand", "is learning", "paid for"]
what = ["the quarterly invoice", "the dentist appointment", "vegetarian lasagna", "the VPN certificate",
        "the hotel booking in Lisbon", "the password reset flow", "peanut butter cookies", "the lease renewal",
        "the database migration", "a trip to Kyoto", "the hiring plan", "the flu vaccine", "jazz piano lessons",
        "the API rate limits", "the wedding venue", "the solar panels", "the insurance claim",
        "the marathon training plan", "the office coffee machine", "the product launch", "the tax return",
        "the dog's vet visit", "the kubernetes upgrade", "the birthday surprise", "the sourdough starter",
        "the conference talk", "the mortgage rate", "the broken laptop", "the french course", "the garden shed"]
when = ["last Monday", "before the holidays", "during the standup", "on the phone this morning",
        "in yesterday's email", "at the board meeting", "twice this month", "after lunch", "in the chat",
        "on Friday evening", "at the airport", "since spring"]
why = ["", "", "", " because the budget is tight", " since the deadline moved", " as the doctor advised",
       " because it broke again", " to save money", " after a bad review", " for the kids",
       " so we should follow up", " and it is urgent"]
rng = random.Random(2026)
seen = set()
def sentence():
    while True:
        s = f"{rng.choice(who)} {rng.choice(did)} {rng.choice(what)} {rng.choice(when)}{rng.choice(why)}."
        if s not in seen:
            seen.add(s)
            return s

queries = [{"text": sentence(), "tags": ["bench-query"], "source": "bench"} for _ in range(nq)]
call("/v1/memories/bulk", {"items": queries}, token)

# One at a time: 4 clients, each request embedded on its own (batched with the others in flight).
single = [{"text": sentence(), "source": "bench"} for _ in range(min(1000, rows))]
t0 = time.perf_counter()
with ThreadPoolExecutor(4) as pool:
    list(pool.map(lambda b: call("/v1/memories", b, token), single))
single_rate = len(single) / (time.perf_counter() - t0)
print(f"    one at a time: {len(single)} memories, {single_rate:.0f}/s", file=sys.stderr)

# In bulk: requests of 100, 2 clients.
rest = rows - len(single)
batches = [[{"text": sentence(), "source": "bench"} for _ in range(min(100, rest - i))] for i in range(0, rest, 100)]
done = 0
t0 = time.perf_counter()
def bulk(items):
    global done
    r = call("/v1/memories/bulk", {"items": items}, token)
    assert r["created"] == len(items), r["created"]
    done += len(items)
    if done % 10000 < len(items):
        print(f"    bulk: {done}/{rest} ({done / (time.perf_counter() - t0):.0f}/s)", file=sys.stderr)
with ThreadPoolExecutor(2) as pool:
    list(pool.map(bulk, batches))
bulk_rate = rest / (time.perf_counter() - t0) if rest else 0

# End to end: one client, semantic search with the query embedded by the server.
lat = []
for q in queries:
    t = time.perf_counter()
    r = call("/v1/memories/search", {"query": q["text"], "mode": "semantic", "top_k": 10,
                                     "filter": {"source": "bench"}}, token)
    lat.append((time.perf_counter() - t) * 1000)
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
with open(out, "w") as f:
    f.write(f"| POST /v1/memories, 4 clients | {len(single)} | {single_rate:.0f} |\n")
    f.write(f"| POST /v1/memories/bulk, 100 per request, 2 clients | {rest} | {bulk_rate:.0f} |\n")
    f.write(f"search_api {pct(0.5):.1f} {pct(0.95):.1f} {pct(0.99):.1f}\n")
PY
  mkdir -p "$cache_dir"
  psql -q -v ON_ERROR_STOP=1 "$url" \
    -c "\\copy (select text, embedding, 'bench-query' = any(tags) from memories) to '$cache.partial'"
  mv "$cache.partial" "$cache"
else
  echo "==> loading $rows memories and $queries queries embedded by an earlier run ($cache)" >&2
  psql -q -v ON_ERROR_STOP=1 "$url" <<SQL
create temp table pool (text text, embedding vector, query bool);
\\copy pool from '$cache'
insert into memories (tenant_id, id, text, embedding, embedding_model, embedding_dim,
                      content_hash, source, tags)
select t.id, gen_random_uuid(), p.text, p.embedding, 'all-MiniLM-L6-v2', 384,
       sha256(convert_to(p.text, 'UTF8')), 'bench',
       case when p.query then '{bench-query}'::text[] else '{}' end
from pool p, tenants t where t.slug = 'demo';
SQL
fi
kill -TERM "$server"; wait "$server" 2>/dev/null || true; server=

measure() { # label; prints one Markdown row per ef_search value
  local label=$1 all
  all=$(psql -At "$url" -c 'select count(*) from memories')
  psql -q -v ON_ERROR_STOP=1 -At "$url" <<SQL
analyze memories;
set role tenantry_app;
select set_config('tenantry.tenant_id', '$tenant', false) \\gset ignored_
create temp table results (ef int, ms float8, recall float8, fallback bool);
do \$\$
declare
  q vector;
  ann uuid[];
  exact uuid[];
  t0 timestamptz;
  ms float8;
  fb bool;
  ef int;
begin
  perform set_config('hnsw.iterative_scan', 'relaxed_order', false);
  foreach ef in array '{${efs// /,}}'::int[] loop
    perform set_config('hnsw.ef_search', ef::text, false);
    for q in select v from bench_queries loop
      t0 := clock_timestamp();
      select array_agg(id) into ann from (
        select id from memories m
        where m.tenant_id = '$tenant' and m.embedding_dim = 384
          and m.embedding_model = 'all-MiniLM-L6-v2'
          and (m.expires_at is null or m.expires_at > now()) and m.deleted_at is null
        order by m.embedding::vector(384) <=> q::vector(384) limit 10) s;
      fb := coalesce(array_length(ann, 1), 0) < 10;
      if fb then
        select array_agg(id) into ann from (
          select id from memories m
          where m.tenant_id = '$tenant' and m.embedding_dim = 384
            and m.embedding_model = 'all-MiniLM-L6-v2'
            and (m.expires_at is null or m.expires_at > now()) and m.deleted_at is null
          order by m.embedding <=> q limit 10) s;
      end if;
      ms := extract(epoch from clock_timestamp() - t0) * 1000;
      select array_agg(id) into exact from (
        select id from memories m
        where m.tenant_id = '$tenant' and m.embedding_dim = 384
          and (m.expires_at is null or m.expires_at > now()) and m.deleted_at is null
        order by m.embedding <=> q limit 10) s;
      insert into results values (ef, ms,
        (select count(*) from unnest(ann) a where a = any(exact))::float8 / 10, fb);
    end loop;
  end loop;
end
\$\$;
select format('| %s | %s | %s | %s | %s ms | %s ms | %s ms | %s | %s |',
  '$label', $all, (select count(*) from memories where tenant_id = '$tenant'), ef,
  round(percentile_cont(0.5) within group (order by ms)::numeric, 2),
  round(percentile_cont(0.95) within group (order by ms)::numeric, 2),
  round(percentile_cont(0.99) within group (order by ms)::numeric, 2),
  round(avg(recall)::numeric, 3), sum(fallback::int))
from results group by ef order by ef;
SQL
}

tenant=$(psql -At "$url" -c "select id from tenants where slug = 'demo'")
# The held-out queries' vectors, then the queries themselves leave the store.
psql -q -v ON_ERROR_STOP=1 "$url" <<SQL
create unlogged table bench_queries as
  select embedding::vector(384) as v from memories where 'bench-query' = any(tags);
grant select on bench_queries to tenantry_app;
alter table memories disable trigger user;
delete from memories where 'bench-query' = any(tags);
alter table memories enable trigger user;
SQL
echo "==> search at $(psql -At "$url" -c 'select count(*) from memories') memories in one tenant" >&2
big=$(measure "one tenant")
share=
if [ "$share_case" = 1 ]; then
  echo "==> building the 1%-of-$total case" >&2
  start=$(date +%s)
  psql -q -v ON_ERROR_STOP=1 "$url" <<SQL
set client_min_messages = warning;
create temp table others as
  select k - 1 as k, gen_random_uuid() as id from generate_series(1, $others) k;
insert into tenants (id, slug, name, plan) select id, 'others-' || k, 'Others ' || k, 'pro' from others;
alter table memories disable trigger user;
create temp table pool as
  select row_number() over (order by id) - 1 as rn, embedding::vector(384) as v from memories;
-- The measured tenant keeps $keep of its memories; the rest move to the other tenants ...
update memories m set tenant_id = o.id, owner_id = null
  from others o
  where m.tenant_id = '$tenant' and o.k = (hashtext(m.id::text) & 2147483647) % $others
    and m.id not in (select id from memories where tenant_id = '$tenant' order by id limit $keep);
drop index memories_embedding_384_idx;
-- ... which also get blends of two real vectors (4:1) until there are $total rows.
insert into memories (tenant_id, id, text, embedding, embedding_model, embedding_dim, content_hash, source)
select o.id, gen_random_uuid(), 'blend ' || g.n || ' ' || a.rn,
       l2_normalize(a.v + b.v * array_fill(0.25::real, array[384])::vector(384)),
       'all-MiniLM-L6-v2', 384, sha256(('blend ' || g.n || ' ' || a.rn)::bytea), 'bench'
from generate_series(1, ceil(($total - (select count(*) from memories)) / (select count(*) from pool)::numeric)::int) g(n)
join pool a on true
join pool b on b.rn = (a.rn * 7919 + g.n * 104729) % (select count(*) from pool)
join others o on o.k = (a.rn + g.n * 31) % $others
limit $total - (select count(*) from memories);
alter table memories enable trigger user;
SQL
  psql -At "$url" -c "select format('    the measured tenant shares its partition with %s other tenants and %s rows',
      count(distinct tenant_id) - 1, count(*) filter (where tenant_id <> '$tenant'))
    from memories where tableoid = (select tableoid from memories where tenant_id = '$tenant' limit 1)" >&2
  echo "==> loaded in $(( $(date +%s) - start )) s; rebuilding the HNSW index" >&2
  start=$(date +%s)
  psql -q -v ON_ERROR_STOP=1 "$url" <<'SQL'
create index memories_embedding_384_idx on memories
    using hnsw ((embedding::vector(384)) vector_cosine_ops) where embedding_dim = 384;
SQL
  echo "==> index over $total rows built in $(( $(date +%s) - start )) s" >&2
  share=$(measure "1% of $total, $((others + 1)) tenants")
fi

if [ "$ingest" = 1 ]; then
  echo
  echo "Ingest through the API (local model, $(nproc) cores shared by server, PostgreSQL and client):"
  echo
  echo "| how | memories | memories/s |"
  echo "|---|---|---|"
  grep '^|' "$work/ingest.txt"
  read -r _ a50 a95 a99 < <(grep '^search_api' "$work/ingest.txt")
  echo
  echo "POST /v1/memories/search (semantic, top 10, query embedded by the server), one client, $queries queries:"
  echo "p50 $a50 ms, p95 $a95 ms, p99 $a99 ms"
fi
echo
echo "Indexed search inside PostgreSQL (server-side time), recall@10 against an exact scan, $queries queries:"
echo
echo "| case | rows | tenant's rows | ef_search | p50 | p95 | p99 | recall@10 | exact fallbacks |"
echo "|---|---|---|---|---|---|---|---|---|"
echo "$big"
[ -n "$share" ] && echo "$share"
