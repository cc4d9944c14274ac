-- Console sessions (tower-sessions). Looked up by the hash of the cookie's id before any
-- tenant is known, so no row-level security; the id itself is never stored.
create table sessions (
    id_hash      bytea primary key,
    data         jsonb not null,
    expires_at   timestamptz not null,
    tenant_id    uuid references tenants (id) on delete cascade,
    identity_id  uuid,
    created_at   timestamptz not null default now(),
    last_seen_at timestamptz not null default now()
);
create index sessions_identity_idx on sessions (tenant_id, identity_id);
create index sessions_expiry_idx on sessions (expires_at);
grant select, insert, update, delete on sessions to tenantry_app;

-- Refresh tokens rotate on every use; a family is every token descended from one sign-in.
create table refresh_tokens (
    tenant_id    uuid not null references tenants (id) on delete cascade,
    id           uuid not null,
    family_id    uuid not null,
    identity_id  uuid not null,
    token_hash   bytea not null,
    created_at   timestamptz not null default now(),
    expires_at   timestamptz not null,
    used_at      timestamptz,
    revoked_at   timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, identity_id) references identities (tenant_id, id) on delete cascade
);
create index refresh_tokens_family_idx on refresh_tokens (tenant_id, family_id);
alter table refresh_tokens enable row level security;
alter table refresh_tokens force row level security;
create policy tenant_isolation on refresh_tokens
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update, delete on refresh_tokens to tenantry_app;

-- JWT signing keys: global, the private half sealed with the master key.
create table signing_keys (
    kid          text primary key,
    algorithm    text not null check (algorithm = 'EdDSA'),
    public_key   bytea not null,
    private_key_sealed bytea not null,
    created_at   timestamptz not null default now(),
    retired_at   timestamptz
);
grant select, insert, update on signing_keys to tenantry_app;

-- Sign-in throttle counters, shared by every server instance: failed attempts in the
-- current window, and attempts being checked right now.
create table login_throttle (
    key          text primary key,
    failures     integer not null default 0,
    inflight     integer not null default 0,
    window_start timestamptz not null,
    locked_until timestamptz
);
grant select, insert, update, delete on login_throttle to tenantry_app;
