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
-- `privacy::personal::fields` keeps (the sealing test checks both agree). The partial
-- indexes below depend on it: changing it means rebuilding them. Every function here names
-- the others by schema, so an index's predicate reads the same whatever the search path
-- (a restore runs with an empty one).
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

-- Whether `v` is a sealed value's marker, as `privacy::personal` writes and reads one:
-- {"$sealed": "<base64url>", "$for": "<uuid>"} and nothing else.
create function tenantry_is_marker(v jsonb) returns boolean
language sql immutable
as $$
    select case when jsonb_typeof(v) = 'object'
        then (select count(*) from jsonb_object_keys(v)) = 2
             and jsonb_typeof(v -> '$sealed') = 'string'
             and (v ->> '$sealed') ~ '^[A-Za-z0-9_-]+$'
             and jsonb_typeof(v -> '$for') = 'string'
             and (v ->> '$for') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        else false
    end
$$;

-- Whether the snapshot `s` of `target_type` holds a personal value in plain text.
create function tenantry_holds_plain(target_type text, s jsonb) returns boolean
language sql immutable
as $$
    select case when jsonb_typeof(s) = 'object'
        then exists (select 1 from jsonb_each(s) e
                     where e.key = any (public.tenantry_personal_fields(target_type))
                       and jsonb_typeof(e.value) <> 'null'
                       and not public.tenantry_is_marker(e.value))
        else false
    end
$$;

-- The person whose key seals the personal values of a record (or event) of `target_type`
-- about `target_id` whose snapshot is `s` (`privacy::personal::subject`); null: nobody's.
create function tenantry_copy_subject(target_type text, target_id uuid, s jsonb) returns uuid
language sql immutable
as $$
    select case
        when target_type in ('identity', 'invitation') then target_id
        when target_type = 'api_key' and jsonb_typeof(s -> 'identity_id') = 'string'
             and (s ->> 'identity_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            then (s ->> 'identity_id')::uuid
        else null
    end
$$;

-- Whether an audit record (or an event: its subject and data) names a person whose values
-- a record written today would seal, and still holds one of them in plain text. A failed
-- sign-in's address that names nobody (no target) is kept on purpose and not counted.
create function tenantry_copy_holds_plain(target_type text, target_id uuid, before jsonb, after jsonb)
returns boolean
language sql immutable
as $$
    select public.tenantry_copy_subject(target_type, target_id, coalesce(after, before)) is not null
       and (public.tenantry_holds_plain(target_type, before)
            or public.tenantry_holds_plain(target_type, after))
$$;

-- Found without reading the whole trail: only records that hold plain values are indexed
-- (none, once sealed).
create index audit_log_plain_idx on audit_log (tenant_id)
    where tenantry_copy_holds_plain(target_type, target_id, before, after);
create index outbox_events_plain_idx on outbox_events (tenant_id)
    where tenantry_copy_holds_plain(subject_type, subject_id, null, payload -> 'data');

-- Whether `person` still has a key a seal could use: the application makes one for an
-- identity or invitation that has none, and a person deleted for good has none.
create function tenantry_copy_has_key(t_id uuid, target_type text, person uuid) returns boolean
language sql stable
as $$
    select case target_type
        when 'invitation' then exists (select 1 from public.invitations where tenant_id = t_id and id = person)
        else exists (select 1 from public.identities where tenant_id = t_id and id = person)
    end
$$;

-- Whether `new` is `old` (a snapshot of a record of `target_type` whose person is
-- `person`) with plain personal values replaced, and nothing else: each by a marker for
-- that person, or by null when the person has no key (`keyless`). SQL null and JSON null
-- are the same here (the canonical form prints both as null).
create function tenantry_only_sealed(old jsonb, new jsonb, target_type text, person uuid, keyless boolean)
returns boolean
language plpgsql stable
as $$
declare
    e record;
    n jsonb;
    fields text[] := public.tenantry_personal_fields(target_type);
begin
    old := nullif(old, 'null'::jsonb);
    new := nullif(new, 'null'::jsonb);
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
        if not (e.key = any (fields))
           or jsonb_typeof(e.value) = 'null'
           or public.tenantry_is_marker(e.value) then
            return false;
        end if;
        if jsonb_typeof(n) = 'null' then
            if not keyless then
                return false;
            end if;
        elsif person is null
              or not public.tenantry_is_marker(n)
              or lower(n ->> '$for') <> person::text then
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
    first_changed bigint;
    person uuid;
    keyless boolean;
    n_records bigint := 0;
    n_relinked bigint := 0;
begin
    if t_id is distinct from tenantry_current_tenant() then
        raise exception 'tenantry_audit_reseal acts only on the tenant of its transaction'
            using errcode = '42501';
    end if;
    -- Everything committed is linked first; then the head is held until commit (sealers
    -- and pruners of the tenant wait; writers do not, they insert unsealed).
    perform public.tenantry_audit_seal_any(t_id, 2147483647, false);
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
        if r.seq <> last_seq + 1 or r.hash is null or r.prev_hash is null
           or r.prev_hash is distinct from expected
           or public.tenantry_audit_digest(r) is distinct from r.hash then
            raise exception 'the audit chain does not verify at record % (seq %); nothing was resealed',
                r.id, r.seq using errcode = 'TY001';
        end if;
        expected := r.hash;
        last_seq := r.seq;
        c := changes -> (r.id::text);
        if c is not null then
            person := public.tenantry_copy_subject(r.target_type, r.target_id, coalesce(r.after, r.before));
            keyless := person is null or not public.tenantry_copy_has_key(t_id, r.target_type, person);
            if not (public.tenantry_copy_holds_plain(r.target_type, r.target_id, r.before, r.after)
                    and public.tenantry_only_sealed(r.before, c -> 'before', r.target_type, person, keyless)
                    and public.tenantry_only_sealed(r.after, c -> 'after', r.target_type, person, keyless)) then
                raise exception 'record %: only plain personal values may be replaced, by sealed markers', r.id
                    using errcode = '42501';
            end if;
            if nullif(r.before, 'null'::jsonb) is distinct from nullif(c -> 'before', 'null'::jsonb)
               or nullif(r.after, 'null'::jsonb) is distinct from nullif(c -> 'after', 'null'::jsonb) then
                r.before := nullif(c -> 'before', 'null'::jsonb);
                r.after := nullif(c -> 'after', 'null'::jsonb);
                if not changed then
                    first_changed := r.seq;
                end if;
                changed := true;
                n_records := n_records + 1;
            end if;
        end if;
        if changed then
            r.prev_hash := linked;
            r.hash := public.tenantry_audit_digest(r);
            update audit_log
            set before = r.before, after = r.after, prev_hash = r.prev_hash, hash = r.hash
            where tenant_id = t_id and id = r.id;
            n_relinked := n_relinked + 1;
        end if;
        linked := r.hash;
    end loop;
    if last_seq <> head.seq or expected is distinct from head.hash then
        raise exception 'the audit chain does not verify at its head (seq %); nothing was resealed',
            head.seq using errcode = 'TY001';
    end if;
    if changed then
        update audit_chain_heads set hash = linked where tenant_id = t_id;
        insert into audit_log (tenant_id, id, actor_type, action, target_type, after)
        values (t_id, gen_random_uuid(), 'system', 'audit.resealed', 'audit',
                jsonb_build_object('records', n_records, 'relinked', n_relinked,
                                   'first_changed_seq', first_changed, 'head_seq', head.seq,
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
    person uuid;
    keyless boolean;
    n bigint := 0;
begin
    if t_id is distinct from tenantry_current_tenant() then
        raise exception 'tenantry_events_reseal acts only on the tenant of its transaction'
            using errcode = '42501';
    end if;
    for e in
        select o.id, o.subject_type, o.subject_id, o.payload, changes -> (o.id::text) as data
        from outbox_events o
        where o.tenant_id = t_id
          and o.id in (select k::uuid from jsonb_object_keys(changes) k)
        for update
    loop
        person := public.tenantry_copy_subject(e.subject_type, e.subject_id, e.payload -> 'data');
        keyless := person is null or not public.tenantry_copy_has_key(t_id, e.subject_type, person);
        if not (public.tenantry_copy_holds_plain(e.subject_type, e.subject_id, null, e.payload -> 'data')
                and public.tenantry_only_sealed(e.payload -> 'data', e.data, e.subject_type, person, keyless)) then
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
