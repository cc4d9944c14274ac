-- API keys: secrets for programs. The key a program holds is
-- `tnr_<id as 32 hex digits>_<secret>`; only SHA-256(secret) is stored (the secret has 256
-- bits of entropy, so a fast hash is enough and a lookup costs no argon2 run).
create table api_keys (
    tenant_id    uuid not null references tenants (id) on delete cascade,
    id           uuid not null,
    -- The identity the key acts for; it can never do more than they may.
    identity_id  uuid not null,
    name         text not null check (length(name) between 1 and 100),
    -- Permission patterns (`memories:read`, `memories:*`, `*:read`); the key may do only
    -- what one of them matches.
    scopes       text[] not null,
    secret_hash  bytea not null check (length(secret_hash) = 32),
    created_at   timestamptz not null default now(),
    created_by   uuid,
    expires_at   timestamptz,
    last_used_at timestamptz,
    last_used_ip inet,
    revoked_at   timestamptz,
    primary key (tenant_id, id),
    unique (id),
    foreign key (tenant_id, identity_id) references identities (tenant_id, id) on delete cascade
);
create index api_keys_identity_idx on api_keys (tenant_id, identity_id, created_at desc);

alter table api_keys enable row level security;
alter table api_keys force row level security;
create policy tenant_isolation on api_keys
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update, delete on api_keys to tenantry_app;

-- A presented key names its id but not its tenant, and row-level security hides every
-- key until the tenant is known. This global index answers only "which tenant holds key id
-- X" (ids are random and useless without the secret); everything else about the key is read
-- under row-level security once the tenant is set.
create table api_key_tenants (
    id        uuid primary key references api_keys (id) on delete cascade,
    tenant_id uuid not null references tenants (id) on delete cascade
);
grant select, insert, delete on api_key_tenants to tenantry_app;
