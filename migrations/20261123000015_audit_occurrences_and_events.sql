-- The audit trail also records what happens without changing data: sign-ins that succeed
-- and fail, and authorizations that are denied. A failed sign-in has no known actor; it is
-- recorded as `anonymous`, with the identity it named (if any) as its target.

alter table audit_log drop constraint audit_log_actor_type_check;
alter table audit_log add constraint audit_log_actor_type_check
    check (actor_type in ('identity', 'api_key', 'super_admin', 'system', 'anonymous'));

-- Reading the trail by action, exactly or by prefix (`auth.sign_in_failed`, `auth.*`): the
-- console's filter, and how a password-guessing run is spotted among a year of records.
create index audit_log_action_idx on audit_log (tenant_id, action text_pattern_ops, seq desc);

-- Events are kept for a while (the server's TENANTRY_EVENT_RETENTION_DAYS), then removed
-- in batches. The outbox stays append-only for the application role; this function, run
-- as its owner inside the tenant's transaction (row-level security still applies), is the
-- only way events leave it.
create function tenantry_events_prune(t_id uuid, days integer, batch integer) returns bigint
language sql security definer set search_path = public
as $$
    with gone as (
        delete from outbox_events
        where tenant_id = t_id
          and id in (select id from outbox_events
                     where tenant_id = t_id and created_at < now() - make_interval(days => days)
                     order by id limit batch)
        returning 1
    )
    select count(*) from gone
$$;
revoke execute on function tenantry_events_prune(uuid, integer, integer) from public;
grant execute on function tenantry_events_prune(uuid, integer, integer) to tenantry_app;

create index outbox_events_created_idx on outbox_events (tenant_id, created_at);
