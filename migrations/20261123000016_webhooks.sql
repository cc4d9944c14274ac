-- Webhooks: subscriptions of a tenant to its event types, and the deliveries of each event
-- to each matching subscription, with every attempt logged.

-- A time-ordered id (UUIDv7) made by the database, for rows inserted by a statement that
-- does not know how many it inserts (one delivery per matching subscription). The first 48
-- bits are the Unix time in milliseconds; bits 52-53 turn the random UUID's version 4 into 7.
create function tenantry_uuid_v7() returns uuid
language sql volatile
as $$
    select encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
                    from 1 for 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

create table webhook_subscriptions (
    tenant_id               uuid not null references tenants (id) on delete cascade,
    id                      uuid not null,
    name                    text not null,
    description             text not null default '',
    url                     text not null,
    -- Exact types (`identity.created`) or prefix wildcards (`identity.*`, `*`).
    event_types             text[] not null,
    enabled                 boolean not null default true,
    -- The signing secret (`whsec_...`), sealed with the master key and bound to this row.
    secret_sealed           bytea not null,
    -- After a rotation, the previous secret also signs until `previous_secret_until`.
    previous_secret_sealed  bytea,
    previous_secret_until   timestamptz,
    -- Set when the server disabled the subscription itself (it kept failing).
    disabled_reason         text,
    disabled_at             timestamptz,
    -- The first failed attempt since the last success; null while deliveries succeed.
    failing_since           timestamptz,
    created_at              timestamptz not null default now(),
    updated_at              timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint webhook_subscriptions_name_key unique (tenant_id, name)
);

alter table webhook_subscriptions enable row level security;
alter table webhook_subscriptions force row level security;
create policy tenant_isolation on webhook_subscriptions
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select, insert, update, delete on webhook_subscriptions to tenantry_app;

-- One row per event and subscription: the unit of at-least-once delivery. Its id is the
-- `webhook-id` every attempt carries, so a receiver can drop a redelivery. Global like
-- `mail_outbox`: the delivery worker claims due rows across tenants with
-- `FOR UPDATE SKIP LOCKED` and holds the lock for the attempt, so two instances never make
-- the same attempt, and an instance that dies mid-attempt releases it for another. Every
-- tenant-facing read filters on `tenant_id`, and reaches rows only through a subscription
-- that row-level security lets it see.
create table webhook_deliveries (
    id               uuid primary key,
    tenant_id        uuid not null,
    subscription_id  uuid not null,
    -- The outbox event (or, for a test ping, an id of its own).
    event_id         uuid not null,
    event_type       text not null,
    -- When the event happened: the start of its event-to-delivery latency.
    event_at         timestamptz not null default now(),
    -- pending: waiting for its next attempt at `next_at`; succeeded; failed: gave up after
    -- the retry schedule; paused: its subscription is disabled (resumed when enabled).
    status           text not null default 'pending'
                     check (status in ('pending', 'succeeded', 'failed', 'paused')),
    attempts         integer not null default 0,
    next_at          timestamptz not null default now(),
    last_attempt_at  timestamptz,
    delivered_at     timestamptz,
    last_status      integer,
    last_error       text,
    created_at       timestamptz not null default now(),
    foreign key (tenant_id, subscription_id)
        references webhook_subscriptions (tenant_id, id) on delete cascade,
    constraint webhook_deliveries_event_key unique (subscription_id, event_id)
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_at) where status = 'pending';
create index webhook_deliveries_subscription_idx
    on webhook_deliveries (tenant_id, subscription_id, id desc);
grant select, insert, update, delete on webhook_deliveries to tenantry_app;

-- Every attempt of every delivery: the delivery log, and the source of the stats.
create table webhook_attempts (
    id               uuid primary key,
    tenant_id        uuid not null,
    subscription_id  uuid not null,
    delivery_id      uuid not null references webhook_deliveries (id) on delete cascade,
    attempt          integer not null,
    at               timestamptz not null default now(),
    succeeded        boolean not null,
    -- The HTTP status, or null when no response came (refused, timed out, ...).
    status_code      integer,
    latency_ms       integer not null,
    response_snippet text,
    error            text
);
create index webhook_attempts_delivery_idx on webhook_attempts (delivery_id, attempt);
create index webhook_attempts_subscription_idx on webhook_attempts (tenant_id, subscription_id, at);
create index webhook_attempts_at_idx on webhook_attempts (at);
grant select, insert, update, delete on webhook_attempts to tenantry_app;
