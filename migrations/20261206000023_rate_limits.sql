-- Rate limits (see service::limits). Each plan gives a tenant three request rates, each a
-- bucket with a rate (requests a second) and a burst (requests at once): the tenant's as a
-- whole, and each of its identities' by kind (people and agents apart). The operator owns
-- the plans; the application only reads them.
create table plans (
    name         text primary key check (name in ('free', 'pro', 'enterprise')),
    tenant_rate  double precision not null check (tenant_rate > 0 and tenant_rate <= 1000000),
    tenant_burst integer not null check (tenant_burst between 1 and 1000000),
    user_rate    double precision not null check (user_rate > 0 and user_rate <= 1000000),
    user_burst   integer not null check (user_burst between 1 and 1000000),
    agent_rate   double precision not null check (agent_rate > 0 and agent_rate <= 1000000),
    agent_burst  integer not null check (agent_burst between 1 and 1000000),
    updated_at   timestamptz not null default now()
);

insert into plans (name, tenant_rate, tenant_burst, user_rate, user_burst, agent_rate, agent_burst)
values ('free', 100, 200, 20, 60, 10, 30),
       ('pro', 500, 1000, 50, 150, 25, 75),
       ('enterprise', 2000, 4000, 100, 300, 100, 300);

alter table tenants add constraint tenants_plan_fkey foreign key (plan) references plans (name);

grant select on plans to tenantry_app;

-- Every instance caches the plans; a change tells them all (payload `limits` on the callers'
-- channel, whose listener every instance runs).
create function tenantry_limits_changed() returns trigger
language plpgsql as $$
begin
    perform pg_notify('tenantry_callers', 'limits');
    return null;
end
$$;

create trigger plans_limits_changed after insert or update or delete on plans
    for each statement execute function tenantry_limits_changed();

-- The buckets, shared by every instance. Unlogged: written on the request path, and a
-- crash that empties it only forgets how full buckets were (every bucket is full again).
-- `tat` is the bucket's theoretical arrival time in microseconds since the epoch (GCRA);
-- `full_at` is when the bucket is full again, after which its row holds nothing.
create unlogged table rate_buckets (
    key     text primary key,
    tat     bigint not null,
    full_at timestamptz not null
);
create index rate_buckets_full_at on rate_buckets (full_at);

grant select, insert, update, delete on rate_buckets to tenantry_app;

-- Takes from several buckets at once: for each key, up to `wants[i]` requests from a bucket
-- whose requests cost `costs[i]` microseconds with a burst of `bursts[i]`; fewer (or none)
-- when the bucket holds fewer. The arithmetic is service::limits::gcra's, on this database's
-- clock, so that instances whose clocks differ share one time. Keys are locked in the order
-- given (callers sort them), so two calls never wait on each other in a cycle.
create function tenantry_rate_take(keys text[], costs bigint[], bursts integer[], wants integer[])
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
        insert into rate_buckets (key, tat, full_at) values (keys[i], 0, now())
        on conflict (key) do nothing;
        select b.tat into old_tat from rate_buckets b where b.key = keys[i] for update;
        base := greatest(old_tat, now_us);
        held := least(greatest((now_us + bursts[i]::bigint * costs[i] - base) / costs[i], 0),
                      bursts[i]);
        k := least(held, wants[i]);
        if k > 0 then
            new_tat := base + k * costs[i];
            update rate_buckets b set tat = new_tat, full_at = to_timestamp(new_tat / 1e6)
            where b.key = keys[i];
        else
            new_tat := old_tat;
        end if;
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
revoke execute on function tenantry_rate_take(text[], bigint[], integer[], integer[]) from public;
grant execute on function tenantry_rate_take(text[], bigint[], integer[], integer[]) to tenantry_app;
