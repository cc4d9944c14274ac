-- Sealing in fewer steps (migration 020 made writers hand their records to a sealer).
--
-- 1. A sealing transaction wrote each record's place in the chain with an UPDATE of its
--    own; it now computes every link first and writes them all with one UPDATE.
-- 2. The server sealed in a transaction of its own (BEGIN with the tenant setting, the
--    call, COMMIT: three round trips, for every commit with audit records). It now sends one
--    statement, `tenantry_audit_seal_now`, which scopes itself to the tenant; PostgreSQL runs
--    it, and commits it, as a transaction of its own.

create or replace function tenantry_audit_seal_any(t_id uuid, max_records integer, skip_locked boolean)
returns bigint
language plpgsql security definer set search_path = public
as $$
declare
    head audit_chain_heads;
    r audit_log;
    ids uuid[] := '{}';
    seqs bigint[] := '{}';
    prevs bytea[] := '{}';
    hashes bytea[] := '{}';
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
        ids := ids || r.id;
        seqs := seqs || r.seq;
        prevs := prevs || r.prev_hash;
        hashes := hashes || r.hash;
        head.seq := r.seq;
        head.hash := r.hash;
    end loop;
    if cardinality(ids) = 0 then
        return 0;
    end if;
    update audit_log a
    set seq = l.seq, prev_hash = l.prev_hash, hash = l.hash
    from unnest(ids, seqs, prevs, hashes) as l (id, seq, prev_hash, hash)
    where a.tenant_id = t_id and a.id = l.id;
    update audit_chain_heads set seq = head.seq, hash = head.hash where tenant_id = t_id;
    return cardinality(ids);
end
$$;

-- Seals the tenant's waiting records in a statement of its own (outside a transaction, or
-- inside one scoped to the same tenant, whose setting it leaves as it found it).
create function tenantry_audit_seal_now(t_id uuid, max_records integer) returns bigint
language plpgsql security definer set search_path = public
as $$
declare
    previous text := nullif(current_setting('tenantry.tenant_id', true), '');
    sealed bigint;
begin
    if previous is not null and previous::uuid is distinct from t_id then
        raise exception 'tenantry_audit_seal_now acts only on the tenant of its transaction'
            using errcode = '42501';
    end if;
    perform set_config('tenantry.tenant_id', t_id::text, true);
    sealed := tenantry_audit_seal_any(t_id, max_records, false);
    perform set_config('tenantry.tenant_id', coalesce(previous, ''), true);
    return sealed;
end
$$;
revoke execute on function tenantry_audit_seal_now(uuid, integer) from public;
grant execute on function tenantry_audit_seal_now(uuid, integer) to tenantry_app;

-- What the server called before; nothing calls it now.
drop function tenantry_audit_seal(uuid, integer);
