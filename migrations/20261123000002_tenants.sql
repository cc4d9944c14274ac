-- Tenants are global: the login form and the super-admin look them up by slug before any
-- tenant is chosen, so this table has no row-level security (it holds no tenant data).
create table tenants (
    id          uuid primary key,
    slug        text not null unique
                check (slug ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'),
    name        text not null check (length(name) between 1 and 200),
    plan        text not null check (plan in ('free', 'pro', 'enterprise')),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);
grant select, insert, update on tenants to tenantry_app;
