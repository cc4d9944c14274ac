-- Reads of one object in one round trip. A tenant-scoped read normally opens a transaction
-- that points row-level security at the tenant (BEGIN and `tenantry.tenant_id` in one
-- message), sends its query, and ends: two round trips on the request's path and a third
-- after it. A function can set the tenant and read in a single statement, which PostgreSQL
-- runs in a transaction of its own: the setting lives only as long as that statement, and
-- row-level security still applies to the read (the function runs with the caller's rights,
-- as `tenantry_app`). Called inside a transaction, it puts back the tenant it found, so the
-- transaction's own scope is unchanged.
--
-- `service::db::Db::get` uses these; a kind without one reads in a transaction as before.

create function tenantry_identity_get(tenant uuid, identity uuid)
returns table (
    tenant_id    uuid,
    id           uuid,
    external_id  text,
    email        text,
    display_name text,
    kind         text,
    roles        text[],
    metadata     jsonb,
    status       text,
    created_at   timestamptz,
    updated_at   timestamptz,
    deleted_at   timestamptz
)
language plpgsql
as $$
#variable_conflict use_column
declare
    previous text := current_setting('tenantry.tenant_id', true);
begin
    perform set_config('tenantry.tenant_id', tenant::text, true);
    return query
        select i.tenant_id, i.id, i.external_id, i.email, i.display_name, i.kind,
               array(select r.name from identity_roles ir
                     join roles r on r.tenant_id = ir.tenant_id and r.id = ir.role_id
                     where ir.tenant_id = i.tenant_id and ir.identity_id = i.id
                     order by r.name),
               i.metadata, i.status, i.created_at, i.updated_at, i.deleted_at
        from identities i
        where i.tenant_id = tenant and i.id = identity;
    perform set_config('tenantry.tenant_id', coalesce(previous, ''), true);
end
$$;
revoke execute on function tenantry_identity_get(uuid, uuid) from public;
grant execute on function tenantry_identity_get(uuid, uuid) to tenantry_app;
