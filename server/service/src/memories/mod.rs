//! Memories: text that people and agents keep, found again by meaning.
//!
//! * A memory belongs to an identity (its owner) or to the whole tenant (no owner). The
//!   same text for the same owner is stored once: storing it again answers the memory that
//!   is already there ([`Stored::Duplicate`]).
//! * Each memory is embedded when stored and again when its text changes; the model's name
//!   and dimension are kept with it, and [`upkeep`] re-embeds memories made by a model that
//!   is no longer the one in use.
//! * Memories expire (`expires_at`, from a TTL or the tenant's default). An expired memory
//!   is never returned, even before [`upkeep::purge_expired`] removes it.
//! * Deleting is soft (the Trash, restorable) or hard (gone; the audit record keeps only
//!   the id). Audit records and events never hold a memory's text or metadata, so a hard
//!   delete leaves nothing of them behind.
//!
//! Access: `memories:read/create/update/delete` on the whole tenant, or only on memories
//! whose `resource.owner` is the caller (how the shipped "Agents keep their own memories"
//! policy grants agents their own). Another owner's memory the caller may not read is
//! answered with 404, like another tenant's.

pub mod embeddings;
pub mod openai;
pub mod search;
pub mod upkeep;

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authz::{Permission, Target, perm};
use crate::ctx::Ctx;
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, FieldError, Result};
use crate::events::catalogue::types;
use crate::pagination::{self, Page};
use crate::resource::{Lifecycle, Resource, visible};

pub const MAX_TEXT_CHARS: usize = 32_000;
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Items in one bulk request.
pub const MAX_BULK: usize = 1_000;
/// The longest TTL: ten years.
pub const MAX_TTL_SECONDS: i64 = 10 * 366 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Memory {
    pub id: Uuid,
    pub owner_id: Option<Uuid>,
    pub text: String,
    pub metadata: Value,
    pub tags: Vec<String>,
    pub source: String,
    pub importance: Option<f32>,
    pub embedding_model: String,
    pub embedding_dim: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
}

/// The columns of [`Memory`], for queries built at run time.
pub(crate) const COLUMNS: &str = "m.id, m.owner_id, m.text, m.metadata, m.tags, m.source, \
    m.importance, m.embedding_model, m.embedding_dim, m.created_at, m.updated_at, \
    m.expires_at, m.deleted_at";

impl Memory {
    /// What the audit trail and the event stream keep: never the text or the metadata.
    pub(crate) fn snapshot(&self) -> Value {
        json!({
            "id": self.id, "owner_id": self.owner_id, "tags": self.tags, "source": self.source,
            "importance": self.importance, "text_chars": self.text.chars().count(),
            "embedding_model": self.embedding_model,
            "expires_at": self.expires_at.map(crate::rfc3339),
            "deleted": self.deleted_at.is_some(),
        })
    }

    fn expired(&self) -> bool {
        self.expires_at
            .is_some_and(|t| t <= OffsetDateTime::now_utc())
    }
}

/// What storing a memory did.
#[derive(Debug, Clone)]
pub enum Stored {
    Created(Memory),
    /// The owner already keeps this exact text: nothing was written, here it is.
    Duplicate(Memory),
}

impl Stored {
    pub fn memory(&self) -> &Memory {
        match self {
            Stored::Created(m) | Stored::Duplicate(m) => m,
        }
    }

    pub fn into_memory(self) -> Memory {
        match self {
            Stored::Created(m) | Stored::Duplicate(m) => m,
        }
    }

    pub fn created(&self) -> bool {
        matches!(self, Stored::Created(_))
    }
}

// ---------------------------------------------------------------------------------------
// Access

fn target(tenant_id: Uuid, id: Option<Uuid>, owner: Option<Uuid>) -> Target {
    Target {
        tenant_id,
        kind: "memories",
        id,
        owner,
        metadata: None,
    }
}

impl Resource for Memory {
    const MODULE: &'static str = "memories";
    const NOUN: &'static str = "memory";
    const READ: Permission = perm::MEMORIES_READ;
    const EVENTS: Lifecycle = Lifecycle {
        created: types::MEMORY_CREATED,
        updated: types::MEMORY_UPDATED,
        deleted: types::MEMORY_DELETED,
    };

    fn id(&self) -> Uuid {
        self.id
    }

    /// Its owner and its metadata, for rules on either.
    fn target(&self, tenant_id: Uuid) -> Target {
        Target {
            metadata: Some(self.metadata.clone()),
            ..target(tenant_id, Some(self.id), self.owner_id)
        }
    }

    fn snapshot(&self) -> Value {
        Memory::snapshot(self)
    }

    async fn fetch(
        conn: &mut PgConnection,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Memory>> {
        match fetch(conn, tenant_id, id, lock).await {
            Ok(m) => Ok(Some(m)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Whose memories a caller may act on with one permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every memory of the tenant.
    All,
    /// Only the memories this identity owns.
    Own(Uuid),
}

impl Scope {
    /// Whose memories the caller may act on with `permission`: all of the tenant's, or
    /// only its own (a rule that holds only when `resource.owner` is the caller).
    pub fn of(ctx: &Ctx, tenant_id: Uuid, permission: Permission) -> Result<Scope> {
        match ctx.authorize_quietly(permission, target(tenant_id, None, None)) {
            Ok(()) => Ok(Scope::All),
            Err(Error::Forbidden { action }) => match ctx.caller() {
                Ok(caller) => {
                    let me = caller.identity_id;
                    ctx.authorize(permission, target(tenant_id, None, Some(me)))
                        .map_err(|_| Error::Forbidden { action })?;
                    Ok(Scope::Own(me))
                }
                Err(_) => Err(Error::Forbidden { action }),
            },
            Err(e) => Err(e),
        }
    }

    fn owner(self) -> Option<Uuid> {
        match self {
            Scope::All => None,
            Scope::Own(me) => Some(me),
        }
    }
}

/// May the caller do `permission` to `m`? A memory it may not even read does not exist
/// for it (404); one it may read but not change is a 403.
fn check(ctx: &Ctx, tenant_id: Uuid, permission: Permission, m: &Memory) -> Result<()> {
    let t = || m.target(tenant_id);
    if ctx.authorize(perm::MEMORIES_READ, t()).is_err() {
        return Err(Error::NotFound { resource: "memory" });
    }
    if permission != perm::MEMORIES_READ {
        ctx.authorize(permission, t())?;
    }
    Ok(())
}

/// May the caller put a memory under `owner` (or the tenant, for `None`)?
fn check_owner(
    ctx: &Ctx,
    tenant_id: Uuid,
    permission: Permission,
    owner: Option<Uuid>,
    metadata: Option<&Value>,
) -> Result<()> {
    let target = Target {
        metadata: metadata.cloned(),
        ..target(tenant_id, None, owner)
    };
    ctx.authorize(permission, target)
}

// ---------------------------------------------------------------------------------------
// Input

/// A new memory. Without `ttl_seconds`, `expires_at` or `never_expires`, the tenant's
/// default TTL applies (if it has one).
#[derive(Debug, Clone, Default)]
pub struct NewMemory {
    pub owner_id: Option<Uuid>,
    pub text: String,
    pub metadata: Option<Value>,
    pub tags: Option<Vec<String>>,
    pub source: Option<String>,
    pub importance: Option<f32>,
    pub ttl_seconds: Option<i64>,
    pub expires_at: Option<OffsetDateTime>,
    /// Keep it until deleted, whatever the tenant's default.
    pub never_expires: bool,
}

/// Changes to a memory; `None` keeps a field. A new `text` is embedded again.
#[derive(Debug, Clone, Default)]
pub struct MemoryPatch {
    pub owner_id: Option<Option<Uuid>>,
    pub text: Option<String>,
    pub metadata: Option<Value>,
    pub tags: Option<Vec<String>>,
    pub source: Option<String>,
    pub importance: Option<Option<f32>>,
    /// Expire this long from now.
    pub ttl_seconds: Option<i64>,
    /// `Some(None)` makes the memory permanent.
    pub expires_at: Option<Option<OffsetDateTime>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Valid {
    pub owner_id: Option<Uuid>,
    pub text: String,
    pub hash: Vec<u8>,
    pub metadata: Value,
    pub tags: Vec<String>,
    pub source: String,
    pub importance: Option<f32>,
    /// `None`: no expiry, or the tenant's default when `tenant_default` is set.
    pub expires_at: Option<OffsetDateTime>,
    /// A new memory that named no expiry: the tenant's default TTL applies.
    pub tenant_default: bool,
}

pub(crate) fn content_hash(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

fn check_text(field: &str, text: &str, errors: &mut Vec<FieldError>) -> String {
    let text = text.trim();
    if text.is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            "A memory needs some text.",
        ));
    } else if text.chars().count() > MAX_TEXT_CHARS {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("A memory holds at most {MAX_TEXT_CHARS} characters."),
        ));
    } else if text.contains('\0') {
        errors.push(FieldError::new(
            field,
            "invalid_value",
            "The text contains a NUL character.",
        ));
    }
    text.to_owned()
}

pub(crate) fn check_tags(
    field: &str,
    tags: &[String],
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty()
            || tag.chars().count() > MAX_TAG_CHARS
            || tag.chars().any(char::is_control)
        {
            errors.push(FieldError::new(
                field,
                "invalid_tag",
                format!("Each tag is 1-{MAX_TAG_CHARS} printable characters."),
            ));
            return out;
        }
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_owned());
        }
    }
    if out.len() > MAX_TAGS {
        errors.push(FieldError::new(
            field,
            "too_many",
            format!("A memory has at most {MAX_TAGS} tags."),
        ));
    }
    out
}

pub(crate) fn check_metadata(field: &str, metadata: &Value, errors: &mut Vec<FieldError>) {
    if !metadata.is_object() {
        errors.push(FieldError::new(
            field,
            "invalid_value",
            "Metadata is a JSON object.",
        ));
    } else if metadata.to_string().len() > MAX_METADATA_BYTES {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!(
                "Metadata is at most {} KiB of JSON.",
                MAX_METADATA_BYTES / 1024
            ),
        ));
    }
}

fn check_source(field: &str, source: &str, errors: &mut Vec<FieldError>) -> String {
    let source = source.trim();
    if source.chars().count() > 200 {
        errors.push(FieldError::new(
            field,
            "too_long",
            "The source is at most 200 characters.",
        ));
    }
    source.to_owned()
}

fn check_importance(field: &str, importance: Option<f32>, errors: &mut Vec<FieldError>) {
    if let Some(i) = importance
        && !(0.0..=1.0).contains(&i)
    {
        errors.push(FieldError::new(
            field,
            "out_of_range",
            "Importance is between 0 and 1.",
        ));
    }
}

fn check_expiry(
    prefix: &str,
    ttl_seconds: Option<i64>,
    expires_at: Option<OffsetDateTime>,
    errors: &mut Vec<FieldError>,
) -> Option<OffsetDateTime> {
    let now = OffsetDateTime::now_utc();
    match (ttl_seconds, expires_at) {
        (Some(_), Some(_)) => {
            errors.push(FieldError::new(
                &format!("{prefix}ttl_seconds"),
                "conflicting",
                "Give ttl_seconds or expires_at, not both.",
            ));
            None
        }
        (Some(ttl), None) => {
            if !(1..=MAX_TTL_SECONDS).contains(&ttl) {
                errors.push(FieldError::new(
                    &format!("{prefix}ttl_seconds"),
                    "out_of_range",
                    "The TTL is between 1 second and 10 years.",
                ));
                None
            } else {
                Some(now + time::Duration::seconds(ttl))
            }
        }
        (None, Some(at)) => {
            if at <= now {
                errors.push(FieldError::new(
                    &format!("{prefix}expires_at"),
                    "in_the_past",
                    "The expiry must be in the future.",
                ));
            }
            Some(at)
        }
        (None, None) => None,
    }
}

/// Checks a new memory; `prefix` names the item in a bulk request (`items.3.`).
pub(crate) fn validate_new(input: &NewMemory, prefix: &str, errors: &mut Vec<FieldError>) -> Valid {
    let f = |name: &str| format!("{prefix}{name}");
    let text = check_text(&f("text"), &input.text, errors);
    let metadata = input.metadata.clone().unwrap_or_else(|| json!({}));
    check_metadata(&f("metadata"), &metadata, errors);
    let tags = check_tags(
        &f("tags"),
        input.tags.as_deref().unwrap_or_default(),
        errors,
    );
    let source = check_source(
        &f("source"),
        input.source.as_deref().unwrap_or_default(),
        errors,
    );
    check_importance(&f("importance"), input.importance, errors);
    let expires_at = check_expiry(prefix, input.ttl_seconds, input.expires_at, errors);
    let named = input.ttl_seconds.is_some() || input.expires_at.is_some();
    if input.never_expires && named {
        errors.push(FieldError::new(
            &f("never_expires"),
            "conflicting",
            "A memory that never expires has no ttl_seconds or expires_at.",
        ));
    }
    Valid {
        owner_id: input.owner_id,
        hash: content_hash(&text),
        text,
        metadata,
        tags,
        source,
        importance: input.importance,
        expires_at,
        tenant_default: !named && !input.never_expires,
    }
}

fn into_result<T>(value: T, errors: Vec<FieldError>) -> Result<T> {
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(Error::Validation(errors))
    }
}

/// Fails unless every owner named is an identity of the tenant.
async fn check_owners_exist(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    owners: &[(usize, Uuid)],
    prefix: impl Fn(usize) -> String,
) -> Result<()> {
    if owners.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = owners.iter().map(|(_, id)| *id).collect();
    let known = sqlx::query_scalar!(
        "select id from identities where tenant_id = $1 and id = any($2)",
        tenant_id,
        &ids
    )
    .fetch_all(conn)
    .await?;
    let known: std::collections::HashSet<Uuid> = known.into_iter().collect();
    let errors: Vec<FieldError> = owners
        .iter()
        .filter(|(_, id)| !known.contains(id))
        .map(|(i, _)| {
            FieldError::new(
                &format!("{}owner_id", prefix(*i)),
                "unknown_identity",
                "The owner is not an identity of this tenant.",
            )
        })
        .collect();
    into_result((), errors)
}

// ---------------------------------------------------------------------------------------
// Reading

async fn fetch(conn: &mut PgConnection, tenant_id: Uuid, id: Uuid, lock: bool) -> Result<Memory> {
    let row = if lock {
        sqlx::query_as!(
            Memory,
            r#"select id, owner_id, text, metadata, tags, source, importance, embedding_model,
                      embedding_dim, created_at, updated_at, expires_at, deleted_at
               from memories where tenant_id = $1 and id = $2 for update"#,
            tenant_id,
            id
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_as!(
            Memory,
            r#"select id, owner_id, text, metadata, tags, source, importance, embedding_model,
                      embedding_dim, created_at, updated_at, expires_at, deleted_at
               from memories where tenant_id = $1 and id = $2"#,
            tenant_id,
            id
        )
        .fetch_optional(conn)
        .await?
    };
    row.ok_or(Error::NotFound { resource: "memory" })
}

/// The live memory holding this exact text for this owner, if any.
async fn find_duplicate(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    owner_id: Option<Uuid>,
    hash: &[u8],
) -> Result<Option<Memory>> {
    Ok(sqlx::query_as!(
        Memory,
        r#"select id, owner_id, text, metadata, tags, source, importance, embedding_model,
                  embedding_dim, created_at, updated_at, expires_at, deleted_at
           from memories
           where tenant_id = $1
             and coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid)
                 = coalesce($2, '00000000-0000-0000-0000-000000000000'::uuid)
             and content_hash = $3 and deleted_at is null
             and (expires_at is null or expires_at > now())"#,
        tenant_id,
        owner_id,
        hash
    )
    .fetch_optional(conn)
    .await?)
}

/// One memory, also from the Trash; an expired one is gone.
pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Memory> {
    let tenant_id = ctx.tenant_id()?;
    Scope::of(ctx, tenant_id, perm::MEMORIES_READ)?;
    let mut tx = db.read_in(tenant_id).await?;
    let m = fetch(tx.conn(), tenant_id, id, false).await?;
    check(ctx, tenant_id, perm::MEMORIES_READ, &m)?;
    if m.expired() {
        return Err(Error::NotFound { resource: "memory" });
    }
    Ok(m)
}

/// Which memories a list, a search or a bulk delete takes.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub owner_id: Option<Uuid>,
    /// Memories carrying every one of these tags.
    pub tags: Vec<String>,
    pub source: Option<String>,
    /// Memories whose metadata contains this object (`@>`).
    pub metadata: Option<Value>,
    pub created_after: Option<OffsetDateTime>,
    pub created_before: Option<OffsetDateTime>,
}

impl Filter {
    pub(crate) fn validate(&self, errors: &mut Vec<FieldError>) {
        check_tags("tags", &self.tags, errors);
        if let Some(m) = &self.metadata {
            check_metadata("metadata", m, errors);
        }
        if let (Some(a), Some(b)) = (self.created_after, self.created_before)
            && a >= b
        {
            errors.push(FieldError::new(
                "created_before",
                "invalid_range",
                "created_before must be later than created_after.",
            ));
        }
    }

    fn is_empty(&self) -> bool {
        self.owner_id.is_none()
            && self.tags.is_empty()
            && self.source.is_none()
            && self.metadata.is_none()
            && self.created_after.is_none()
            && self.created_before.is_none()
    }

    /// Appends ` and ...` conditions on the alias `m`, including the caller's scope.
    pub(crate) fn push(&self, q: &mut QueryBuilder<Postgres>, scope: Scope) {
        if let Some(me) = scope.owner() {
            q.push(" and m.owner_id = ").push_bind(me);
        }
        if let Some(owner) = self.owner_id {
            q.push(" and m.owner_id = ").push_bind(owner);
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self.tags.iter().map(|t| t.trim().to_owned()).collect();
            q.push(" and m.tags @> ").push_bind(tags);
        }
        if let Some(source) = &self.source {
            q.push(" and m.source = ")
                .push_bind(source.trim().to_owned());
        }
        if let Some(meta) = &self.metadata {
            q.push(" and m.metadata @> ").push_bind(meta.clone());
        }
        if let Some(after) = self.created_after {
            q.push(" and m.created_at >= ").push_bind(after);
        }
        if let Some(before) = self.created_before {
            q.push(" and m.created_at < ").push_bind(before);
        }
    }
}

/// Live memories, the Trash, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum State {
    #[default]
    Live,
    Deleted,
    All,
}

impl State {
    pub fn parse(s: &str) -> Option<State> {
        match s {
            "live" => Some(State::Live),
            "deleted" => Some(State::Deleted),
            "all" => Some(State::All),
            _ => None,
        }
    }

    pub(crate) fn push(self, q: &mut QueryBuilder<Postgres>) {
        q.push(" and (m.expires_at is null or m.expires_at > now())");
        match self {
            State::Live => q.push(" and m.deleted_at is null"),
            State::Deleted => q.push(" and m.deleted_at is not null"),
            State::All => q,
        };
    }
}

/// Newest first, `limit` at a time.
pub async fn list(
    ctx: &Ctx,
    db: &Db,
    filter: &Filter,
    state: State,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<Page<Memory>> {
    let tenant_id = ctx.tenant_id()?;
    let scope = Scope::of(ctx, tenant_id, perm::MEMORIES_READ)?;
    let mut errors = Vec::new();
    filter.validate(&mut errors);
    into_result((), errors)?;
    let limit = pagination::limit(limit)?;
    let after = cursor.map(pagination::decode_cursor).transpose()?;
    let mut tx = db.read_in(tenant_id).await?;
    // The owner scope and the filter are SQL; a rule on each memory (its id, owner or
    // metadata) is applied to the rows read, and the page filled from further on.
    let mut page = pagination::Filtered::new(limit, after);
    while let Some((after, take)) = page.next_batch() {
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "select {COLUMNS} from memories m where m.tenant_id = "
        ));
        q.push_bind(tenant_id);
        state.push(&mut q);
        filter.push(&mut q, scope);
        if let Some(after) = after {
            q.push(" and m.id < ").push_bind(after);
        }
        q.push(" order by m.id desc limit ").push_bind(take);
        let rows: Vec<Memory> = q.build_query_as().fetch_all(tx.conn()).await?;
        page.take(rows, |m| m.id, |m| visible(ctx, tenant_id, m));
    }
    Ok(page.finish(|m| m.id))
}

// ---------------------------------------------------------------------------------------
// Writing

async fn embed_one(db: &Db, text: &str) -> Result<(String, Vec<f32>)> {
    let embedder = db.embedder();
    let mut vectors = embedder.embed(vec![text.to_owned()]).await?;
    let v = vectors
        .pop()
        .ok_or_else(|| Error::Internal("the embedder returned no vector".into()))?;
    Ok((embedder.model().to_owned(), v))
}

/// Inserts one checked memory, unless the owner keeps the same text already. An expired
/// copy that the purge has not reached yet gives way (and is recorded as expired).
async fn insert(tx: &mut ChangeTx<'_>, v: &Valid, model: &str, vector: &[f32]) -> Result<Stored> {
    let tenant_id = tx.tenant_id;
    let expired = sqlx::query_scalar!(
        "delete from memories
         where tenant_id = $1
           and coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid)
               = coalesce($2, '00000000-0000-0000-0000-000000000000'::uuid)
           and content_hash = $3 and deleted_at is null and expires_at <= now()
         returning id",
        tenant_id,
        v.owner_id,
        &v.hash
    )
    .fetch_all(tx.conn())
    .await?;
    if !expired.is_empty() {
        tx.record(upkeep::expired_change(&expired)).await?;
    }
    let id = Uuid::now_v7();
    let dim = i32::try_from(vector.len()).map_err(|e| Error::internal("embedding size", e))?;
    let row = sqlx::query_as!(
        Memory,
        r#"insert into memories (tenant_id, id, owner_id, text, metadata, tags, source, importance,
                                 embedding, embedding_model, embedding_dim, content_hash, expires_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9::real[]::vector, $10, $11, $12,
                   coalesce($13, case when $14 then now() + (select t.memory_ttl_seconds
                                                             from tenants t where t.id = $1)
                                                            * interval '1 second' end))
           on conflict do nothing
           returning id, owner_id, text, metadata, tags, source, importance, embedding_model,
                     embedding_dim, created_at, updated_at, expires_at, deleted_at"#,
        tenant_id,
        id,
        v.owner_id,
        v.text,
        v.metadata,
        &v.tags,
        v.source,
        v.importance,
        vector as &[f32],
        model,
        dim,
        &v.hash,
        v.expires_at,
        v.tenant_default
    )
    .fetch_optional(tx.conn())
    .await?;
    match row {
        Some(m) => {
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
        None => find_duplicate(tx.conn(), tenant_id, v.owner_id, &v.hash)
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
    {
        let mut tx = db.read_in(tenant_id).await?;
        if let Some(owner) = v.owner_id {
            check_owners_exist(tx.conn(), tenant_id, &[(0, owner)], |_| String::new()).await?;
        }
        // A duplicate needs no embedding.
        if let Some(m) = find_duplicate(tx.conn(), tenant_id, v.owner_id, &v.hash).await? {
            return Ok(Stored::Duplicate(m));
        }
    }
    let (model, vector) = embed_one(db, &v.text).await?;
    let mut tx = db.change_in(ctx, tenant_id).await?;
    let stored = insert(&mut tx, &v, &model, &vector).await?;
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
    let mut stored_at: Vec<Option<Stored>> = vec![None; valid.len()];
    let mut any_created = false;
    for (k, &i) in distinct.iter().enumerate() {
        let s = insert(&mut tx, &valid[i], &model, &vectors[k]).await?;
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
        fetch(tx.conn(), tenant_id, id, false).await?
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
    let before = fetch(tx.conn(), tenant_id, id, true).await?;
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
    let hash = content_hash(&text);
    let (model, vector) = match &embedded {
        Some((m, v)) => (Some(m.as_str()), Some(v.as_slice())),
        None => (None, None),
    };
    let dim = vector.map(|v| v.len() as i32);
    let after = sqlx::query_as!(
        Memory,
        r#"update memories set owner_id = $3, text = $4, content_hash = $5, metadata = $6,
                  tags = $7, source = $8, importance = $9, expires_at = $10,
                  embedding = coalesce($11::real[]::vector, embedding),
                  embedding_model = coalesce($12, embedding_model),
                  embedding_dim = coalesce($13, embedding_dim),
                  updated_at = now()
           where tenant_id = $1 and id = $2
           returning id, owner_id, text, metadata, tags, source, importance, embedding_model,
                     embedding_dim, created_at, updated_at, expires_at, deleted_at"#,
        tenant_id,
        id,
        owner_id,
        text,
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
    .map_err(duplicate_conflict)?;
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
fn is_dedupe_key(constraint: &str) -> bool {
    constraint == "memories_dedupe_key"
        || (constraint.starts_with("memories_p") && constraint.ends_with("_dedupe_key"))
}

fn duplicate_conflict(e: sqlx::Error) -> Error {
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
    let m = fetch(tx.conn(), tenant_id, id, true).await?;
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
        let after = sqlx::query_as!(
            Memory,
            r#"update memories set deleted_at = now(), updated_at = now()
               where tenant_id = $1 and id = $2
               returning id, owner_id, text, metadata, tags, source, importance, embedding_model,
                         embedding_dim, created_at, updated_at, expires_at, deleted_at"#,
            tenant_id,
            id
        )
        .fetch_one(tx.conn())
        .await?;
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
        after: batch.map(|ids| json!({ "count": ids.len(), "ids": ids })),
    }
}

/// Takes a memory out of the Trash.
pub async fn restore(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Memory> {
    let tenant_id = ctx.tenant_id()?;
    Scope::of(ctx, tenant_id, perm::MEMORIES_DELETE)?;
    let mut tx = db.change_in(ctx, tenant_id).await?;
    let m = fetch(tx.conn(), tenant_id, id, true).await?;
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
    let after = sqlx::query_as!(
        Memory,
        r#"update memories set deleted_at = null, updated_at = now()
           where tenant_id = $1 and id = $2
           returning id, owner_id, text, metadata, tags, source, importance, embedding_model,
                     embedding_dim, created_at, updated_at, expires_at, deleted_at"#,
        tenant_id,
        id
    )
    .fetch_one(tx.conn())
    .await
    .map_err(duplicate_conflict)?;
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
    let mut rows: Vec<Memory> = q.build_query_as().fetch_all(tx.conn()).await?;
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
