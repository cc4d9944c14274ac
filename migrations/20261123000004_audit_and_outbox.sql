-- Every state change writes one audit record and one outbox event in its own transaction.
create table audit_log (
    tenant_id    uuid not null references tenants (id) on delete cascade,
    id           uuid not null,
    occurred_at  timestamptz not null default now(),
    actor_type   text not null check (actor_type in ('identity', 'api_key', 'super_admin', 'system')),
    actor_id     uuid,
    action       text not null,
    target_type  text not null,
    target_id    uuid,
    outcome      text not null default 'success' check (outcome in ('success', 'failure', 'denied')),
    before       jsonb,
    after        jsonb,
    request_id   text,
    ip           inet,
    user_agent   text,
    primary key (tenant_id, id)
);
create index audit_log_target_idx on audit_log (tenant_id, target_type, target_id, id desc);

create table outbox_events (
    tenant_id    uuid not null references tenants (id) on delete cascade,
    id           uuid not null,
    event_type   text not null,
    subject_type text not null,
    subject_id   uuid,
    payload      jsonb not null,
    audit_id     uuid,
    created_at   timestamptz not null default now(),
    primary key (tenant_id, id)
);
create index outbox_events_type_idx on outbox_events (tenant_id, event_type, id desc);

alter table audit_log enable row level security;
alter table audit_log force row level security;
create policy tenant_isolation on audit_log
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());

alter table outbox_events enable row level security;
alter table outbox_events force row level security;
create policy tenant_isolation on outbox_events
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());

-- Append-only for the application: no update or delete grants.
grant select, insert on audit_log to tenantry_app;
grant select, insert on outbox_events to tenantry_app;
