-- The functions that run as the owner act only for the tenant of the calling transaction:
-- the application role could otherwise prune another tenant's audit trail or events by
-- naming it. The unchecked bodies keep their code under new names the application cannot
-- call; the names it calls check the tenant first.
alter function tenantry_audit_prune(uuid) rename to tenantry_audit_prune_any;
revoke execute on function tenantry_audit_prune_any(uuid) from tenantry_app;
create function tenantry_audit_prune(t_id uuid) returns bigint
language plpgsql security definer set search_path = public
as $$
begin
    if t_id is distinct from tenantry_current_tenant() then
        raise exception 'tenantry_audit_prune acts only on the tenant of its transaction'
            using errcode = '42501';
    end if;
    return tenantry_audit_prune_any(t_id);
end
$$;
revoke execute on function tenantry_audit_prune(uuid) from public;
grant execute on function tenantry_audit_prune(uuid) to tenantry_app;

alter function tenantry_events_prune(uuid, integer, integer) rename to tenantry_events_prune_any;
revoke execute on function tenantry_events_prune_any(uuid, integer, integer) from tenantry_app;
create function tenantry_events_prune(t_id uuid, days integer, batch integer) returns bigint
language plpgsql security definer set search_path = public
as $$
begin
    if t_id is distinct from tenantry_current_tenant() then
        raise exception 'tenantry_events_prune acts only on the tenant of its transaction'
            using errcode = '42501';
    end if;
    return tenantry_events_prune_any(t_id, days, batch);
end
$$;
revoke execute on function tenantry_events_prune(uuid, integer, integer) from public;
grant execute on function tenantry_events_prune(uuid, integer, integer) to tenantry_app;

-- A tenant's plan and its audit retention are the operator's to change, not the
-- application role's: it may update only what tenant admins set.
revoke update on tenants from tenantry_app;
grant update (name, memory_ttl_seconds, updated_at) on tenants to tenantry_app;
