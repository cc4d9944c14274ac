-- Writes no longer queue on the audit chain's head.
--
-- Until now a trigger gave each record its place in its tenant's chain as it was inserted,
-- locking the tenant's head row until the writing transaction committed: one tenant's
-- writes waited for each other's commits. Now a record is inserted unsealed (`seq`,
-- `prev_hash` and `hash` empty) with its place in the order of writing (`pos`, from a
-- sequence), and a sealer links the committed unsealed records of a tenant, in `pos`
-- order, to the chain: the same hash as before (migration 013), given under the head's
-- lock in a short transaction of the sealer's own. Writers never take that lock.
--
-- The server wakes its sealer when a transaction with audit records commits (within
-- milliseconds), sweeps every tenant periodically (records whose instance died between
-- its commit and its sealing), and seals a tenant before reading its trail, so a read sees
-- everything committed before it. A committed record is never lost: it waits, unsealed,
-- for the next sealer. Verification covers the sealed chain and reports the unsealed tail.

drop trigger audit_log_chain on audit_log;
drop function tenantry_audit_chain();

alter table audit_log
    alter column seq drop not null,
    alter column prev_hash drop not null,
    alter column hash drop not null,
    -- The order records were written in; the sealer links them in this order.
    add column pos bigint generated always as identity;

create index audit_log_unsealed_idx on audit_log (tenant_id, pos) where seq is null;

-- The application inserts records but never their place in the chain: the trigger used to
-- overwrite whatever an insert said of it; now the role may not name those columns at all.
revoke insert on audit_log from tenantry_app;
grant insert (tenant_id, id, occurred_at, actor_type, actor_id, action, target_type,
              target_id, outcome, before, after, request_id, ip, user_agent)
    on audit_log to tenantry_app;

-- Links up to `max_records` of the tenant's committed unsealed records to its chain and
-- returns how many it linked. Waits for another sealer of the same tenant, unless
-- `skip_locked`, when it returns 0 at once. Runs as its owner: the application role cannot
-- write a chain column itself.
create function tenantry_audit_seal_any(t_id uuid, max_records integer, skip_locked boolean)
returns bigint
language plpgsql security definer set search_path = public
as $$
declare
    head audit_chain_heads;
    r audit_log;
    sealed bigint := 0;
begin
    if not exists (select 1 from audit_log where tenant_id = t_id and seq is null) then
        return 0;
    end if;
    insert into audit_chain_heads (tenant_id, seq, hash)
    values (t_id, 0, '\x0000000000000000000000000000000000000000000000000000000000000000')
    on conflict do nothing;
    if skip_locked then
        select * into head from audit_chain_heads where tenant_id = t_id for update skip locked;
        if not found then
            return 0;
        end if;
    else
        select * into head from audit_chain_heads where tenant_id = t_id for update;
    end if;
    for r in
        select * from audit_log
        where tenant_id = t_id and seq is null
        order by pos
        limit max_records
    loop
        r.seq := head.seq + 1;
        r.prev_hash := head.hash;
        r.hash := tenantry_audit_digest(r);
        update audit_log set seq = r.seq, prev_hash = r.prev_hash, hash = r.hash
        where tenant_id = t_id and id = r.id;
        head.seq := r.seq;
        head.hash := r.hash;
        sealed := sealed + 1;
    end loop;
    if sealed > 0 then
        update audit_chain_heads set seq = head.seq, hash = head.hash where tenant_id = t_id;
    end if;
    return sealed;
end
$$;
revoke execute on function tenantry_audit_seal_any(uuid, integer, boolean) from public;

-- What the application calls: only for the tenant of its transaction.
create function tenantry_audit_seal(t_id uuid, max_records integer) returns bigint
language plpgsql security definer set search_path = public
as $$
begin
    if t_id is distinct from tenantry_current_tenant() then
        raise exception 'tenantry_audit_seal acts only on the tenant of its transaction'
            using errcode = '42501';
    end if;
    return tenantry_audit_seal_any(t_id, max_records, false);
end
$$;
revoke execute on function tenantry_audit_seal(uuid, integer) from public;
grant execute on function tenantry_audit_seal(uuid, integer) to tenantry_app;

-- The periodic sweep: seals what any tenant has had waiting for at least `min_age_seconds`
-- (younger records are their writer's sealer's to link, a moment after its commit),
-- skipping a tenant another sealer holds, and returns how many records it sealed. It
-- takes no tenant and returns only a count, and sealing is what every write asks for
-- anyway, so the application role may run it outside a tenant's transaction; the tenant
-- setting it uses is its own, undone before it returns.
create function tenantry_audit_seal_pending(max_per_tenant integer, min_age_seconds double precision)
returns bigint
language plpgsql security definer set search_path = public
as $$
declare
    t uuid;
    total bigint := 0;
begin
    if tenantry_current_tenant() is not null then
        raise exception 'tenantry_audit_seal_pending runs outside any tenant''s transaction'
            using errcode = '42501';
    end if;
    for t in select id from tenants loop
        perform set_config('tenantry.tenant_id', t::text, true);
        if exists (select 1 from audit_log
                   where tenant_id = t and seq is null
                     and occurred_at <= now() - make_interval(secs => min_age_seconds)) then
            total := total + tenantry_audit_seal_any(t, max_per_tenant, true);
        end if;
    end loop;
    perform set_config('tenantry.tenant_id', '', true);
    return total;
end
$$;
revoke execute on function tenantry_audit_seal_pending(integer, double precision) from public;
grant execute on function tenantry_audit_seal_pending(integer, double precision) to tenantry_app;

-- Retention seals first, so that what it prunes is a prefix of a chain with no records
-- waiting before it, and its own `audit.pruned` record is sealed by the next sealer.
create or replace function tenantry_audit_prune_any(t_id uuid) returns bigint
language plpgsql security definer set search_path = public
as $$
declare
    t tenants;
    last audit_log;
    removed bigint;
begin
    select * into t from tenants where id = t_id;
    if not found then
        return 0;
    end if;
    perform tenantry_audit_seal_any(t_id, 2147483647, false);
    -- One pruner per tenant at a time (instances run this concurrently).
    perform 1 from audit_chain_heads where tenant_id = t_id for update;
    -- The newest record old enough to go; everything before it in the chain goes too.
    select * into last from audit_log
    where tenant_id = t_id
      and seq = (select max(seq) from audit_log
                 where tenant_id = t_id
                   and occurred_at < now() - make_interval(days => tenantry_audit_retention_days(t)));
    if not found then
        return 0;
    end if;
    delete from audit_log where tenant_id = t_id and seq <= last.seq;
    get diagnostics removed = row_count;
    if removed = 0 then
        return 0;
    end if;
    insert into audit_checkpoints (tenant_id, seq, hash, pruned)
    values (t_id, last.seq, last.hash, removed);
    insert into audit_log (tenant_id, id, actor_type, action, target_type, after)
    values (t_id, gen_random_uuid(), 'system', 'audit.pruned', 'audit',
            jsonb_build_object('removed', removed, 'through_seq', last.seq,
                               'retention_days', tenantry_audit_retention_days(t)));
    return removed;
end
$$;
