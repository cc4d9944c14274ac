//! Server functions of the Memories screen: each turns its form into a service call and
//! the result into wire types. No rule and no SQL here; forms are read in `forms`.

use leptos::prelude::*;

use super::forms::{MemoryForm, MemoryQuery, SearchQuery, TtlForm};
use super::model::{HitView, MemoryPageView, MemoryView, StatusView};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::{ctx, db, input, object_id};

#[cfg(feature = "ssr")]
use std::collections::HashMap;

#[cfg(feature = "ssr")]
fn short_id(id: uuid::Uuid) -> String {
    format!(
        "identity {}",
        crate::audit_log::model::short_id(&id.to_string())
    )
}

/// The names of the memories' owners, read at once. An owner the caller may not read (or
/// that is gone) shows as a short id: the names only decorate the list.
#[cfg(feature = "ssr")]
async fn owner_labels(
    ctx: &service::Ctx,
    db: &service::Db,
    owners: impl Iterator<Item = uuid::Uuid>,
) -> HashMap<uuid::Uuid, String> {
    let mut owners: Vec<uuid::Uuid> = owners.collect();
    owners.sort();
    owners.dedup();
    service::identities::labels(ctx, db, &owners)
        .await
        .unwrap_or_default()
}

#[cfg(feature = "ssr")]
fn view_of(m: service::memories::Memory, labels: &HashMap<uuid::Uuid, String>) -> MemoryView {
    use crate::format::minute as when;
    let now = time::OffsetDateTime::now_utc();
    MemoryView {
        id: m.id.to_string(),
        owner_id: m.owner_id.map(|o| o.to_string()),
        owner: m
            .owner_id
            .map(|o| labels.get(&o).cloned().unwrap_or_else(|| short_id(o))),
        text: m.text,
        metadata: serde_json::to_string_pretty(&m.metadata).unwrap_or_else(|_| "{}".into()),
        tags: m.tags,
        source: m.source,
        importance: m.importance,
        embedding_model: m.embedding_model,
        embedding_dim: m.embedding_dim,
        created_at: when(m.created_at),
        updated_at: when(m.updated_at),
        expires_at: m.expires_at.map(when),
        expires_in: m
            .expires_at
            .map(|t| super::model::relative((t - now).whole_seconds())),
        deleted_at: m.deleted_at.map(when),
    }
}

/// Memories as the console shows them, their owners named with one read.
#[cfg(feature = "ssr")]
async fn views(
    ctx: &service::Ctx,
    db: &service::Db,
    memories: Vec<service::memories::Memory>,
) -> Vec<MemoryView> {
    let labels = owner_labels(ctx, db, memories.iter().filter_map(|m| m.owner_id)).await;
    memories.into_iter().map(|m| view_of(m, &labels)).collect()
}

#[cfg(feature = "ssr")]
fn hit_view(h: service::memories::search::Hit, labels: &HashMap<uuid::Uuid, String>) -> HitView {
    HitView {
        memory: view_of(h.memory, labels),
        score: h.score,
        semantic_score: h.semantic_score,
        keyword_score: h.keyword_score,
        highlights: h.highlights,
    }
}

#[cfg(feature = "ssr")]
impl From<service::memories::upkeep::Status> for StatusView {
    fn from(s: service::memories::upkeep::Status) -> Self {
        StatusView {
            model: s.model,
            total: s.total,
            current: s.current,
            default_ttl_seconds: s.default_ttl_seconds,
            trash_days: s.trash_days,
        }
    }
}

/// The embedding model, how far re-embedding has come, and the tenant's memory settings.
#[server(endpoint = "memories/status")]
pub async fn memory_status() -> Result<StatusView, AppError> {
    // Everything from the render's context is taken before the first await (see
    // `sso_settings`).
    let (db, ctx) = (db()?, ctx().await?);
    let status = service::memories::upkeep::status(&ctx, &db).await?;
    Ok(status.into())
}

/// Newest first.
#[server(endpoint = "memories/list")]
pub async fn list_memories(
    #[server(flatten)] query: MemoryQuery,
) -> Result<MemoryPageView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let q: super::forms::Listing = crate::server::query(&ctx, "memories", query)?;
    let cursor = q.cursor.as_deref();
    let page = service::memories::list(&ctx, &db, &q.filter, q.state, None, cursor).await?;
    let items = views(&ctx, &db, page.items).await;
    Ok(MemoryPageView {
        items,
        next_cursor: page.next_cursor,
    })
}

/// An identity's ten newest live memories, for its page; `None` for an admin who may not
/// read memories.
#[cfg(feature = "ssr")]
pub async fn memories_of(
    ctx: &service::Ctx,
    db: &service::Db,
    owner: uuid::Uuid,
) -> Option<Result<Vec<MemoryView>, AppError>> {
    let filter = service::memories::Filter {
        owner_id: Some(owner),
        ..Default::default()
    };
    let live = service::memories::State::Live;
    match service::memories::list(ctx, db, &filter, live, Some(10), None).await {
        Err(service::Error::Forbidden { .. }) => None,
        Err(e) => Some(Err(e.into())),
        Ok(page) => Some(Ok(views(ctx, db, page.items).await)),
    }
}

/// Ranked results.
#[server(endpoint = "memories/search")]
pub async fn search_memories(
    #[server(flatten)] query: SearchQuery,
) -> Result<Vec<HitView>, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let search = crate::server::query(&ctx, "memories", query)?;
    let hits = service::memories::search::search(&ctx, &db, search).await?;
    let labels = owner_labels(&ctx, &db, hits.iter().filter_map(|h| h.memory.owner_id)).await;
    Ok(hits.into_iter().map(|h| hit_view(h, &labels)).collect())
}

/// One memory, also from the Trash.
#[server(endpoint = "memories/get")]
pub async fn get_memory(id: String) -> Result<MemoryView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let m = service::memories::get(&ctx, &db, object_id(&id, "memory")?).await?;
    let labels = owner_labels(&ctx, &db, m.owner_id.into_iter()).await;
    Ok(view_of(m, &labels))
}

/// Stores a memory and opens it: a new one with `?created=1`, or (when the owner already
/// keeps this exact text) the one kept, with `?duplicate=1`.
#[server(endpoint = "memories/create")]
pub async fn create_memory(#[server(flatten)] form: MemoryForm) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let stored = service::memories::create(&ctx, &db, input(&ctx, "memories", form.clone())?);
        let stored = stored.await?;
        let outcome = if stored.created() {
            "created"
        } else {
            "duplicate"
        };
        Ok(format!("/memories/{}?{outcome}=1", stored.into_memory().id))
    };
    crate::server::finish("create_memory", &form, result.await).await
}

/// Changes a memory's text, tags, source, importance, metadata and expiry.
#[server(endpoint = "memories/update")]
pub async fn update_memory(#[server(flatten)] form: MemoryForm) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let id = object_id(&form.id, "memory")?;
        let patch = input(&ctx, "memories", form.clone())?;
        let memory = service::memories::update(&ctx, &db, id, patch).await?;
        Ok(format!("/memories/{}?saved=1", memory.id))
    };
    crate::server::finish("update_memory", &form, result.await).await
}

/// `mode` is `trash` (restorable) or `purge` (gone for good); `from` is `trash` when the
/// Trash view asked, which the browser then returns to.
#[server(endpoint = "memories/delete")]
pub async fn delete_memory(id: String, mode: String, from: Option<String>) -> Result<(), AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let (purge, from_trash) = (mode == "purge", from.as_deref() == Some("trash"));
    let result = service::memories::delete(&ctx, &db, object_id(&id, "memory")?, purge).await;
    let next = match (purge, from_trash) {
        (true, true) => "/memories/trash?done=purged",
        (true, false) => "/memories?done=purged",
        (false, _) => "/memories?done=trashed",
    };
    finish_action(result, next, &back(&id, from_trash)).await
}

/// Takes a memory out of the Trash.
#[server(endpoint = "memories/restore")]
pub async fn restore_memory(id: String, from: Option<String>) -> Result<(), AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let uuid = object_id(&id, "memory")?;
    let from_trash = from.as_deref() == Some("trash");
    let result = service::memories::restore(&ctx, &db, uuid)
        .await
        .map(|_| ());
    let next = match from_trash {
        true => "/memories/trash?done=restored".to_owned(),
        false => format!("/memories/{uuid}?restored=1"),
    };
    finish_action(result, &next, &back(&id, from_trash)).await
}

/// Deletes every memory in the Trash for good.
#[server(endpoint = "memories/empty_trash")]
pub async fn empty_memory_trash() -> Result<(), AppError> {
    use service::memories::{Filter, State, bulk_delete};
    let (db, ctx) = (db()?, ctx().await?);
    let trash = "/memories/trash";
    match bulk_delete(&ctx, &db, &Filter::default(), State::Deleted, true).await {
        Ok(n) => finish_action(Ok(()), &format!("{trash}?done=emptied&count={n}"), trash).await,
        Err(e) => finish_action(Err(e), trash, trash).await,
    }
}

/// Sets the tenant's default lifetime of new memories.
#[server(endpoint = "memories/set_default_ttl")]
pub async fn set_memory_default_ttl(#[server(flatten)] form: TtlForm) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let ttl: super::forms::DefaultTtl = input(&ctx, "memories", form.clone())?;
        service::memories::upkeep::set_default_ttl(&ctx, &db, ttl.0).await?;
        Ok("/memories?ttl_saved=1".to_owned())
    };
    crate::server::finish("memory_ttl", &form, result.await).await
}

/// Where a failed action sends a plain form back to: the Trash, or the memory's page.
#[cfg(feature = "ssr")]
fn back(id: &str, from_trash: bool) -> String {
    match (from_trash, uuid::Uuid::parse_str(id.trim())) {
        (true, _) => "/memories/trash".to_owned(),
        (false, Ok(uuid)) => format!("/memories/{uuid}"),
        (false, Err(_)) => "/memories".to_owned(),
    }
}

#[cfg(feature = "ssr")]
async fn finish_action(
    result: Result<(), service::Error>,
    next: &str,
    back: &str,
) -> Result<(), AppError> {
    crate::server::finish_action("memory_actions", result, next, back).await
}
