-- Exports of everything held about a person (GDPR Art. 15/20; docs/data-protection.md,
-- "Export"): a job gathers it into one JSON document, sealed under the person's key, which
-- the link handed out when it was asked for downloads once, until it expires. Erasing the
-- person deletes their exports (and their key would make them unreadable anyway).
create table privacy_exports (
    tenant_id     uuid not null references tenants (id) on delete cascade,
    id            uuid not null,
    identity_id   uuid not null,
    requested_by  uuid,
    status        text not null default 'queued'
                  check (status in ('queued', 'running', 'ready', 'downloaded', 'failed')),
    -- 0-100, and what the job is gathering now.
    progress      integer not null default 0 check (progress between 0 and 100),
    step          text not null default '',
    -- SHA-256 of the link's secret; the secret itself is never stored.
    token_hash    bytea not null check (length(token_hash) = 32),
    document      bytea,
    size_bytes    bigint,
    error         text,
    created_at    timestamptz not null default now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    downloaded_at timestamptz,
    expires_at    timestamptz not null,
    primary key (tenant_id, id),
    foreign key (tenant_id, identity_id) references identities (tenant_id, id) on delete cascade
);
create index privacy_exports_identity_idx on privacy_exports (tenant_id, identity_id, created_at desc);
-- The job's queue: exports waiting for a worker, or whose worker went away.
create index privacy_exports_waiting_idx on privacy_exports (created_at)
    where status in ('queued', 'running');

alter table privacy_exports enable row level security;
alter table privacy_exports force row level security;
create policy tenant_isolation on privacy_exports
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update, delete on privacy_exports to tenantry_app;
