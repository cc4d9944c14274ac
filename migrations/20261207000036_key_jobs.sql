-- Background jobs over a tenant's sealed data (docs/data-protection.md, "Key jobs"):
--   `seal`   seals what rows written before field-level encryption still hold in plain text
--            (identities, invitations, memories, SSO links);
--   `rotate` makes a new version of the tenant's data key, wraps every key and seals every
--            field the old versions wrapped or sealed again under it, then removes the old
--            versions.
-- Both are resumable: what is left to do is found from the rows themselves (a plain column,
-- an envelope's header naming an older version), so a job whose worker went away is taken
-- again by another under a lease, as exports are, and goes on where the first stopped.
create table key_jobs (
    tenant_id        uuid not null references tenants (id) on delete cascade,
    id               uuid not null,
    kind             text not null check (kind in ('seal', 'rotate')),
    status           text not null default 'queued'
                     check (status in ('queued', 'running', 'done', 'failed')),
    -- `rotate`: the data key's version the job seals under, once it made it.
    data_key_version integer check (data_key_version between 1 and 1000000),
    -- Rows to do in all, and done so far (the total is counted again when a job resumes).
    total            bigint not null default 0 check (total >= 0),
    done             bigint not null default 0 check (done >= 0),
    step             text not null default '',
    -- Who asked for it; null: the server (the sealing queued at start-up).
    requested_by     uuid,
    error            text,
    attempts         integer not null default 0,
    lease_until      timestamptz,
    created_at       timestamptz not null default now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    primary key (tenant_id, id)
);
-- One job at a time per tenant.
create unique index key_jobs_one_open on key_jobs (tenant_id) where status in ('queued', 'running');
create index key_jobs_latest on key_jobs (tenant_id, created_at desc);

alter table key_jobs enable row level security;
alter table key_jobs force row level security;
create policy tenant_isolation on key_jobs
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update on key_jobs to tenantry_app;

-- What the sealing job looks for, cheaply once nothing is left (the indexes are then empty).
create index identities_plain_idx on identities (tenant_id, id) where display_name_sealed is null;
create index invitations_plain_idx on invitations (tenant_id, id) where email is not null;
create index memories_plain_idx on memories (tenant_id, id) where text is not null;
create index sso_links_plain_idx on sso_links (tenant_id, provider_id, subject)
    where email is not null;

-- Jobs waiting for a worker, or whose worker went away, of every tenant.
create function tenantry_key_jobs_due(lim integer)
returns table (tenant_id uuid, id uuid)
language sql stable security definer set search_path = public
as $$
    select j.tenant_id, j.id
    from key_jobs j
    where j.status = 'queued' or (j.status = 'running' and j.lease_until < now())
    order by j.created_at
    limit lim
$$;
revoke execute on function tenantry_key_jobs_due(integer) from public;
grant execute on function tenantry_key_jobs_due(integer) to tenantry_app;

-- Queues a sealing job, by the server, for each tenant that still holds plain personal data
-- and has no job open; returns how many it queued.
create function tenantry_queue_sealing()
returns integer
language plpgsql volatile security definer set search_path = public
as $$
declare
    queued integer;
begin
    insert into key_jobs (tenant_id, id, kind)
    select t.id, gen_random_uuid(), 'seal'
    from tenants t
    where (exists (select 1 from identities i where i.tenant_id = t.id and i.display_name_sealed is null)
           or exists (select 1 from invitations v where v.tenant_id = t.id and v.email is not null)
           or exists (select 1 from memories m where m.tenant_id = t.id and m.text is not null)
           or exists (select 1 from sso_links l where l.tenant_id = t.id and l.email is not null))
      and not exists (select 1 from key_jobs j
                      where j.tenant_id = t.id and j.status in ('queued', 'running'))
    on conflict do nothing;
    get diagnostics queued = row_count;
    return queued;
end
$$;
revoke execute on function tenantry_queue_sealing() from public;
grant execute on function tenantry_queue_sealing() to tenantry_app;
