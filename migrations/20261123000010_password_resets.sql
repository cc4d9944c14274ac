-- Password reset by email: the mail carries `pr1.<tenant><id><secret>`; only SHA-256 of
-- the secret is stored; a token works once, for an hour.
create table password_resets (
    tenant_id   uuid not null references tenants (id) on delete cascade,
    id          uuid not null,
    identity_id uuid not null,
    token_hash  bytea not null check (length(token_hash) = 32),
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    used_at     timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, identity_id) references identities (tenant_id, id) on delete cascade
);
create index password_resets_identity_idx on password_resets (tenant_id, identity_id, created_at desc);

alter table password_resets enable row level security;
alter table password_resets force row level security;
create policy tenant_isolation on password_resets
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update, delete on password_resets to tenantry_app;
