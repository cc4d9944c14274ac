-- The keys of field-level encryption (docs/data-protection.md): the master key
-- (`TENANTRY_MASTER_KEY`, outside the database) wraps each tenant's keys, and a tenant's data
-- key wraps a key per data subject (identity). Destroying a subject's key makes everything
-- sealed under it unreadable, wherever a copy of the ciphertext lies (crypto-shredding).

-- A tenant's keys: `data` keys seal fields with no one person behind them and wrap the
-- subjects' keys (the highest version seals, every version opens); the `blind` key makes the
-- blind indexes and search grams of sealed values, and is never rotated (every index value
-- would have to be computed again from the opened values).
create table tenant_keys (
    tenant_id  uuid not null references tenants (id) on delete cascade,
    purpose    text not null check (purpose in ('data', 'blind')),
    version    integer not null check (version between 1 and 1000000),
    -- The key sealed by the master key (`crypto::MasterKey::seal`), its context naming the
    -- tenant, purpose and version; the first byte names the master key's version.
    wrapped    bytea not null,
    created_at timestamptz not null default now(),
    primary key (tenant_id, purpose, version)
);

alter table tenant_keys enable row level security;
alter table tenant_keys force row level security;
create policy tenant_isolation on tenant_keys
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
-- Keys are added and re-wrapped (a new master key), never edited otherwise; old data keys
-- are removed once nothing is sealed under them.
grant select, insert, delete on tenant_keys to tenantry_app;
grant update (wrapped) on tenant_keys to tenantry_app;

-- A data subject's key, wrapped by a data key of its tenant (the envelope's header names
-- which version). Deleting the identity deletes its key.
create table subject_keys (
    tenant_id   uuid not null,
    identity_id uuid not null,
    wrapped     bytea not null,
    created_at  timestamptz not null default now(),
    primary key (tenant_id, identity_id),
    foreign key (tenant_id, identity_id) references identities (tenant_id, id) on delete cascade
);

alter table subject_keys enable row level security;
alter table subject_keys force row level security;
create policy tenant_isolation on subject_keys
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, delete on subject_keys to tenantry_app;
grant update (wrapped) on subject_keys to tenantry_app;

-- Every instance keeps its tenants' unwrapped keys in memory; a change to a tenant's keys
-- (a new version, a re-wrap, a removal) tells them to read the keys again.
create function tenantry_tenant_keys_changed() returns trigger
language plpgsql
as $$
begin
    perform pg_notify('tenantry_keys', coalesce(new.tenant_id, old.tenant_id)::text);
    return null;
end
$$;

create trigger tenant_keys_changed
    after insert or update or delete on tenant_keys
    for each row execute function tenantry_tenant_keys_changed();
