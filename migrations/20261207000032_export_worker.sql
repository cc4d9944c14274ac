-- Exports are made by a worker on the server's own runtime (any instance), not by a task of
-- the request that asked: the request only queues the export and wakes the workers
-- (NOTIFY tenantry_exports). A worker claims an export by setting a lease that its progress
-- renews; an export whose worker went away (lease run out) is claimed again, at most three
-- times, then marked failed.
alter table privacy_exports
    add column lease_until timestamptz,
    add column attempts integer not null default 0;

-- The exports waiting for a worker, across tenants: only their ids, oldest first. The
-- worker claims each in a transaction of the export's tenant.
create function tenantry_privacy_exports_due(lim integer)
returns table (tenant_id uuid, id uuid)
language sql stable security definer set search_path = public
as $$
    select e.tenant_id, e.id
    from privacy_exports e
    where e.status = 'queued' or (e.status = 'running' and e.lease_until < now())
    order by e.created_at
    limit lim
$$;
revoke execute on function tenantry_privacy_exports_due(integer) from public;
grant execute on function tenantry_privacy_exports_due(integer) to tenantry_app;
