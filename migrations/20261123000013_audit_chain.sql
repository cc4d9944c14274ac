-- A tamper-evident audit trail: each tenant's records form a hash chain.
--
-- Every record gets the next sequence number of its tenant (`seq`), the hash of the
-- record before it (`prev_hash`; 32 zero bytes for the first) and its own hash:
--
--     hash = sha256(prev_hash || utf8(tenantry_audit_canonical(record)))
--
-- where the canonical form is the record's content (seq included) as jsonb text, which
-- PostgreSQL prints the same way every time (sorted keys, fixed spacing, timestamps in UTC
-- with microseconds). Changing any record breaks its hash; changing the hash as well breaks
-- the next record's `prev_hash`; removing one leaves a gap in `seq`.
--
-- The chain is extended by a trigger, so no writer can forget it: it locks the tenant's
-- head row, so one tenant's audit writes are ordered. The server inserts a transaction's
-- audit records just before it commits, which keeps that lock short.
--
-- Retention prunes the oldest records and leaves a checkpoint (the last pruned record's
-- seq and hash), from which verification of the remaining chain starts.

alter table audit_log
    add column seq bigint,
    add column prev_hash bytea,
    add column hash bytea;

create table audit_chain_heads (
    tenant_id uuid primary key references tenants (id) on delete cascade,
    seq       bigint not null,
    hash      bytea not null
);

create table audit_checkpoints (
    tenant_id  uuid not null references tenants (id) on delete cascade,
    -- The last pruned record: its seq, and its hash (the first kept record's prev_hash).
    seq        bigint not null,
    hash       bytea not null,
    pruned     bigint not null,
    created_at timestamptz not null default now(),
    primary key (tenant_id, seq)
);

create function tenantry_audit_canonical(a audit_log) returns text
language sql stable
as $$
    select jsonb_build_object(
        'tenant_id', a.tenant_id,
        'id', a.id,
        'seq', a.seq,
        'occurred_at', to_char(a.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'actor_type', a.actor_type,
        'actor_id', a.actor_id,
        'action', a.action,
        'target_type', a.target_type,
        'target_id', a.target_id,
        'outcome', a.outcome,
        'before', a.before,
        'after', a.after,
        'request_id', a.request_id,
        'ip', host(a.ip),
        'user_agent', a.user_agent
    )::text
$$;

create function tenantry_audit_digest(a audit_log) returns bytea
language sql stable
as $$
    select sha256(a.prev_hash || convert_to(tenantry_audit_canonical(a), 'UTF8'))
$$;

-- Runs as its owner: the application role cannot touch the chain heads itself.
create function tenantry_audit_chain() returns trigger
language plpgsql security definer set search_path = public
as $$
declare
    head audit_chain_heads;
begin
    insert into audit_chain_heads (tenant_id, seq, hash)
    values (new.tenant_id, 0, '\x0000000000000000000000000000000000000000000000000000000000000000')
    on conflict do nothing;
    select * into head from audit_chain_heads where tenant_id = new.tenant_id for update;
    new.seq := head.seq + 1;
    new.prev_hash := head.hash;
    new.hash := tenantry_audit_digest(new);
    update audit_chain_heads set seq = new.seq, hash = new.hash where tenant_id = new.tenant_id;
    return new;
end
$$;

-- The records written so far, chained in the order they were written.
do $$
declare
    t uuid;
    r record;
    h bytea;
    s bigint;
begin
    for t in select distinct tenant_id from audit_log loop
        h := '\x0000000000000000000000000000000000000000000000000000000000000000';
        s := 0;
        for r in select id from audit_log where tenant_id = t order by occurred_at, id loop
            s := s + 1;
            update audit_log set seq = s, prev_hash = h where tenant_id = t and id = r.id;
            select tenantry_audit_digest(a) into h from audit_log a where a.tenant_id = t and a.id = r.id;
            update audit_log set hash = h where tenant_id = t and id = r.id;
        end loop;
        insert into audit_chain_heads (tenant_id, seq, hash) values (t, s, h);
    end loop;
end
$$;

alter table audit_log
    alter column seq set not null,
    alter column prev_hash set not null,
    alter column hash set not null;
create unique index audit_log_seq_idx on audit_log (tenant_id, seq);

create trigger audit_log_chain before insert on audit_log
    for each row execute function tenantry_audit_chain();

alter table audit_checkpoints enable row level security;
alter table audit_checkpoints force row level security;
create policy tenant_isolation on audit_checkpoints
    using (tenant_id = tenantry_current_tenant())
    with check (tenant_id = tenantry_current_tenant());
grant select on audit_checkpoints to tenantry_app;

-- Not forced: the chain trigger runs as the table's owner and must see every head.
alter table audit_chain_heads enable row level security;
create policy tenant_isolation on audit_chain_heads
    using (tenant_id = tenantry_current_tenant());
grant select on audit_chain_heads to tenantry_app;

-- Retention: how many days a tenant's audit records are kept; null means its plan's
-- default (free 90, pro 365, enterprise 2555, about seven years). Never under 30.
alter table tenants add column audit_retention_days integer
    check (audit_retention_days is null or audit_retention_days between 30 and 36500);

create function tenantry_audit_retention_days(t tenants) returns integer
language sql stable
as $$
    select coalesce(t.audit_retention_days,
                    case t.plan when 'free' then 90 when 'pro' then 365 else 2555 end)
$$;

-- Removes a tenant's records older than its retention, oldest first and only as a prefix
-- of the chain, and leaves a checkpoint (the last removed record's seq and hash) and an
-- `audit.pruned` record. Runs as its owner: the application role cannot delete records
-- itself, and cannot choose what this removes.
create function tenantry_audit_prune(t_id uuid) returns bigint
language plpgsql security definer set search_path = public
as $$
declare
    t tenants;
    last audit_log;
    removed bigint;
begin
    select * into t from tenants where id = t_id;
    if not found then
        return 0;
    end if;
    -- One pruner per tenant at a time (instances run this concurrently).
    perform 1 from audit_chain_heads where tenant_id = t_id for update;
    -- The newest record old enough to go; everything before it in the chain goes too.
    select * into last from audit_log
    where tenant_id = t_id
      and seq = (select max(seq) from audit_log
                 where tenant_id = t_id
                   and occurred_at < now() - make_interval(days => tenantry_audit_retention_days(t)));
    if not found then
        return 0;
    end if;
    delete from audit_log where tenant_id = t_id and seq <= last.seq;
    get diagnostics removed = row_count;
    if removed = 0 then
        return 0;
    end if;
    insert into audit_checkpoints (tenant_id, seq, hash, pruned)
    values (t_id, last.seq, last.hash, removed);
    insert into audit_log (tenant_id, id, actor_type, action, target_type, after)
    values (t_id, gen_random_uuid(), 'system', 'audit.pruned', 'audit',
            jsonb_build_object('removed', removed, 'through_seq', last.seq,
                               'retention_days', tenantry_audit_retention_days(t)));
    return removed;
end
$$;
revoke execute on function tenantry_audit_prune(uuid) from public;
grant execute on function tenantry_audit_prune(uuid) to tenantry_app;
