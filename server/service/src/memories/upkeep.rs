//! Work on memories off the request path, run by the server's memories worker on every
//! instance at once: rows are claimed with `FOR UPDATE SKIP LOCKED`, so instances share
//! the work and never do the same row twice.
//!
//! * Expiry: memories past `expires_at` are deleted in batches, with one `memory.expired`
//!   event per batch. (Searches and reads hide them from the moment they expire.)
//! * Trash: memories deleted more than [`TRASH_DAYS`] days ago are removed for good.
//! * Re-embedding: memories embedded by a model other than the one in use get new vectors,
//!   a batch at a time; [`status`] reports the progress the console shows.

use serde::Serialize;
use uuid::Uuid;

use super::Scope;
use crate::authz::perm;
use crate::ctx::Ctx;
use crate::db::{Change, Db};
use crate::error::{Error, FieldError, Result};
use crate::events::catalogue::{shapes, types};

/// How long a memory stays in the Trash.
pub const TRASH_DAYS: i32 = 30;

/// The record of a batch of expired memories: their ids, nothing else.
pub(crate) fn expired_change(ids: &[Uuid]) -> Change {
    Change {
        action: types::MEMORY_EXPIRED,
        target_type: "memory",
        target_id: (ids.len() == 1).then(|| ids[0]),
        before: None,
        after: Some(shapes::to_value(shapes::MemoryBatchData {
            count: ids.len(),
            ids,
        })),
    }
}

/// Deletes expired memories, and Trash older than [`TRASH_DAYS`], of every tenant, `batch`
/// rows per transaction. Returns how many went.
pub async fn purge_expired(db: &Db, batch: i64) -> Result<u64> {
    let ctx = Ctx::system();
    let mut total = 0;
    for tenant_id in db.tenant_ids().await? {
        for trash in [false, true] {
            loop {
                let mut tx = db.change_in(&ctx, tenant_id).await?;
                // The batch is chosen once, in a CTE: a LIMIT inside `id in (...)` may be
                // evaluated again for every row and take more than `batch`.
                let ids = sqlx::query_scalar!(
                    r#"with doomed as (
                           select id from memories
                           where tenant_id = $1
                             and case when $3 then deleted_at < now() - make_interval(days => $4)
                                      else expires_at <= now() end
                           order by id limit $2
                           for update skip locked)
                       delete from memories m using doomed
                       where m.tenant_id = $1 and m.id = doomed.id
                       returning m.id"#,
                    tenant_id,
                    batch,
                    trash,
                    TRASH_DAYS
                )
                .fetch_all(tx.conn())
                .await?;
                if ids.is_empty() {
                    break;
                }
                tx.record(if trash {
                    super::purged_change(None, Some(&ids))
                } else {
                    expired_change(&ids)
                })
                .await?;
                tx.commit().await?;
                total += ids.len() as u64;
                if (ids.len() as i64) < batch {
                    break;
                }
            }
        }
    }
    Ok(total)
}

/// Re-embeds up to `batch` of the tenant's memories that another model embedded. Returns
/// how many (0: the tenant is done, or other instances hold the rest).
pub async fn reembed_batch(db: &Db, tenant_id: Uuid, batch: i64) -> Result<usize> {
    let embedder = db.embedder();
    let model = embedder.model().to_owned();
    let ctx = Ctx::system();
    let mut tx = db.change_in(&ctx, tenant_id).await?;
    let rows = sqlx::query_as!(
        super::Row,
        r#"select id, owner_id, text, text_sealed,
                  (select k.wrapped from subject_keys k
                   where k.tenant_id = m.tenant_id and k.identity_id = m.owner_id) as owner_key,
                  metadata, tags, source, importance, embedding_model,
                  embedding_dim, created_at, updated_at, expires_at, deleted_at
           from memories m
           where tenant_id = $1 and embedding_model <> $2
           order by id limit $3 for update skip locked"#,
        tenant_id,
        model,
        batch
    )
    .fetch_all(tx.conn())
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let rows = {
        let (conn, keyring) = tx.parts();
        super::sealed::open_all(conn, keyring, tenant_id, rows).await?
    };
    let vectors = embedder
        .embed(rows.iter().map(|r| r.text.clone()).collect())
        .await?;
    for (row, v) in rows.iter().zip(&vectors) {
        sqlx::query!(
            "update memories set embedding = $3::real[]::vector, embedding_model = $4,
                    embedding_dim = $5
             where tenant_id = $1 and id = $2",
            tenant_id,
            row.id,
            v as &[f32],
            model,
            v.len() as i32
        )
        .execute(tx.conn())
        .await?;
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    tx.record(Change {
        action: types::MEMORY_REEMBEDDED,
        target_type: "memory",
        target_id: None,
        before: None,
        after: Some(shapes::to_value(shapes::ReembeddedData {
            count: ids.len(),
            model: &model,
            ids: &ids,
        })),
    })
    .await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// Re-embeds every tenant's memories that another model embedded, `batch` at a time.
pub async fn reembed_all(db: &Db, batch: i64) -> Result<u64> {
    let mut total = 0;
    for tenant_id in db.tenant_ids().await? {
        loop {
            let n = reembed_batch(db, tenant_id, batch).await?;
            total += n as u64;
            if n == 0 {
                break;
            }
        }
    }
    Ok(total)
}

/// The tenant's memories and how many of them the model in use embedded.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub model: String,
    pub total: i64,
    pub current: i64,
    /// The tenant's default lifetime of a new memory, in seconds (none: no expiry).
    pub default_ttl_seconds: Option<i32>,
    pub trash_days: i32,
}

pub async fn status(ctx: &Ctx, db: &Db) -> Result<Status> {
    let tenant_id = ctx.tenant_id()?;
    let scope = Scope::of(ctx, tenant_id, perm::MEMORIES_READ)?;
    let model = db.embedder().model().to_owned();
    let mut tx = db.read_in(tenant_id).await?;
    let owner = match scope {
        Scope::All => None,
        Scope::Own(me) => Some(me),
    };
    let row = sqlx::query!(
        r#"select count(*) as "total!",
                  count(*) filter (where embedding_model = $2) as "current!",
                  (select memory_ttl_seconds from tenants where id = $1) as default_ttl
           from memories where tenant_id = $1 and ($3::uuid is null or owner_id = $3)"#,
        tenant_id,
        model,
        owner
    )
    .fetch_one(tx.conn())
    .await?;
    Ok(Status {
        model,
        total: row.total,
        current: row.current,
        default_ttl_seconds: row.default_ttl,
        trash_days: TRASH_DAYS,
    })
}

/// Sets the tenant's default lifetime of new memories (`None`: they do not expire).
pub async fn set_default_ttl(ctx: &Ctx, db: &Db, seconds: Option<i32>) -> Result<Option<i32>> {
    if let Some(s) = seconds
        && !(1..=i32::MAX).contains(&s)
    {
        return Err(Error::Validation(vec![FieldError::new(
            "default_ttl_seconds",
            "out_of_range",
            "The default TTL is a positive number of seconds.",
        )]));
    }
    let mut tx = db.change(ctx, perm::SETTINGS_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let before = sqlx::query_scalar!(
        "select memory_ttl_seconds from tenants where id = $1 for update",
        tenant_id
    )
    .fetch_one(tx.conn())
    .await?;
    sqlx::query!(
        "update tenants set memory_ttl_seconds = $2, updated_at = now() where id = $1",
        tenant_id,
        seconds
    )
    .execute(tx.conn())
    .await?;
    tx.record(Change {
        action: types::TENANT_UPDATED,
        target_type: "tenant",
        target_id: Some(tenant_id),
        before: Some(shapes::to_value(shapes::TenantSettingsData {
            memory_ttl_seconds: before,
        })),
        after: Some(shapes::to_value(shapes::TenantSettingsData {
            memory_ttl_seconds: seconds,
        })),
    })
    .await?;
    tx.commit().await?;
    Ok(seconds)
}
