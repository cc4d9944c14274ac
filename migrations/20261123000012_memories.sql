-- Memories: text that identities keep, with its embedding for search by meaning.
--
-- The embedding column has no fixed dimension, because the model in use can change (the
-- local all-MiniLM-L6-v2 gives 384, OpenAI-compatible models 768, 1024, 1536, ...). Each
-- row records its model and dimension; the HNSW indexes are partial, one per dimension, on
-- the column cast to that dimension, and searches use the same expression and predicate.
-- A dimension without an index is still searched, exactly (a sequential scan of the
-- tenant's rows).

create table memories (
    tenant_id       uuid not null references tenants (id) on delete cascade,
    id              uuid not null,
    -- The identity the memory belongs to; null for the tenant's shared memories. A hard
    -- deleted identity takes its memories with it.
    owner_id        uuid,
    text            text not null check (length(text) between 1 and 32000),
    metadata        jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
    tags            text[] not null default '{}',
    source          text not null default '' check (length(source) <= 200),
    importance      real check (importance is null or importance between 0 and 1),
    embedding       vector not null,
    embedding_model text not null,
    embedding_dim   integer not null check (embedding_dim between 1 and 16000),
    -- SHA-256 of the text as stored: the same text for the same owner is kept once.
    content_hash    bytea not null,
    search          tsvector not null generated always as (to_tsvector('english', text)) stored,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    expires_at      timestamptz,
    deleted_at      timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, owner_id) references identities (tenant_id, id) on delete cascade,
    check (vector_dims(embedding) = embedding_dim)
);

-- One live copy of a text per owner (tenant-wide memories share the nil owner).
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

-- The tenant's default lifetime of a new memory (null: memories do not expire).
alter table tenants add column memory_ttl_seconds integer
    check (memory_ttl_seconds is null or memory_ttl_seconds > 0);

-- Agents keep to their own memories: the example policy every tenant starts with. An agent
-- that holds no role granting memories still reads, writes and deletes the memories it
-- owns; a role or a higher-priority policy can grant more or take this away.
with example as (
    insert into policies (tenant_id, id, name, description, effect, priority, resource_pattern,
                          action_pattern, condition, enabled)
    select t.id, gen_random_uuid(), 'Agents keep their own memories',
           'An agent may read, write and delete the memories it owns (resource.owner = principal.id).',
           'allow', 0, 'memories', '*',
           '{"and": [{"==": [{"var": "principal.kind"}, "agent"]},
                     {"==": [{"var": "resource.owner"}, {"var": "principal.id"}]}]}'::jsonb,
           true
    from tenants t
    returning *
)
insert into policy_versions (tenant_id, policy_id, version, change, snapshot)
select tenant_id, id, 1, 'created',
       jsonb_build_object('name', name, 'description', description, 'effect', effect,
                          'priority', priority, 'resource_pattern', resource_pattern,
                          'action_pattern', action_pattern, 'condition', condition,
                          'enabled', enabled)
from example;
