-- Memories, hash-partitioned by tenant.
--
-- One HNSW graph over every tenant's memories serves a small tenant badly: its search walks
-- the graph through other tenants' vectors until enough of its own pass the filter
-- (pgvector's iterative scan), which for a tenant holding 1% of a million rows took 52 ms
-- at the 95th percentile (docs/benchmarks.md). Partitioned by tenant, each partition has
-- its own graphs over a sixteenth of the tenants, and a search is planned (or, as a
-- prepared statement, pruned at execution) onto its tenant's partition alone.
--
-- Everything the table had carries over: columns, checks, keys (both already lead with
-- tenant_id, the partition key, as keys of a partitioned table must), the partial HNSW
-- indexes per dimension, row-level security and the application's grants. The application
-- role gets no grant on the partitions themselves: it reaches rows only through `memories`,
-- whose policy applies.

create table memories_next (
    tenant_id       uuid not null,
    id              uuid not null,
    owner_id        uuid,
    text            text not null
                    constraint memories_text_check check (length(text) between 1 and 32000),
    metadata        jsonb not null default '{}'::jsonb
                    constraint memories_metadata_check check (jsonb_typeof(metadata) = 'object'),
    tags            text[] not null default '{}',
    source          text not null default ''
                    constraint memories_source_check check (length(source) <= 200),
    importance      real
                    constraint memories_importance_check
                    check (importance is null or importance between 0 and 1),
    embedding       vector not null,
    embedding_model text not null,
    embedding_dim   integer not null
                    constraint memories_embedding_dim_check check (embedding_dim between 1 and 16000),
    content_hash    bytea not null,
    search          tsvector not null generated always as (to_tsvector('english', text)) stored,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    expires_at      timestamptz,
    deleted_at      timestamptz,
    constraint memories_check check (vector_dims(embedding) = embedding_dim)
) partition by hash (tenant_id);

-- Each partition's dedupe index is named for the key (`memories_p07_dedupe_key`): a unique
-- violation names the partition's index, and the service recognizes a duplicate by it.
-- The parent's index, created below, adopts these.
do $$
declare
    p text;
begin
    for r in 0..15 loop
        p := 'memories_p' || lpad(r::text, 2, '0');
        execute format(
            'create table %I partition of memories_next for values with (modulus 16, remainder %s)',
            p, r);
        execute format(
            'create unique index %I on %I (tenant_id, coalesce(owner_id, %L::uuid), content_hash)
                 where deleted_at is null',
            p || '_dedupe_key', p, '00000000-0000-0000-0000-000000000000');
    end loop;
end
$$;

insert into memories_next (tenant_id, id, owner_id, text, metadata, tags, source, importance,
                           embedding, embedding_model, embedding_dim, content_hash, created_at,
                           updated_at, expires_at, deleted_at)
select tenant_id, id, owner_id, text, metadata, tags, source, importance, embedding,
       embedding_model, embedding_dim, content_hash, created_at, updated_at, expires_at,
       deleted_at
from memories;

drop table memories;
alter table memories_next rename to memories;

alter table memories add constraint memories_pkey primary key (tenant_id, id);
alter table memories add constraint memories_tenant_id_fkey
    foreign key (tenant_id) references tenants (id) on delete cascade;
alter table memories add constraint memories_tenant_id_owner_id_fkey
    foreign key (tenant_id, owner_id) references identities (tenant_id, id) on delete cascade;

create unique index memories_dedupe_key on memories
    (tenant_id, coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid), content_hash)
    where deleted_at is null;
create index memories_owner_idx on memories (tenant_id, owner_id, id desc);
create index memories_trash_idx on memories (tenant_id, deleted_at desc) where deleted_at is not null;
create index memories_expiry_idx on memories (tenant_id, expires_at) where expires_at is not null;
create index memories_model_idx on memories (tenant_id, embedding_model);
create index memories_search_idx on memories using gin (search);
create index memories_tags_idx on memories using gin (tags);
create index memories_metadata_idx on memories using gin (metadata jsonb_path_ops);

create index memories_embedding_384_idx on memories
    using hnsw ((embedding::vector(384)) vector_cosine_ops) where embedding_dim = 384;
create index memories_embedding_768_idx on memories
    using hnsw ((embedding::vector(768)) vector_cosine_ops) where embedding_dim = 768;
create index memories_embedding_1024_idx on memories
    using hnsw ((embedding::vector(1024)) vector_cosine_ops) where embedding_dim = 1024;
create index memories_embedding_1536_idx on memories
    using hnsw ((embedding::vector(1536)) vector_cosine_ops) where embedding_dim = 1536;

alter table memories enable row level security;
alter table memories force row level security;
create policy tenant_isolation on memories
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update, delete on memories to tenantry_app;
