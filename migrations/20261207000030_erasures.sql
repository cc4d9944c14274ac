-- Tombstones of erased people (docs/data-protection.md, "Erasure"): who was erased, when,
-- by whom, and how much was removed with them. Nothing personal: the identity's id is the
-- pseudonym the audit trail knows the person by. A tombstone is never edited.
create table erasures (
    tenant_id   uuid not null references tenants (id) on delete cascade,
    identity_id uuid not null,
    erased_at   timestamptz not null default now(),
    erased_by   uuid,
    removed     jsonb not null default '{}'::jsonb check (jsonb_typeof(removed) = 'object'),
    primary key (tenant_id, identity_id)
);

alter table erasures enable row level security;
alter table erasures force row level security;
create policy tenant_isolation on erasures
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert on erasures to tenantry_app;
