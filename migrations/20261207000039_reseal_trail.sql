-- Audit records and events written before field-level encryption (issue 19; see
-- docs/data-protection.md, step 4).
--
-- Records and events written since migration 029 carry a person's email, name and other
-- personal values as markers sealed under the person's key (`privacy::personal`), so
-- erasure reaches them by destroying the key. Those written before hold the values in
-- plain text, and a record's plain values are inside what its hash covers. The sealing
-- job (`privacy::keyjobs`) now seals them too: it replaces each such value by a marker
-- exactly as a record written today carries it, and the chain is linked again from the
-- first record it changed.
--
-- The application cannot edit the trail. It hands the new values to
-- `tenantry_audit_reseal`, which, under the chain head's lock:
--   * verifies the tenant's whole chain first (from its pruning checkpoint): a chain that
--     does not verify is left exactly as it is, since linking it again would hide an edit;
--   * accepts nothing but a plain value replaced by a marker (or by null): every other
--     field, and every field's name, stay as they were;
--   * links every record from the first one changed to the head again, and
--   * appends an `audit.resealed` record (by `system`) naming the head's hash before and
--     after, which the next sealer links.
-- This is no weaker than the chain already is: whoever can rewrite rows and their hashes
-- in the database could do the same, since the chain is not anchored outside it.

-- The fields of a snapshot of `target_type` that hold personal data: the list
-- `privacy::personal::fields` keeps (the sealing test checks both agree).
create function tenantry_personal_fields(target_type text) returns text[]
language sql immutable
as $$
    select case target_type
        when 'identity' then array['email', 'display_name', 'personal_metadata']
        when 'invitation' then array['email', 'message']
        when 'api_key' then array['name']
        else array[]::text[]
    end
$$;

-- Whether `v` is a sealed value's marker: {"$sealed": "...", "$for": "..."}.
create function tenantry_is_marker(v jsonb) returns boolean
language sql immutable
as $$
    select case when jsonb_typeof(v) = 'object'
        then v ? '$sealed' and v ? '$for' and (select count(*) from jsonb_object_keys(v)) = 2
        else false
    end
$$;

-- Whether the snapshot `s` of `target_type` holds a personal value in plain text.
create function tenantry_holds_plain(target_type text, s jsonb) returns boolean
language sql immutable
as $$
    select case when jsonb_typeof(s) = 'object'
        then exists (select 1 from jsonb_each(s) e
                     where e.key = any (tenantry_personal_fields(target_type))
                       and jsonb_typeof(e.value) <> 'null'
                       and not tenantry_is_marker(e.value))
        else false
    end
$$;

-- Whether an audit record (or an event: its subject and data) names a person whose values
-- a record written today would seal (`privacy::personal::subject`) and still holds one of
-- them in plain text. A failed sign-in's address that names nobody (no target) is kept on
-- purpose and not counted.
create function tenantry_copy_holds_plain(target_type text, target_id uuid, before jsonb, after jsonb)
returns boolean
language sql immutable
as $$
    select case
        when target_type in ('identity', 'invitation') and target_id is not null
            then tenantry_holds_plain(target_type, before) or tenantry_holds_plain(target_type, after)
        when target_type = 'api_key'
             and jsonb_typeof(coalesce(after, before) -> 'identity_id') = 'string'
            then tenantry_holds_plain(target_type, before) or tenantry_holds_plain(target_type, after)
        else false
    end
$$;

-- Found without reading the whole trail: only records that hold plain values are indexed
-- (none, once sealed).
create index audit_log_plain_idx on audit_log (tenant_id)
    where tenantry_copy_holds_plain(target_type, target_id, before, after);
create index outbox_events_plain_idx on outbox_events (tenant_id)
    where tenantry_copy_holds_plain(subject_type, subject_id, null, payload -> 'data');

-- Whether `new` is `old` with plain values replaced by markers or by null, and nothing
-- else changed (both SQL null counts as unchanged).
create function tenantry_only_sealed(old jsonb, new jsonb) returns boolean
language plpgsql immutable
as $$
declare
    e record;
    n jsonb;
begin
    if old is null or new is null then
        return old is null and new is null;
    end if;
    if old = new then
        return true;
    end if;
    if jsonb_typeof(old) <> 'object' or jsonb_typeof(new) <> 'object' then
        return false;
    end if;
    if (select array_agg(k order by k) from jsonb_object_keys(old) k)
       is distinct from (select array_agg(k order by k) from jsonb_object_keys(new) k) then
        return false;
    end if;
    for e in select key, value from jsonb_each(old) loop
        n := new -> e.key;
        if n = e.value then
            continue;
        end if;
        if tenantry_is_marker(e.value) or jsonb_typeof(e.value) = 'null' then
            return false;
        end if;
        if not (tenantry_is_marker(n) or jsonb_typeof(n) = 'null') then
            return false;
        end if;
    end loop;
    return true;
end
$$;

-- Replaces the personal values of the tenant's audit records named in `changes`
-- (`{"<record id>": {"before": ..., "after": ...}}`) and links the chain again; see the
-- top of this file. Returns how many records it changed and linked again, and the head's
-- hash before and after. Raises SQLSTATE TY001 when the chain does not verify (nothing
-- changes).
create function tenantry_audit_reseal(t_id uuid, changes jsonb)
returns table (records bigint, relinked bigint, head_before bytea, head_after bytea)
language plpgsql security definer set search_path = public
as $$
declare
    head audit_chain_heads;
    r audit_log;
    c jsonb;
    expected bytea := '\x0000000000000000000000000000000000000000000000000000000000000000';
    linked bytea;
    last_seq bigint := 0;
    changed boolean := false;
    n_records bigint := 0;
    n_relinked bigint := 0;
begin
    if t_id is distinct from tenantry_current_tenant() then
        raise exception 'tenantry_audit_reseal acts only on the tenant of its transaction'
            using errcode = '42501';
    end if;
    -- Everything committed is linked first; then the head is held until commit (sealers
    -- and pruners of the tenant wait; writers do not, they insert unsealed).
    perform tenantry_audit_seal_any(t_id, 2147483647, false);
    select * into head from audit_chain_heads where tenant_id = t_id for update;
    if not found then
        return query select 0::bigint, 0::bigint, null::bytea, null::bytea;
        return;
    end if;
    select cp.seq, cp.hash into last_seq, expected
    from audit_checkpoints cp where cp.tenant_id = t_id order by cp.seq desc limit 1;
    if not found then
        last_seq := 0;
        expected := '\x0000000000000000000000000000000000000000000000000000000000000000';
    end if;
    linked := expected;
    for r in
        select * from audit_log where tenant_id = t_id and seq > last_seq order by seq
    loop
        if r.seq <> last_seq + 1 or r.prev_hash <> expected or tenantry_audit_digest(r) <> r.hash then
            raise exception 'the audit chain does not verify at record % (seq %); nothing was resealed',
                r.id, r.seq using errcode = 'TY001';
        end if;
        expected := r.hash;
        last_seq := r.seq;
        c := changes -> (r.id::text);
        if c is not null then
            if not (tenantry_only_sealed(r.before, nullif(c -> 'before', 'null'::jsonb))
                    and tenantry_only_sealed(r.after, nullif(c -> 'after', 'null'::jsonb))) then
                raise exception 'record %: only plain personal values may be replaced, by sealed markers', r.id
                    using errcode = '42501';
            end if;
            if r.before is distinct from nullif(c -> 'before', 'null'::jsonb)
               or r.after is distinct from nullif(c -> 'after', 'null'::jsonb) then
                r.before := nullif(c -> 'before', 'null'::jsonb);
                r.after := nullif(c -> 'after', 'null'::jsonb);
                changed := true;
                n_records := n_records + 1;
            end if;
        end if;
        if changed then
            r.prev_hash := linked;
            r.hash := tenantry_audit_digest(r);
            update audit_log
            set before = r.before, after = r.after, prev_hash = r.prev_hash, hash = r.hash
            where tenant_id = t_id and id = r.id;
            n_relinked := n_relinked + 1;
        end if;
        linked := r.hash;
    end loop;
    if last_seq <> head.seq or expected <> head.hash then
        raise exception 'the audit chain does not verify at its head (seq %); nothing was resealed',
            head.seq using errcode = 'TY001';
    end if;
    if changed then
        update audit_chain_heads set hash = linked where tenant_id = t_id;
        insert into audit_log (tenant_id, id, actor_type, action, target_type, after)
        values (t_id, gen_random_uuid(), 'system', 'audit.resealed', 'audit',
                jsonb_build_object('records', n_records, 'relinked', n_relinked,
                                   'head_seq', head.seq,
                                   'head_before', encode(head.hash, 'hex'),
                                   'head_after', encode(linked, 'hex')));
    end if;
    return query select n_records, n_relinked, head.hash, linked;
end
$$;
revoke execute on function tenantry_audit_reseal(uuid, jsonb) from public;
grant execute on function tenantry_audit_reseal(uuid, jsonb) to tenantry_app;

-- Replaces the personal values of the tenant's events named in `changes`
-- (`{"<event id>": <the event's new data>}`): as above, only plain values by markers or by
-- null, nothing else of the payload. Events are not chained. Returns how many changed.
create function tenantry_events_reseal(t_id uuid, changes jsonb)
returns bigint
language plpgsql security definer set search_path = public
as $$
declare
    e record;
    n bigint := 0;
begin
    if t_id is distinct from tenantry_current_tenant() then
        raise exception 'tenantry_events_reseal acts only on the tenant of its transaction'
            using errcode = '42501';
    end if;
    for e in
        select o.id, o.payload, changes -> (o.id::text) as data
        from outbox_events o
        where o.tenant_id = t_id
          and o.id in (select k::uuid from jsonb_object_keys(changes) k)
        for update
    loop
        if not tenantry_only_sealed(e.payload -> 'data', e.data) then
            raise exception 'event %: only plain personal values may be replaced, by sealed markers', e.id
                using errcode = '42501';
        end if;
        if e.payload -> 'data' is distinct from e.data then
            update outbox_events set payload = jsonb_set(payload, '{data}', e.data)
            where tenant_id = t_id and id = e.id;
            n := n + 1;
        end if;
    end loop;
    return n;
end
$$;
revoke execute on function tenantry_events_reseal(uuid, jsonb) from public;
grant execute on function tenantry_events_reseal(uuid, jsonb) to tenantry_app;

-- The server queues sealing for tenants whose trail or events hold plain values too.
create or replace function tenantry_queue_sealing()
returns integer
language plpgsql volatile security definer set search_path = public
as $$
declare
    queued integer;
begin
    insert into key_jobs (tenant_id, id, kind)
    select t.id, gen_random_uuid(), 'seal'
    from tenants t
    where (exists (select 1 from identities i where i.tenant_id = t.id and i.display_name_sealed is null)
           or exists (select 1 from invitations v where v.tenant_id = t.id and v.email is not null)
           or exists (select 1 from memories m where m.tenant_id = t.id and m.text is not null)
           or exists (select 1 from sso_links l where l.tenant_id = t.id and l.email is not null)
           or exists (select 1 from audit_log a where a.tenant_id = t.id
                      and tenantry_copy_holds_plain(a.target_type, a.target_id, a.before, a.after))
           or exists (select 1 from outbox_events o where o.tenant_id = t.id
                      and tenantry_copy_holds_plain(o.subject_type, o.subject_id, null, o.payload -> 'data')))
      and not exists (select 1 from key_jobs j
                      where j.tenant_id = t.id and j.status in ('queued', 'running'))
    on conflict do nothing;
    get diagnostics queued = row_count;
    return queued;
end
$$;
