#!/usr/bin/env bash
# A GIN index's pending list (`fastupdate`) against writes and searches, on a scratch
# database (DATABASE_URL; it needs pg_trgm, as Tenantry's does): a table like one memories
# partition, a bulk INSERT of ROWS rows, 5,000 single-row INSERTs, then 200 keyword queries
# as the service sends them, before and after VACUUM, with the list on (4 MB, the default),
# on with a 64 kB limit, and off; then the same for a trigram index like the identities'.
# Figures: docs/benchmarks.md. Creates and drops tables gx and tx.
#   DATABASE_URL=postgres://.../scratch bash scripts/bench-gin.sh
set -euo pipefail
url=${DATABASE_URL:?DATABASE_URL names a scratch database}
rows=${ROWS:-100000}
for v in on small off; do
  case $v in on) opt="fastupdate = on";; small) opt="fastupdate = on, gin_pending_list_limit = 64";; off) opt="fastupdate = off";; esac
  psql -q -At "$url" <<SQL
set client_min_messages = warning;
create or replace function pg_temp.w(n integer) returns text language sql immutable
  as \$\$ select translate(left(md5('w' || n), 8), '0123456789', 'ghijklmnop') \$\$;
drop table if exists gx;
create table gx (id bigserial primary key, text text not null,
  search tsvector not null generated always as (to_tsvector('english', text)) stored);
create index gx_search on gx using gin (search) with ($opt);
create temp table r (what text, ms float8);
do \$\$
declare t0 timestamptz; x bigint[];
begin
  t0 := clock_timestamp();
  insert into gx (text) select format('Note %s: the %s for team %s was discussed on day %s, with follow-up about the %s.',
              i, pg_temp.w(i % 1000), i % 7, i % 365, pg_temp.w((i * 7 + 3) % 1000)) from generate_series(1, $rows) i;
  insert into r values ('bulk insert $rows rows (ms)', extract(epoch from clock_timestamp() - t0) * 1000);
  t0 := clock_timestamp();
  for i in 1..5000 loop
    insert into gx (text) values (format('Later note %s: the %s for team %s was discussed on day %s, with follow-up about the %s.',
              i, pg_temp.w(i % 1000), i % 7, i % 365, pg_temp.w((i * 13 + 5) % 1000)));
  end loop;
  insert into r values ('one row at a time, per row (ms)', extract(epoch from clock_timestamp() - t0) * 1000 / 5000);
end \$\$;
do \$\$
declare t0 timestamptz; x bigint[];
begin
  t0 := clock_timestamp();
  for i in 1..200 loop
    select array_agg(id) into x from (select id from gx, websearch_to_tsquery('english', pg_temp.w(i)) q
      where search @@ q order by ts_rank_cd(search, q, 32) desc, id desc limit 10) s;
  end loop;
  insert into r values ('keyword query before vacuum (ms)', extract(epoch from clock_timestamp() - t0) * 1000 / 200);
end \$\$;
select '$v', what, round(ms::numeric, 3) from r;
SQL
  psql -q -At "$url" -c "vacuum gx" 
  psql -q -At "$url" <<SQL
create or replace function pg_temp.w(n integer) returns text language sql immutable
  as \$\$ select translate(left(md5('w' || n), 8), '0123456789', 'ghijklmnop') \$\$;
do \$\$
declare t0 timestamptz; x bigint[];
begin
  t0 := clock_timestamp();
  for i in 1..200 loop
    select array_agg(id) into x from (select id from gx, websearch_to_tsquery('english', pg_temp.w(i)) q
      where search @@ q order by ts_rank_cd(search, q, 32) desc, id desc limit 10) s;
  end loop;
  raise notice '$v|keyword query after vacuum (ms)|%', round((extract(epoch from clock_timestamp() - t0) * 1000 / 200)::numeric, 3);
end \$\$;
SQL
done
psql -q "$url" -c "drop table if exists gx"
for v in on off; do psql -q -At "$url" <<SQL
set client_min_messages = warning;
create extension if not exists pg_trgm;
drop table if exists tx;
create table tx (id bigserial primary key, s text not null);
create index tx_s on tx using gin (s gin_trgm_ops) with (fastupdate = $v);
insert into tx (s) select lower(format('person%s@example%s.test Person Number %s ext-%s', i, i % 50, i, i))
  from generate_series(1, 20000) i;
create temp table r (what text, ms float8);
do \$\$
declare t0 timestamptz; x bigint[];
begin
  t0 := clock_timestamp();
  for i in 1..5000 loop
    insert into tx (s) values (lower(format('later%s@example%s.test Later Person %s ext-%s', i, i % 50, i, i)));
  end loop;
  insert into r values ('trigram: one row at a time, per row (ms)', extract(epoch from clock_timestamp() - t0) * 1000 / 5000);
  t0 := clock_timestamp();
  for i in 1..200 loop
    select array_agg(id) into x from (select id from tx where s like '%' || 'person ' || (i * 37) || '%' order by id desc limit 50) s;
  end loop;
  insert into r values ('trigram: search before vacuum (ms)', extract(epoch from clock_timestamp() - t0) * 1000 / 200);
end \$\$;
select '$v', what, round(ms::numeric, 3) from r;
drop table tx;
SQL
done
