-- Retention (issue 19; docs/data-protection.md, "Retention"): how long a tenant keeps what
-- it no longer uses, applied by a worker on any instance.
--
-- * `disabled_identities_days`: a person disabled for this long is erased (their key
--   destroyed, what derives from their data deleted, a tombstone left), as an owner's
--   erasure does.
-- * `trash_days`: identities and memories in the Trash this long are removed for good
--   (identities erased as above).
-- * `idle_sessions_days`: console sessions not used for this long are ended, API sign-ins
--   (refresh-token families) not used for this long removed.
-- `null` keeps them. Audit records keep their own retention (`tenants.audit_retention_days`,
-- the operator's, and the plan's default).
create table retention (
    tenant_id                uuid primary key references tenants (id) on delete cascade,
    disabled_identities_days integer check (disabled_identities_days between 1 and 36500),
    trash_days               integer check (trash_days between 1 and 36500),
    idle_sessions_days       integer check (idle_sessions_days between 1 and 36500),
    updated_at               timestamptz not null default now(),
    -- When a worker last applied them (claimed, so instances share the work).
    ran_at                   timestamptz
);
alter table retention enable row level security;
alter table retention force row level security;
create policy tenant_isolation on retention
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update on retention to tenantry_app;

-- What each run removed, when it removed anything (its audit record says the same).
create table retention_runs (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id        uuid not null,
    ran_at    timestamptz not null default now(),
    removed   jsonb not null check (jsonb_typeof(removed) = 'object'),
    primary key (tenant_id, id)
);
alter table retention_runs enable row level security;
alter table retention_runs force row level security;
create policy tenant_isolation on retention_runs
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, delete on retention_runs to tenantry_app;

-- When an identity was disabled (for `disabled_identities_days`), kept by a trigger on
-- every path that disables or enables one; identities disabled before this migration count
-- from their last change.
alter table identities add column disabled_at timestamptz;
update identities set disabled_at = updated_at where disabled;
create function tenantry_identities_disabled_at() returns trigger
language plpgsql as $$
begin
    if not new.disabled then
        new.disabled_at := null;
    elsif tg_op = 'INSERT' or not old.disabled then
        new.disabled_at := now();
    end if;
    return new;
end
$$;
create trigger identities_disabled_at before insert or update of disabled on identities
    for each row execute function tenantry_identities_disabled_at();
create index identities_disabled_at_idx on identities (tenant_id, disabled_at)
    where disabled_at is not null;

-- The tenants whose retention is due (never applied, or last applied `every_secs` ago):
-- only their ids. The worker claims each in a transaction of its tenant.
create function tenantry_retention_due(every_secs integer, lim integer)
returns table (tenant_id uuid)
language sql stable security definer set search_path = public
as $$
    select r.tenant_id
    from retention r
    where (r.disabled_identities_days is not null or r.trash_days is not null
           or r.idle_sessions_days is not null)
      and (r.ran_at is null or r.ran_at < now() - make_interval(secs => every_secs))
    order by r.ran_at nulls first
    limit lim
$$;
revoke execute on function tenantry_retention_due(integer, integer) from public;
grant execute on function tenantry_retention_due(integer, integer) to tenantry_app;
