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
mod input;
pub mod openai;
pub(crate) mod sealed;
pub mod search;
pub mod upkeep;
mod writing;

pub use input::*;
pub use writing::*;

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
use crate::events::catalogue::{shapes, types};
use crate::pagination::{self, Page};
use crate::privacy::envelope::Key;
use crate::privacy::keys::{Keyring, TenantKeys};
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

pub(crate) use sealed::{COLUMNS, Row};

impl Memory {
    /// What the audit trail and the event stream keep: never the text or the metadata.
    pub(crate) fn snapshot(&self) -> Value {
        shapes::to_value(shapes::MemoryData {
            id: self.id,
            owner_id: self.owner_id,
            tags: &self.tags,
            source: &self.source,
            importance: self.importance,
            text_chars: self.text.chars().count(),
            embedding_model: &self.embedding_model,
            expires_at: self.expires_at.map(shapes::Time),
            deleted: self.deleted_at.is_some(),
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
        keyring: &crate::privacy::keys::Keyring,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Memory>> {
        match fetch(conn, keyring, tenant_id, id, lock).await {
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
// Reading

async fn fetch(
    conn: &mut PgConnection,
    keyring: &Keyring,
    tenant_id: Uuid,
    id: Uuid,
    lock: bool,
) -> Result<Memory> {
    let row = if lock {
        sqlx::query_as!(
            Row,
            r#"select id, owner_id, text, text_sealed,
                      (select k.wrapped from subject_keys k
                       where k.tenant_id = m.tenant_id and k.identity_id = m.owner_id) as owner_key,
                      metadata, tags, source, importance, embedding_model,
                      embedding_dim, created_at, updated_at, expires_at, deleted_at
               from memories m where tenant_id = $1 and id = $2 for update"#,
            tenant_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            Row,
            r#"select id, owner_id, text, text_sealed,
                      (select k.wrapped from subject_keys k
                       where k.tenant_id = m.tenant_id and k.identity_id = m.owner_id) as owner_key,
                      metadata, tags, source, importance, embedding_model,
                      embedding_dim, created_at, updated_at, expires_at, deleted_at
               from memories m where tenant_id = $1 and id = $2"#,
            tenant_id,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    let row = row.ok_or(Error::NotFound { resource: "memory" })?;
    sealed::open_one(conn, keyring, tenant_id, row).await
}

/// The live memory holding this exact text for this owner, if any: `hashes` are the
/// text's keyed hash and, for rows written before sealing, its SHA-256.
async fn find_duplicate(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant_id: Uuid,
    owner_id: Option<Uuid>,
    hashes: &[Vec<u8>],
) -> Result<Option<Memory>> {
    let row = sqlx::query_as!(
        Row,
        r#"select id, owner_id, text, text_sealed,
                  (select k.wrapped from subject_keys k
                   where k.tenant_id = m.tenant_id and k.identity_id = m.owner_id) as owner_key,
                  metadata, tags, source, importance, embedding_model,
                  embedding_dim, created_at, updated_at, expires_at, deleted_at
           from memories m
           where tenant_id = $1
             and coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid)
                 = coalesce($2, '00000000-0000-0000-0000-000000000000'::uuid)
             and content_hash = any($3) and deleted_at is null
             and (expires_at is null or expires_at > now())
           limit 1"#,
        tenant_id,
        owner_id,
        hashes
    )
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.open(Some(keys), tenant_id)).transpose()
}

/// One memory, also from the Trash; an expired one is gone.
pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Memory> {
    let tenant_id = ctx.tenant_id()?;
    Scope::of(ctx, tenant_id, perm::MEMORIES_READ)?;
    let mut tx = db.read_in(tenant_id).await?;
    let (conn, keyring) = tx.parts();
    let m = fetch(conn, keyring, tenant_id, id, false).await?;
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

impl crate::validation::Choice for State {
    const FIELD: &'static str = "state";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("live", State::Live),
        ("deleted", State::Deleted),
        ("all", State::All),
    ];
}

impl State {
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
        let rows: Vec<Row> = q.build_query_as().fetch_all(tx.conn()).await?;
        let (conn, keyring) = tx.parts();
        let rows = sealed::open_all(conn, keyring, tenant_id, rows).await?;
        page.take(rows, |m| m.id, |m| visible(ctx, tenant_id, m));
    }
    Ok(page.finish(|m| m.id))
}
