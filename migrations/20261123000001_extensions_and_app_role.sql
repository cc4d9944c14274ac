-- pgvector for memories, and the role the application runs as.
-- The server connects with the database owner (which runs migrations) and then switches to
-- `tenantry_app` with SET ROLE on every pooled connection. `tenantry_app` owns nothing and
-- does not bypass row-level security, so the policies below are a real second wall.
create extension if not exists vector;

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'tenantry_app') then
        create role tenantry_app nologin nobypassrls;
    end if;
end
$$;

-- The migrating role must be able to SET ROLE to it (superusers can anyway).
do $$
begin
    if not pg_has_role(current_user, 'tenantry_app', 'member') then
        execute format('grant tenantry_app to %I', current_user);
    end if;
end
$$;

grant usage on schema public to tenantry_app;

-- The tenant a transaction works for. Unset means "no tenant": every tenant policy then
-- matches no row. `true` makes a missing setting read as NULL instead of an error.
create function tenantry_current_tenant() returns uuid
    language sql stable
as $$ select nullif(current_setting('tenantry.tenant_id', true), '')::uuid $$;
grant execute on function tenantry_current_tenant() to tenantry_app;
