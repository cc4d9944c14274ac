-- Identities' personal fields sealed (docs/data-protection.md, "Identities"): an identity's
-- email and display name are stored as envelopes under its data subject's key
-- (`subject_keys`), so destroying that key makes them unreadable wherever they lie.
--
--   email_sealed, display_name_sealed  the envelopes (`privacy::envelope`)
--   email_index   blind index of the trimmed, lowercased address (HMAC under the tenant's
--                 blind-index key): sign-in, password reset, SSO linking and the duplicate
--                 checks find an address by it, and it keeps addresses unique per tenant
--   name_grams    keyed grams of the name and the address, for the console's substring
--                 search (a search's candidates are opened and checked in the server)
--
-- Rows written before this migration keep `email` and `display_name` in plain text until
-- the sealing job reaches them; a sealed row has `email` null and `display_name` empty.
-- Reads take whichever form the row has.
alter table identities
    add column email_sealed        bytea,
    add column display_name_sealed bytea,
    add column email_index         bytea check (email_index is null or length(email_index) = 16),
    add column name_grams          integer[];

create unique index identities_email_index_key on identities (tenant_id, email_index)
    where email_index is not null;
-- Without a pending list, like the other search indexes (migration 025).
create index identities_name_grams_idx on identities using gin (name_grams)
    with (fastupdate = off);

-- The one-trip read (migration 021) returns the sealed fields and the subject's wrapped key
-- beside the plain ones; the server opens them.
drop function tenantry_identity_get(uuid, uuid);
create function tenantry_identity_get(tenant uuid, identity uuid)
returns table (
    tenant_id           uuid,
    id                  uuid,
    external_id         text,
    email               text,
    display_name        text,
    email_sealed        bytea,
    display_name_sealed bytea,
    subject_key         bytea,
    kind                text,
    roles               text[],
    metadata            jsonb,
    status              text,
    created_at          timestamptz,
    updated_at          timestamptz,
    deleted_at          timestamptz
)
language plpgsql
as $$
#variable_conflict use_column
declare
    previous text := current_setting('tenantry.tenant_id', true);
begin
    perform set_config('tenantry.tenant_id', tenant::text, true);
    return query
        select i.tenant_id, i.id, i.external_id, i.email, i.display_name,
               i.email_sealed, i.display_name_sealed,
               (select sk.wrapped from subject_keys sk
                where sk.tenant_id = i.tenant_id and sk.identity_id = i.id), i.kind,
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
