//! Storing, changing, deleting and restoring memories, one at a time or in bulk.

use super::*;

pub(super) async fn embed_one(db: &Db, text: &str) -> Result<(String, Vec<f32>)> {
    let embedder = db.embedder();
    let mut vectors = embedder.embed(vec![text.to_owned()]).await?;
    let v = vectors
        .pop()
        .ok_or_else(|| Error::Internal("the embedder returned no vector".into()))?;
    Ok((embedder.model().to_owned(), v))
}

/// A checked memory's text sealed under its owner's key, its keyed keyword index (a
/// `tsvector`'s text) and its keyed dedupe hash.
pub(super) struct Sealing<'a> {
    pub keys: &'a TenantKeys,
    pub owner_key: Option<&'a Key>,
    pub search: &'a str,
}

/// Inserts one checked memory, unless the owner keeps the same text already. An expired
/// copy that the purge has not reached yet gives way (and is recorded as expired).
pub(super) async fn insert(
    tx: &mut ChangeTx<'_>,
    v: &Valid,
    sealing: &Sealing<'_>,
    model: &str,
    vector: &[f32],
) -> Result<Stored> {
    let tenant_id = tx.tenant_id;
    let keys = sealing.keys;
    let hashes = [sealed::content_hash(keys, &v.text), v.hash.clone()];
    let expired = sqlx::query_scalar!(
        "delete from memories
         where tenant_id = $1
           and coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid)
               = coalesce($2, '00000000-0000-0000-0000-000000000000'::uuid)
           and content_hash = any($3) and deleted_at is null and expires_at <= now()
         returning id",
        tenant_id,
        v.owner_id,
        &hashes
    )
    .fetch_all(tx.conn())
    .await?;
    if !expired.is_empty() {
        tx.record(upkeep::expired_change(&expired)).await?;
    }
    tx.within_quota(crate::limits::Quota::Memories, 1).await?;
    let id = Uuid::now_v7();
    let dim = i32::try_from(vector.len()).map_err(|e| Error::internal("embedding size", e))?;
    let text_sealed = sealed::seal(keys, sealing.owner_key, tenant_id, id, &v.text);
    let row = sqlx::query_as!(
        Row,
        r#"insert into memories as m (tenant_id, id, owner_id, text_sealed, search, metadata, tags,
                                      source, importance, embedding, embedding_model,
                                      embedding_dim, content_hash, expires_at)
           values ($1, $2, $3, $4, $5::text::tsvector, $6, $7, $8, $9, $10::real[]::vector, $11,
                   $12, $13,
                   coalesce($14, case when $15 then now() + (select t.memory_ttl_seconds
                                                             from tenants t where t.id = $1)
                                                            * interval '1 second' end))
           on conflict do nothing
           returning id, owner_id, text, text_sealed,
                     (select k.wrapped from subject_keys k
                      where k.tenant_id = m.tenant_id and k.identity_id = m.owner_id) as owner_key,
                     metadata, tags, source, importance, embedding_model,
                     embedding_dim, created_at, updated_at, expires_at, deleted_at"#,
        tenant_id,
        id,
        v.owner_id,
        text_sealed,
        sealing.search,
        v.metadata,
        &v.tags,
        v.source,
        v.importance,
        vector as &[f32],
        model,
        dim,
        &hashes[0],
        v.expires_at,
        v.tenant_default
    )
    .fetch_optional(tx.conn())
    .await?;
    match row {
        Some(row) => {
            let m = row.open(Some(keys), tenant_id)?;
            tx.record(Change {
                action: types::MEMORY_CREATED,
                target_type: "memory",
                target_id: Some(m.id),
                before: None,
                after: Some(m.snapshot()),
            })
            .await?;
            Ok(Stored::Created(m))
        }
        // Stored by a concurrent request since the check.
        None => find_duplicate(tx.conn(), keys, tenant_id, v.owner_id, &hashes)
            .await?
            .map(Stored::Duplicate)
            .ok_or_else(|| Error::Internal("memory insert conflicted with nothing".into())),
    }
}

/// Stores a memory, embedding its text; the same text for the same owner is answered with
/// the memory already stored.
pub async fn create(ctx: &Ctx, db: &Db, input: NewMemory) -> Result<Stored> {
    let tenant_id = ctx.tenant_id()?;
    check_owner(
        ctx,
        tenant_id,
        perm::MEMORIES_CREATE,
        input.owner_id,
        input.metadata.as_ref(),
    )?;
    let mut errors = Vec::new();
    let v = validate_new(&input, "", &mut errors);
    let v = into_result(v, errors)?;
    let keys = {
        let mut tx = db.read_in(tenant_id).await?;
        if let Some(owner) = v.owner_id {
            check_owners_exist(tx.conn(), tenant_id, &[(0, owner)], |_| String::new()).await?;
        }
        let keys = tx.keys().await?;
        // A duplicate needs no embedding.
        let hashes = [sealed::content_hash(&keys, &v.text), v.hash.clone()];
        if let Some(m) = find_duplicate(tx.conn(), &keys, tenant_id, v.owner_id, &hashes).await? {
            return Ok(Stored::Duplicate(m));
        }
        keys
    };
    let (model, vector) = embed_one(db, &v.text).await?;
    let mut tx = db.change_in(ctx, tenant_id).await?;
    let owner_key = sealed::owner_key(tx.conn(), &keys, tenant_id, v.owner_id).await?;
    let search = sealed::search_vectors(tx.conn(), &keys, &[&v.text]).await?;
    let sealing = Sealing {
        keys: &keys,
        owner_key: owner_key.as_ref(),
        search: &search[0],
    };
    let stored = insert(&mut tx, &v, &sealing, &model, &vector).await?;
    if stored.created() {
        tx.commit().await?;
    }
    Ok(stored)
}

/// What one item of a bulk create became.
#[derive(Debug, Clone)]
pub struct BulkItem {
    pub index: usize,
    pub stored: Stored,
}

/// Stores up to [`MAX_BULK`] memories in one transaction: all of them, or (when any item is
/// invalid) none, with every invalid field named as `items.<index>.<field>`. Duplicates
/// (of stored memories or of an earlier item) are not errors: they answer the memory kept.
pub async fn bulk_create(ctx: &Ctx, db: &Db, items: Vec<NewMemory>) -> Result<Vec<BulkItem>> {
    let tenant_id = ctx.tenant_id()?;
    if items.is_empty() || items.len() > MAX_BULK {
        return Err(Error::validation(
            "items",
            "out_of_range",
            format!("Send between 1 and {MAX_BULK} memories."),
        ));
    }
    let mut errors = Vec::new();
    let mut valid = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("items.{i}.");
        if check_owner(
            ctx,
            tenant_id,
            perm::MEMORIES_CREATE,
            item.owner_id,
            item.metadata.as_ref(),
        )
        .is_err()
        {
            return Err(Error::Forbidden {
                action: format!("memories:create for the owner of item {i}"),
            });
        }
        valid.push(validate_new(item, &prefix, &mut errors));
    }
    into_result((), errors)?;
    let owners: Vec<(usize, Uuid)> = valid
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.owner_id.map(|o| (i, o)))
        .collect();
    {
        let mut tx = db.read_in(tenant_id).await?;
        check_owners_exist(tx.conn(), tenant_id, &owners, |i| format!("items.{i}.")).await?;
    }
    // Embed each distinct (owner, text) once; `first_of[i]` is the item that stores i's.
    let mut first: HashMap<(Option<Uuid>, &[u8]), usize> = HashMap::with_capacity(valid.len());
    let mut first_of: Vec<usize> = Vec::with_capacity(valid.len());
    let mut distinct: Vec<usize> = Vec::new();
    for (i, v) in valid.iter().enumerate() {
        let j = *first.entry((v.owner_id, &v.hash)).or_insert_with(|| {
            distinct.push(i);
            i
        });
        first_of.push(j);
    }
    let embedder = db.embedder();
    let texts: Vec<String> = distinct.iter().map(|&i| valid[i].text.clone()).collect();
    let vectors = embedder.embed(texts).await?;
    let model = embedder.model().to_owned();

    let mut tx = db.change_in(ctx, tenant_id).await?;
    let keys = tx.keys().await?;
    let mut owner_keys: HashMap<Uuid, Key> = HashMap::new();
    for v in &valid {
        if let Some(owner) = v.owner_id
            && !owner_keys.contains_key(&owner)
        {
            let key = sealed::owner_key(tx.conn(), &keys, tenant_id, Some(owner)).await?;
            owner_keys.extend(key.map(|k| (owner, k)));
        }
    }
    let texts: Vec<&str> = distinct.iter().map(|&i| valid[i].text.as_str()).collect();
    let searches = sealed::search_vectors(tx.conn(), &keys, &texts).await?;
    let mut stored_at: Vec<Option<Stored>> = vec![None; valid.len()];
    let mut any_created = false;
    for (k, &i) in distinct.iter().enumerate() {
        let sealing = Sealing {
            keys: &keys,
            owner_key: valid[i].owner_id.and_then(|o| owner_keys.get(&o)),
            search: &searches[k],
        };
        let s = insert(&mut tx, &valid[i], &sealing, &model, &vectors[k]).await?;
        any_created |= s.created();
        stored_at[i] = Some(s);
    }
    let mut out = Vec::with_capacity(valid.len());
    for (i, &j) in first_of.iter().enumerate() {
        let stored = match (&stored_at[j], i == j) {
            (Some(s), true) => s.clone(),
            (Some(s), false) => Stored::Duplicate(s.memory().clone()),
            (None, _) => return Err(Error::Internal("bulk item without a result".into())),
        };
        out.push(BulkItem { index: i, stored });
    }
    if any_created {
        tx.commit().await?;
    }
    Ok(out)
}

/// Changes a memory; a new text is embedded again. A memory in the Trash is restored
/// before it can change.
pub async fn update(ctx: &Ctx, db: &Db, id: Uuid, patch: MemoryPatch) -> Result<Memory> {
    let tenant_id = ctx.tenant_id()?;
    Scope::of(ctx, tenant_id, perm::MEMORIES_UPDATE)?;
    let base = {
        let mut tx = db.read_in(tenant_id).await?;
        let (conn, keyring) = tx.parts();
        fetch(conn, keyring, tenant_id, id, false).await?
    };
    check(ctx, tenant_id, perm::MEMORIES_UPDATE, &base)?;
    if base.expired() {
        return Err(Error::NotFound { resource: "memory" });
    }
    if base.deleted_at.is_some() {
        return Err(Error::Conflict {
            code: "memory_deleted",
            message: "This memory is in the Trash; restore it first.".into(),
            field: None,
        });
    }
    let mut errors = Vec::new();
    let owner_id = patch.owner_id.unwrap_or(base.owner_id);
    let text = match &patch.text {
        Some(t) => check_text("text", t, &mut errors),
        None => base.text.clone(),
    };
    let metadata = patch
        .metadata
        .clone()
        .unwrap_or_else(|| base.metadata.clone());
    check_metadata("metadata", &metadata, &mut errors);
    let tags = match &patch.tags {
        Some(t) => check_tags("tags", t, &mut errors),
        None => base.tags.clone(),
    };
    let source = match &patch.source {
        Some(s) => check_source("source", s, &mut errors),
        None => base.source.clone(),
    };
    let importance = patch.importance.unwrap_or(base.importance);
    check_importance("importance", importance, &mut errors);
    let expires_at = match (patch.ttl_seconds, patch.expires_at) {
        (None, None) => base.expires_at,
        (ttl, Some(None)) if ttl.is_none() => None,
        (ttl, at) => check_expiry("", ttl, at.flatten(), &mut errors),
    };
    into_result((), errors)?;
    let new_owner = owner_id != base.owner_id;
    // The rules hold for the memory as it will be, too: a new owner or new metadata must
    // be one the caller may put it under.
    if new_owner || metadata != base.metadata {
        check_owner(
            ctx,
            tenant_id,
            perm::MEMORIES_UPDATE,
            owner_id,
            Some(&metadata),
        )?;
    }
    let new_text = text != base.text;
    let embedded = if new_text {
        Some(embed_one(db, &text).await?)
    } else {
        None
    };

    let mut tx = db.change_in(ctx, tenant_id).await?;
    let before = {
        let (conn, keyring) = tx.parts();
        fetch(conn, keyring, tenant_id, id, true).await?
    };
    if before.text != base.text || before.deleted_at.is_some() {
        return Err(Error::Conflict {
            code: "concurrent_change",
            message: "The memory changed while this change was prepared; try again.".into(),
            field: None,
        });
    }
    if let (true, Some(owner)) = (new_owner, owner_id) {
        check_owners_exist(tx.conn(), tenant_id, &[(0, owner)], |_| String::new()).await?;
    }
    // Sealed again each time: the owner (whose key seals it) may have changed.
    let keys = tx.keys().await?;
    let owner_key = sealed::owner_key(tx.conn(), &keys, tenant_id, owner_id).await?;
    let text_sealed = sealed::seal(&keys, owner_key.as_ref(), tenant_id, id, &text);
    let hash = sealed::content_hash(&keys, &text);
    let search = sealed::search_vectors(tx.conn(), &keys, &[&text]).await?;
    let (model, vector) = match &embedded {
        Some((m, v)) => (Some(m.as_str()), Some(v.as_slice())),
        None => (None, None),
    };
    let dim = vector.map(|v| v.len() as i32);
    let after = sqlx::query_as!(
        Row,
        r#"update memories m set owner_id = $3, text = null, text_sealed = $4,
                  search = $5::text::tsvector, content_hash = $6, metadata = $7,
                  tags = $8, source = $9, importance = $10, expires_at = $11,
                  embedding = coalesce($12::real[]::vector, embedding),
                  embedding_model = coalesce($13, embedding_model),
                  embedding_dim = coalesce($14, embedding_dim),
                  updated_at = now()
           where tenant_id = $1 and id = $2
           returning id, owner_id, text, text_sealed,
                     (select k.wrapped from subject_keys k
                      where k.tenant_id = m.tenant_id and k.identity_id = m.owner_id) as owner_key,
                     metadata, tags, source, importance, embedding_model,
                     embedding_dim, created_at, updated_at, expires_at, deleted_at"#,
        tenant_id,
        id,
        owner_id,
        text_sealed,
        &search[0],
        &hash,
        metadata,
        &tags,
        source,
        importance,
        expires_at,
        vector as Option<&[f32]>,
        model,
        dim
    )
    .fetch_one(tx.conn())
    .await
    .map_err(duplicate_conflict)?
    .open(Some(&keys), tenant_id)?;
    tx.record(Change {
        action: types::MEMORY_UPDATED,
        target_type: "memory",
        target_id: Some(id),
        before: Some(before.snapshot()),
        after: Some(after.snapshot()),
    })
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Whether a unique violation is of the dedupe key: the parent's index, or (as PostgreSQL
/// reports it) one partition's, `memories_p07_dedupe_key` (migration 014).
pub(super) fn is_dedupe_key(constraint: &str) -> bool {
    constraint == "memories_dedupe_key"
        || (constraint.starts_with("memories_p") && constraint.ends_with("_dedupe_key"))
}

pub(super) fn duplicate_conflict(e: sqlx::Error) -> Error {
    match crate::error::unique_violation(&e) {
        Some(c) if is_dedupe_key(c) => Error::Conflict {
            code: "duplicate_memory",
            message: "The owner already keeps a memory with this text.".into(),
            field: Some("text"),
        },
        _ => e.into(),
    }
}

/// Moves a memory to the Trash (`hard = false`, restorable) or removes it for good. Hard
/// deleting works from the Trash too; the audit record keeps only the id.
pub async fn delete(ctx: &Ctx, db: &Db, id: Uuid, hard: bool) -> Result<()> {
    let tenant_id = ctx.tenant_id()?;
    Scope::of(ctx, tenant_id, perm::MEMORIES_DELETE)?;
    let mut tx = db.change_in(ctx, tenant_id).await?;
    let m = {
        let (conn, keyring) = tx.parts();
        fetch(conn, keyring, tenant_id, id, true).await?
    };
    check(ctx, tenant_id, perm::MEMORIES_DELETE, &m)?;
    if m.expired() && !hard {
        return Err(Error::NotFound { resource: "memory" });
    }
    if hard {
        sqlx::query!(
            "delete from memories where tenant_id = $1 and id = $2",
            tenant_id,
            id
        )
        .execute(tx.conn())
        .await?;
        tx.record(purged_change(Some(id), None)).await?;
    } else {
        if m.deleted_at.is_some() {
            // Already in the Trash: nothing changes.
            return Ok(());
        }
        let at = sqlx::query_scalar!(
            "update memories set deleted_at = now(), updated_at = now()
             where tenant_id = $1 and id = $2
             returning updated_at",
            tenant_id,
            id
        )
        .fetch_one(tx.conn())
        .await?;
        let after = Memory {
            deleted_at: Some(at),
            updated_at: at,
            ..m.clone()
        };
        tx.record(Change {
            action: types::MEMORY_DELETED,
            target_type: "memory",
            target_id: Some(id),
            before: Some(m.snapshot()),
            after: Some(after.snapshot()),
        })
        .await?;
    }
    tx.commit().await
}

/// The record of memories removed for good: the id (or the ids of a batch), nothing else.
pub(crate) fn purged_change(id: Option<Uuid>, batch: Option<&[Uuid]>) -> Change {
    Change {
        action: types::MEMORY_PURGED,
        target_type: "memory",
        target_id: id,
        before: None,
        after: batch.map(|ids| {
            shapes::to_value(shapes::MemoryBatchData {
                count: ids.len(),
                ids,
            })
        }),
    }
}

/// Takes a memory out of the Trash.
pub async fn restore(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Memory> {
    let tenant_id = ctx.tenant_id()?;
    Scope::of(ctx, tenant_id, perm::MEMORIES_DELETE)?;
    let mut tx = db.change_in(ctx, tenant_id).await?;
    let m = {
        let (conn, keyring) = tx.parts();
        fetch(conn, keyring, tenant_id, id, true).await?
    };
    check(ctx, tenant_id, perm::MEMORIES_DELETE, &m)?;
    if m.expired() {
        return Err(Error::NotFound { resource: "memory" });
    }
    if m.deleted_at.is_none() {
        return Err(Error::Conflict {
            code: "not_deleted",
            message: "This memory is not in the Trash.".into(),
            field: None,
        });
    }
    tx.within_quota(crate::limits::Quota::Memories, 1).await?;
    let at = sqlx::query_scalar!(
        "update memories set deleted_at = null, updated_at = now()
         where tenant_id = $1 and id = $2
         returning updated_at",
        tenant_id,
        id
    )
    .fetch_one(tx.conn())
    .await
    .map_err(duplicate_conflict)?;
    let after = Memory {
        deleted_at: None,
        updated_at: at,
        ..m.clone()
    };
    tx.record(Change {
        action: types::MEMORY_RESTORED,
        target_type: "memory",
        target_id: Some(id),
        before: Some(m.snapshot()),
        after: Some(after.snapshot()),
    })
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes every memory `filter` takes (at least one condition is required, so an empty
/// filter cannot empty the tenant by mistake): into the Trash, or (`hard`) for good, or
/// (`state = Deleted`) emptying the Trash. Returns how many.
pub async fn bulk_delete(
    ctx: &Ctx,
    db: &Db,
    filter: &Filter,
    state: State,
    hard: bool,
) -> Result<u64> {
    let tenant_id = ctx.tenant_id()?;
    let scope = Scope::of(ctx, tenant_id, perm::MEMORIES_DELETE)?;
    let mut errors = Vec::new();
    filter.validate(&mut errors);
    if filter.is_empty() && state != State::Deleted {
        errors.push(FieldError::new(
            "filter",
            "required",
            "Say which memories to delete: an owner, tags, a source, metadata or a time range.",
        ));
    }
    if state == State::Deleted && !hard {
        errors.push(FieldError::new(
            "hard",
            "invalid_value",
            "Memories in the Trash can only be deleted for good (hard=true).",
        ));
    }
    into_result((), errors)?;
    let mut tx = db.change_in(ctx, tenant_id).await?;
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "select {COLUMNS} from memories m where m.tenant_id = "
    ));
    q.push_bind(tenant_id);
    state.push(&mut q);
    filter.push(&mut q, scope);
    q.push(" order by m.id for update");
    let rows: Vec<Row> = q.build_query_as().fetch_all(tx.conn()).await?;
    let mut rows = {
        let (conn, keyring) = tx.parts();
        sealed::open_all(conn, keyring, tenant_id, rows).await?
    };
    // What the caller may not read is not there for it; a rule may still refuse to delete
    // some it sees (a policy on metadata, say): then nothing is deleted.
    rows.retain(|m| visible(ctx, tenant_id, m));
    for m in &rows {
        check(ctx, tenant_id, perm::MEMORIES_DELETE, m)?;
    }
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    if hard {
        sqlx::query!(
            "delete from memories where tenant_id = $1 and id = any($2)",
            tenant_id,
            &ids
        )
        .execute(tx.conn())
        .await?;
        for id in &ids {
            tx.record(purged_change(Some(*id), None)).await?;
        }
    } else {
        sqlx::query!(
            "update memories set deleted_at = now(), updated_at = now()
             where tenant_id = $1 and id = any($2)",
            tenant_id,
            &ids
        )
        .execute(tx.conn())
        .await?;
        for m in &rows {
            let mut after = m.snapshot();
            after["deleted"] = json!(true);
            tx.record(Change {
                action: types::MEMORY_DELETED,
                target_type: "memory",
                target_id: Some(m.id),
                before: Some(m.snapshot()),
                after: Some(after),
            })
            .await?;
        }
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}
