-- Single sign-on: each tenant's OpenID Connect providers, and which identity a provider's
-- subject is. The client secret is sealed with the master key (XChaCha20-Poly1305, bound to
-- the provider's row); nothing here can be read back as the secret without that key.
create table sso_providers (
    tenant_id        uuid not null references tenants (id) on delete cascade,
    id               uuid not null,
    kind             text not null check (kind in ('google', 'oidc')),
    name             text not null check (length(name) between 1 and 100),
    issuer           text not null check (length(issuer) between 1 and 500),
    client_id        text not null check (length(client_id) between 1 and 500),
    client_secret    bytea not null,
    scopes           text[] not null,
    -- Email domains whose people may sign in; empty: any verified address.
    allowed_domains  text[] not null default '{}',
    -- The role given to identities provisioned on their first sign-in.
    default_role_id  uuid,
    jit_provisioning boolean not null default false,
    enabled          boolean not null default true,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    primary key (tenant_id, id),
    unique (id),
    foreign key (tenant_id, default_role_id) references roles (tenant_id, id)
        on delete set null (default_role_id)
);
create unique index sso_providers_name_key on sso_providers (tenant_id, lower(name));

-- The sign-in route names a provider by id only; as for API keys, this global index says
-- which tenant holds it, and everything else is read under row-level security.
create table sso_provider_tenants (
    id        uuid primary key references sso_providers (id) on delete cascade,
    tenant_id uuid not null references tenants (id) on delete cascade
);
grant select, insert, delete on sso_provider_tenants to tenantry_app;

-- A provider's subject (`sub`, stable per provider) and the identity it signs in as. The
-- first sign-in links by verified email or provisions; later ones follow the link, so an
-- address changed at the provider cannot take over another identity.
create table sso_links (
    tenant_id     uuid not null references tenants (id) on delete cascade,
    provider_id   uuid not null,
    subject       text not null check (length(subject) between 1 and 255),
    identity_id   uuid not null,
    email         text,
    created_at    timestamptz not null default now(),
    last_login_at timestamptz not null default now(),
    primary key (tenant_id, provider_id, subject),
    foreign key (tenant_id, provider_id) references sso_providers (tenant_id, id) on delete cascade,
    foreign key (tenant_id, identity_id) references identities (tenant_id, id) on delete cascade
);
create index sso_links_identity_idx on sso_links (tenant_id, identity_id);

alter table sso_providers enable row level security;
alter table sso_providers force row level security;
create policy tenant_isolation on sso_providers
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update, delete on sso_providers to tenantry_app;

alter table sso_links enable row level security;
alter table sso_links force row level security;
create policy tenant_isolation on sso_links
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update, delete on sso_links to tenantry_app;
