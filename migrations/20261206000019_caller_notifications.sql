-- Each server instance keeps the callers it has seen in memory (their status, profile,
-- roles, groups and tenant, and the API keys they present; see service::auth::callers).
-- Every change that can alter one of them tells every instance at commit, whatever code
-- made the change, so a disable, a role taken away or a key revoked takes effect at once
-- everywhere. Payloads on the channel `tenantry_callers`:
--   `<tenant id>`                 every caller of the tenant
--   `<tenant id> <identity id>`   one caller
--   `key <api key id>`            one API key
--
-- The transaction also notes what it changed in `tenantry.callers_changed` (the payload, or
-- `*` once it changed more than one thing), so the instance that commits it forgets those
-- entries at once rather than when its own notification comes back.
--
-- An identity created in the same transaction cannot have been seen by any instance yet,
-- so its first roles and groups send nothing: a NOTIFY serialises commits database-wide,
-- and creating identities must not pay for it.
create function tenantry_note_caller_change(payload text) returns void
language plpgsql as $$
declare
    noted text := current_setting('tenantry.callers_changed', true);
begin
    perform pg_notify('tenantry_callers', payload);
    if noted is null or noted = '' then
        perform set_config('tenantry.callers_changed', payload, true);
    elsif noted <> payload and noted <> '*' then
        perform set_config('tenantry.callers_changed', '*', true);
    end if;
end
$$;

create function tenantry_caller_changed() returns trigger
language plpgsql as $$
declare
    r record;
begin
    if tg_op = 'DELETE' then
        r := old;
    else
        r := new;
    end if;
    if tg_table_name = 'tenants' then
        perform tenantry_note_caller_change(r.id::text);
    elsif tg_table_name = 'api_keys' then
        perform tenantry_note_caller_change('key ' || r.id::text);
    elsif tg_table_name = 'identities' then
        if tg_op <> 'UPDATE' or r.created_at <> now() then
            perform tenantry_note_caller_change(r.tenant_id::text || ' ' || r.id::text);
        end if;
    else
        -- identity_roles, group_members
        if tg_op <> 'INSERT' or not exists (
            select 1 from identities i
            where i.tenant_id = r.tenant_id and i.id = r.identity_id and i.created_at = now()
        ) then
            perform tenantry_note_caller_change(r.tenant_id::text || ' ' || r.identity_id::text);
        end if;
    end if;
    return null;
end
$$;

create trigger tenants_caller_changed after update or delete on tenants
    for each row execute function tenantry_caller_changed();
create trigger identities_caller_changed after update or delete on identities
    for each row execute function tenantry_caller_changed();
create trigger identity_roles_caller_changed after insert or update or delete on identity_roles
    for each row execute function tenantry_caller_changed();
create trigger group_members_caller_changed after insert or update or delete on group_members
    for each row execute function tenantry_caller_changed();
-- Not when only `last_used_*` moves: that happens as keys are used.
create trigger api_keys_caller_changed
    after update of identity_id, name, scopes, secret_hash, expires_at, revoked_at or delete
    on api_keys
    for each row execute function tenantry_caller_changed();
