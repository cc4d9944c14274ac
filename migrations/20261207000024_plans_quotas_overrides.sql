-- Plans become the operator's data (any name, created and edited through
-- /v1/admin/plans), gain quotas (how many of a kind a tenant may hold; null: no limit), and
-- a tenant may have overrides of its plan's figures. API keys may carry a rate of their own.
-- Limits are cached per tenant by every instance; changes are announced on the channel
-- `tenantry_limits` (payload: a tenant's id, or `*` when a plan changed).

alter table plans drop constraint plans_name_check;
-- A tenant's plan is any plan (the foreign key of migration 23 says which exist).
alter table tenants drop constraint tenants_plan_check;
alter table plans add constraint plans_name_format check (name ~ '^[a-z][a-z0-9-]{0,31}$');
alter table plans
    add column max_identities integer check (max_identities between 1 and 100000000),
    add column max_memories   integer check (max_memories between 0 and 1000000000),
    add column max_webhooks   integer check (max_webhooks between 0 and 100000),
    add column max_policies   integer check (max_policies between 0 and 1000000),
    add column max_api_keys   integer check (max_api_keys between 0 and 1000000),
    add column description    text not null default '' check (length(description) <= 500);

update plans set max_identities = 100, max_memories = 10000, max_webhooks = 5,
                 max_policies = 100, max_api_keys = 20,
                 description = 'For trying Tenantry out.'
where name = 'free';
update plans set max_identities = 100000, max_memories = 1000000, max_webhooks = 50,
                 max_policies = 2000, max_api_keys = 1000,
                 description = 'For teams in production.'
where name = 'pro';
update plans set description = 'No quotas; the highest rates.' where name = 'enterprise';

-- The operator writes plans, and moves tenants between them, through the application's
-- super-admin door.
grant insert, update, delete on plans to tenantry_app;
grant update (plan) on tenants to tenantry_app;

-- ... and only there: a tenant's plan changes only in a transaction that says it is the
-- operator's (service::limits::plans::set_tenant), so no tenant-scoped code moves its own
-- tenant to another plan by mistake or by injection.
create function tenantry_guard_plan() returns trigger
language plpgsql as $$
begin
    if coalesce(current_setting('tenantry.operator', true), '') <> 'on' then
        raise exception 'permission denied: a tenant''s plan changes only through the operator''s door'
            using errcode = '42501';
    end if;
    return new;
end
$$;
create trigger tenants_plan_guard before update of plan on tenants
    for each row when (old.plan is distinct from new.plan)
    execute function tenantry_guard_plan();

-- A tenant's departures from its plan: a JSON object whose keys are the plan's figures
-- (`tenant_rate`, `max_identities`, ...). A key that is absent takes the plan's value; a
-- quota set to null has no limit. Written and checked only by service::limits.
create table tenant_limits (
    tenant_id  uuid primary key references tenants (id) on delete cascade,
    overrides  jsonb not null check (jsonb_typeof(overrides) = 'object'),
    updated_at timestamptz not null default now()
);
grant select, insert, update, delete on tenant_limits to tenantry_app;

alter table api_keys
    add column rate  double precision check (rate > 0 and rate <= 1000000),
    add column burst integer check (burst between 1 and 1000000),
    add constraint api_keys_rate_with_burst check ((rate is null) = (burst is null));

-- A key's rate is part of what callers cache of it.
drop trigger api_keys_caller_changed on api_keys;
create trigger api_keys_caller_changed
    after update of identity_id, name, scopes, secret_hash, expires_at, revoked_at, rate, burst
        or delete
    on api_keys
    for each row execute function tenantry_caller_changed();

-- Plans and overrides tell every instance on their own channel.
drop trigger plans_limits_changed on plans;
drop function tenantry_limits_changed();

create function tenantry_plans_changed() returns trigger
language plpgsql as $$
begin
    perform pg_notify('tenantry_limits', '*');
    return null;
end
$$;
create trigger plans_limits_changed after insert or update or delete on plans
    for each statement execute function tenantry_plans_changed();

create function tenantry_tenant_limits_changed() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        perform pg_notify('tenantry_limits', old.tenant_id::text);
    elsif tg_table_name = 'tenants' then
        perform pg_notify('tenantry_limits', new.id::text);
    else
        perform pg_notify('tenantry_limits', new.tenant_id::text);
    end if;
    return null;
end
$$;
create trigger tenant_limits_changed after insert or update or delete on tenant_limits
    for each row execute function tenantry_tenant_limits_changed();
create trigger tenants_plan_changed after update of plan on tenants
    for each row when (old.plan is distinct from new.plan)
    execute function tenantry_tenant_limits_changed();

-- The buckets remember their size, so that the operator can see who is being limited now.
alter table rate_buckets
    add column cost_us bigint not null default 1,
    add column burst   integer not null default 1;

create or replace function tenantry_rate_take(keys text[], costs bigint[], bursts integer[], wants integer[])
returns table (granted integer, remaining integer, retry_after_us bigint, full_in_us bigint)
language plpgsql set search_path = public as $$
declare
    now_us  bigint := (extract(epoch from clock_timestamp()) * 1000000)::bigint;
    i       integer;
    old_tat bigint;
    base    bigint;
    held    bigint;
    k       integer;
    new_tat bigint;
begin
    for i in 1 .. coalesce(cardinality(keys), 0) loop
        if costs[i] < 1 or bursts[i] < 1 or wants[i] < 1 then
            raise exception 'tenantry_rate_take: cost, burst and want must be positive'
                using errcode = '22023';
        end if;
        insert into rate_buckets (key, tat, full_at, cost_us, burst)
        values (keys[i], 0, now(), costs[i], bursts[i])
        on conflict (key) do nothing;
        select b.tat into old_tat from rate_buckets b where b.key = keys[i] for update;
        base := greatest(old_tat, now_us);
        held := least(greatest((now_us + bursts[i]::bigint * costs[i] - base) / costs[i], 0),
                      bursts[i]);
        k := least(held, wants[i]);
        if k > 0 then
            new_tat := base + k * costs[i];
        else
            new_tat := old_tat;
        end if;
        update rate_buckets b
        set tat = new_tat, full_at = to_timestamp(new_tat / 1e6), cost_us = costs[i],
            burst = bursts[i]
        where b.key = keys[i];
        granted := k;
        remaining := held - k;
        retry_after_us := case
            when held - k > 0 then 0
            else greatest(new_tat - (bursts[i] - 1)::bigint * costs[i] - now_us, 0)
        end;
        full_in_us := greatest(new_tat - now_us, 0);
        return next;
    end loop;
end
$$;

-- What each instance served and refused, per bucket and minute, added up every few
-- seconds from memory (never written on the request path): the operator's top consumers
-- and the tenants' refusals over time. Kept two days.
create table rate_limit_usage (
    minute    timestamptz not null,
    bucket    text not null,
    tenant_id uuid,
    served    bigint not null default 0,
    refused   bigint not null default 0,
    primary key (minute, bucket)
);
create index rate_limit_usage_tenant on rate_limit_usage (tenant_id, minute) where refused > 0;
grant select, insert, update, delete on rate_limit_usage to tenantry_app;
