-- Sealing in one statement (migration 020 made writers hand their records to a sealer).
--
-- The server sealed in a transaction of its own (BEGIN with the tenant setting, the call,
-- COMMIT: three round trips, for every commit with audit records). It now sends one
-- statement, `tenantry_audit_seal_now`, which scopes itself to the tenant; PostgreSQL runs
-- it, and commits it, as a transaction of its own.
--
-- (Writing a batch's links with one UPDATE joined to arrays, rather than one UPDATE per
-- record, was tried and left out: once PostgreSQL caches a generic plan for it inside the
-- function, the plan reads the tenant's whole trail by its tenant id on every seal.)

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
