-- Metadata marked personal (docs/data-protection.md, "Identities"): an identity's
-- `personal_metadata` (any JSON object: a phone number, an address, a birth date) is stored
-- only sealed under the person's key, never in the clear, never searchable and never seen
-- by access-control conditions (which read `metadata`). Null when the person has none.
alter table identities add column personal_metadata_sealed bytea
    check (personal_metadata_sealed is null or length(personal_metadata_sealed) <= 100000);

drop function tenantry_identity_get(uuid, uuid);
create function tenantry_identity_get(tenant uuid, identity uuid)
returns table (
    tenant_id                uuid,
    id                       uuid,
    external_id              text,
    email                    text,
    display_name             text,
    email_sealed             bytea,
    display_name_sealed      bytea,
    personal_metadata_sealed bytea,
    subject_key              bytea,
    kind                     text,
    roles                    text[],
    metadata                 jsonb,
    status                   text,
    created_at               timestamptz,
    updated_at               timestamptz,
    deleted_at               timestamptz
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
               i.email_sealed, i.display_name_sealed, i.personal_metadata_sealed,
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
