-- Roles, groups and policies (the access-control model). The four system roles of each
-- tenant are rows here (so they can be assigned by id) whose permissions come from the
-- code's catalogue (`system_key`); custom roles keep theirs in role_permissions.

create table roles (
    tenant_id   uuid not null references tenants (id) on delete cascade,
    id          uuid not null,
    name        text not null check (name ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    description text not null default '' check (length(description) <= 500),
    system_key  text check (system_key in ('owner', 'admin', 'member', 'viewer')),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    primary key (tenant_id, id)
);
create unique index roles_name_key on roles (tenant_id, name);
create unique index roles_system_key on roles (tenant_id, system_key) where system_key is not null;

create table role_permissions (
    tenant_id  uuid not null,
    role_id    uuid not null,
    permission text not null,
    effect     text not null check (effect in ('allow', 'deny')),
    primary key (tenant_id, role_id, permission),
    foreign key (tenant_id, role_id) references roles (tenant_id, id) on delete cascade
);

create table identity_roles (
    tenant_id   uuid not null,
    identity_id uuid not null,
    role_id     uuid not null,
    granted_at  timestamptz not null default now(),
    primary key (tenant_id, identity_id, role_id),
    foreign key (tenant_id, identity_id) references identities (tenant_id, id) on delete cascade,
    foreign key (tenant_id, role_id) references roles (tenant_id, id) on delete cascade
);
create index identity_roles_role_idx on identity_roles (tenant_id, role_id);

create table groups (
    tenant_id   uuid not null references tenants (id) on delete cascade,
    id          uuid not null,
    parent_id   uuid,
    name        text not null check (length(name) between 1 and 200),
    kind        text not null default 'team'
                check (kind in ('company', 'subsidiary', 'division', 'department', 'team', 'other')),
    description text not null default '' check (length(description) <= 500),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    primary key (tenant_id, id),
    -- A group with children cannot be deleted; the service moves them first.
    foreign key (tenant_id, parent_id) references groups (tenant_id, id),
    check (parent_id is null or parent_id <> id)
);
create index groups_parent_idx on groups (tenant_id, parent_id);

create table group_members (
    tenant_id   uuid not null,
    group_id    uuid not null,
    identity_id uuid not null,
    added_at    timestamptz not null default now(),
    primary key (tenant_id, group_id, identity_id),
    foreign key (tenant_id, group_id) references groups (tenant_id, id) on delete cascade,
    foreign key (tenant_id, identity_id) references identities (tenant_id, id) on delete cascade
);
create index group_members_identity_idx on group_members (tenant_id, identity_id);

create table group_roles (
    tenant_id uuid not null,
    group_id  uuid not null,
    role_id   uuid not null,
    primary key (tenant_id, group_id, role_id),
    foreign key (tenant_id, group_id) references groups (tenant_id, id) on delete cascade,
    foreign key (tenant_id, role_id) references roles (tenant_id, id) on delete cascade
);

create table policies (
    tenant_id        uuid not null references tenants (id) on delete cascade,
    id               uuid not null,
    name             text not null check (length(name) between 1 and 200),
    description      text not null default '' check (length(description) <= 2000),
    effect           text not null check (effect in ('allow', 'deny')),
    priority         integer not null check (priority between -1000000 and 1000000),
    resource_pattern text not null,
    action_pattern   text not null,
    condition        jsonb,
    enabled          boolean not null default true,
    version          integer not null default 1,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    primary key (tenant_id, id)
);
create unique index policies_name_key on policies (tenant_id, lower(name));

-- Every version of every policy, kept after the policy is deleted.
create table policy_versions (
    tenant_id  uuid not null references tenants (id) on delete cascade,
    policy_id  uuid not null,
    version    integer not null,
    change     text not null check (change in ('created', 'updated', 'restored', 'deleted')),
    snapshot   jsonb not null,
    changed_by uuid,
    changed_at timestamptz not null default now(),
    primary key (tenant_id, policy_id, version)
);

do $$
declare t text;
begin
    foreach t in array array['roles', 'role_permissions', 'identity_roles', 'groups',
                             'group_members', 'group_roles', 'policies', 'policy_versions'] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format('create policy tenant_isolation on %I
                            using (tenant_id = tenantry_current_tenant())
                            with check (tenant_id = tenantry_current_tenant())', t);
        execute format('grant select, insert, update, delete on %I to tenantry_app', t);
    end loop;
end
$$;

-- The system roles of every existing tenant, and each identity's former fixed role.
insert into roles (tenant_id, id, name, description, system_key)
select t.id, gen_random_uuid(), k.key, k.description, k.key
from tenants t
cross join (values
    ('owner', 'Everything, including roles, policies and settings'),
    ('admin', 'Manages people, groups, keys and data; reads roles, policies and settings'),
    ('member', 'Works with memories and their own keys; reads the directory'),
    ('viewer', 'Reads the directory, memories and configuration')
) as k (key, description);

insert into identity_roles (tenant_id, identity_id, role_id)
select i.tenant_id, i.id, r.id
from identities i join roles r on r.tenant_id = i.tenant_id and r.system_key = i.role;

alter table identities drop column role;
