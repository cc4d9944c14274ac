-- Trigram indexes make the console's substring search fast on large tenants.
create extension if not exists pg_trgm;

create table identities (
    tenant_id     uuid not null references tenants (id) on delete cascade,
    id            uuid not null,
    external_id   text check (external_id is null or length(external_id) between 1 and 255),
    email         text check (email is null or length(email) between 3 and 320),
    display_name  text not null default '' check (length(display_name) <= 200),
    kind          text not null check (kind in ('user', 'agent')),
    role          text not null check (role in ('owner', 'admin', 'member', 'viewer')),
    metadata      jsonb not null default '{}'::jsonb check (jsonb_typeof(metadata) = 'object'),
    disabled      boolean not null default false,
    password_hash text,
    created_at    timestamptz not null default now(),
    updated_at    timestamptz not null default now(),
    deleted_at    timestamptz,
    status        text not null generated always as (
                      case when deleted_at is not null then 'deleted'
                           when disabled then 'disabled'
                           else 'active' end) stored,
    search_text   text not null generated always as (
                      lower(coalesce(email, '') || ' ' || display_name || ' ' || coalesce(external_id, ''))) stored,
    primary key (tenant_id, id)
);
create unique index identities_email_key on identities (tenant_id, lower(email)) where email is not null;
create unique index identities_external_id_key on identities (tenant_id, external_id) where external_id is not null;
create index identities_status_idx on identities (tenant_id, status, id desc);
create index identities_search_idx on identities using gin (search_text gin_trgm_ops);

alter table identities enable row level security;
alter table identities force row level security;
create policy tenant_isolation on identities
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update, delete on identities to tenantry_app;
