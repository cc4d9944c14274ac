#!/usr/bin/env bash
# Vector search at scale: recall@10 and latency of the search the memories service runs,
# on synthetic 384-dimensional vectors, in a throwaway PostgreSQL with every migration.
#
#   bash scripts/bench-memories.sh big        # one tenant holding 100,000 memories
#   bash scripts/bench-memories.sh share      # a tenant holding 1% of 1,000,000 memories
#   ROWS=20000 QUERIES=50 bash scripts/bench-memories.sh big   # a quicker look
#
# The vectors are clustered like text embeddings are (400 random unit "topic" centres,
# each memory a centre plus noise, normalized), loaded with SQL, then the HNSW index of
# the migration is built. Each query is a fresh noisy point near a random centre. For
# every query the script runs, inside PostgreSQL (server-side time, no network):
#   * the indexed search exactly as service::memories::search issues it (the tenant and
#     dimension filters, hnsw.iterative_scan = relaxed_order, hnsw.ef_search = 40,
#     ORDER BY the indexed expression, LIMIT 10; and the exact fallback when it returns
#     fewer than 10 rows);
#   * the exact search (ORDER BY the bare column: a scan of the tenant's rows),
# and prints p50/p95/p99 of the first and its recall@10 against the second.
set -euo pipefail
cd "$(dirname "$0")/.."
case=${1:-big}
queries=${QUERIES:-200}
case $case in
  big) rows=${ROWS:-100000}; share=${SHARE:-1.0} ;;
  share) rows=${ROWS:-1000000}; share=${SHARE:-0.01} ;;
  *) echo "usage: $0 big|share" >&2; exit 2 ;;
esac
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
work=$(mktemp -d /tmp/tenantry-vbench-XXXXXX)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { as_pg "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
as_pg "$bin/initdb" -D "$work/data" -U tenantry --auth=trust --no-sync >/dev/null
as_pg "$bin/pg_ctl" -D "$work/data" -l "$work/log" -w -o "-p $port -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories= -c fsync=off -c shared_buffers=2GB -c maintenance_work_mem=4GB \
  -c max_parallel_maintenance_workers=1 -c work_mem=64MB" start >/dev/null
url="postgres://tenantry@127.0.0.1:$port/tenantry"
psql -q "postgres://tenantry@127.0.0.1:$port/postgres" -c "create database tenantry"
for f in migrations/*.sql; do psql -q -v ON_ERROR_STOP=1 "$url" -f "$f"; done

echo "==> loading $rows memories (the measured tenant holds a share of $share)" >&2
start=$(date +%s)
psql -q -v ON_ERROR_STOP=1 "$url" <<SQL
set client_min_messages = warning;
-- Two tenants: the measured one and "the others"; ownerless memories.
insert into tenants (id, slug, name, plan) values
  ('00000000-0000-7000-8000-000000000001', 'measured', 'Measured', 'pro'),
  ('00000000-0000-7000-8000-000000000002', 'others', 'Others', 'pro');
create temp table centres as
  select c, (select array_agg(random() - 0.5) from generate_series(1, 384) where c is not null) as v
  from generate_series(1, 400) c;
drop index memories_embedding_384_idx;
alter table memories disable trigger all;
insert into memories (tenant_id, id, text, embedding, embedding_model, embedding_dim, content_hash)
select case when random() < $share then '00000000-0000-7000-8000-000000000001'::uuid
            else '00000000-0000-7000-8000-000000000002'::uuid end,
       gen_random_uuid(), 'synthetic ' || i,
       l2_normalize((select array_agg(c.v[d] + (random() - 0.5) * 0.6) from generate_series(1, 384) d)::vector),
       'all-MiniLM-L6-v2', 384, sha256(i::text::bytea)
from generate_series(1, $rows) i
join centres c on c.c = 1 + (i % 400);
alter table memories enable trigger all;
SQL
echo "==> loaded in $(( $(date +%s) - start )) s; building the HNSW index" >&2
start=$(date +%s)
psql -q -v ON_ERROR_STOP=1 "$url" <<'SQL'
create index memories_embedding_384_idx on memories
    using hnsw ((embedding::vector(384)) vector_cosine_ops) where embedding_dim = 384;
analyze memories;
SQL
build=$(( $(date +%s) - start ))
echo "==> index built in $build s; running $queries queries" >&2

psql -q -v ON_ERROR_STOP=1 -At "$url" <<SQL
set role tenantry_app;
select set_config('tenantry.tenant_id', '00000000-0000-7000-8000-000000000001', false) \\gset ignored_
create temp table results (ms float8, recall float8, fallback bool);
do \$\$
declare
  q vector;
  ann uuid[];
  exact uuid[];
  t0 timestamptz;
  ms float8;
  fb bool;
  centre float4[];
begin
  perform set_config('hnsw.iterative_scan', 'relaxed_order', false);
  perform set_config('hnsw.ef_search', '40', false);
  for i in 1..$queries loop
    select embedding::real[] into centre from memories
      where tenant_id = '00000000-0000-7000-8000-000000000001'
      offset floor(random() * 50) limit 1;
    q := l2_normalize((select array_agg(x + (random() - 0.5) * 0.6) from unnest(centre) x)::vector);
    t0 := clock_timestamp();
    select array_agg(id) into ann from (
      select id from memories m
      where m.tenant_id = '00000000-0000-7000-8000-000000000001' and m.embedding_dim = 384
        and m.embedding_model = 'all-MiniLM-L6-v2'
        and (m.expires_at is null or m.expires_at > now()) and m.deleted_at is null
      order by m.embedding::vector(384) <=> q::vector(384) limit 10) s;
    fb := coalesce(array_length(ann, 1), 0) < 10;
    if fb then
      select array_agg(id) into ann from (
        select id from memories m
        where m.tenant_id = '00000000-0000-7000-8000-000000000001' and m.embedding_dim = 384
          and m.embedding_model = 'all-MiniLM-L6-v2'
          and (m.expires_at is null or m.expires_at > now()) and m.deleted_at is null
        order by m.embedding <=> q limit 10) s;
    end if;
    ms := extract(epoch from clock_timestamp() - t0) * 1000;
    select array_agg(id) into exact from (
      select id from memories m
      where m.tenant_id = '00000000-0000-7000-8000-000000000001' and m.embedding_dim = 384
        and (m.expires_at is null or m.expires_at > now()) and m.deleted_at is null
      order by m.embedding <=> q limit 10) s;
    insert into results values (ms,
      (select count(*) from unnest(ann) a where a = any(exact))::float8 / 10, fb);
  end loop;
end
\$\$;
select format('| %s | %s | %s | %s ms | %s ms | %s ms | %s | %s | %s s |',
  '$case', $rows, (select count(*) from memories where tenant_id = '00000000-0000-7000-8000-000000000001'),
  round(percentile_cont(0.5) within group (order by ms)::numeric, 2),
  round(percentile_cont(0.95) within group (order by ms)::numeric, 2),
  round(percentile_cont(0.99) within group (order by ms)::numeric, 2),
  round(avg(recall)::numeric, 4), sum(fallback::int), $build)
from results;
SQL
