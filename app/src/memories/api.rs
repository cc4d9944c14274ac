//! Server functions of the Memories screen: each turns its arguments into a service call
//! and the result into wire types. No rule and no SQL here.
// The new-memory and edit forms have eight fields, and a server function takes its form's
// fields as arguments (the wasm-side function the macro generates cannot carry an item
// attribute).
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use super::model::{HitView, MemoryPageView, MemoryView, StatusView};
use crate::error::AppError;

#[cfg(feature = "ssr")]
use std::collections::HashMap;

#[cfg(feature = "ssr")]
fn parse_id(id: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(id.trim())
        .map_err(|_| service::Error::NotFound { resource: "memory" }.into())
}

#[cfg(feature = "ssr")]
fn invalid(field: &str, message: &str) -> AppError {
    service::Error::validation(field, "invalid_value", message).into()
}

/// An owner typed or picked in a form: empty for none (the tenant's shared memories).
#[cfg(feature = "ssr")]
fn parse_owner(field: &str, raw: &str) -> Result<Option<uuid::Uuid>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    uuid::Uuid::parse_str(raw)
        .map(Some)
        .map_err(|_| invalid(field, "Pick an identity from the list, or paste its id."))
}

#[cfg(feature = "ssr")]
fn parse_metadata(raw: &str) -> Result<serde_json::Value, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_str(raw).map_err(|e| {
        service::Error::validation(
            "metadata",
            "invalid_json",
            format!("Metadata must be valid JSON: {e}"),
        )
        .into()
    })
}

#[cfg(feature = "ssr")]
fn parse_importance(raw: &str) -> Result<Option<f32>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.replace(',', ".").parse::<f32>().map(Some).map_err(|_| {
        invalid(
            "importance",
            "Importance is a number between 0 and 1, like 0.7.",
        )
    })
}

#[cfg(feature = "ssr")]
fn parse_expiry(choice: &str, custom: &str, field: &str) -> Result<super::model::Expiry, AppError> {
    super::model::parse_expiry(choice, custom).map_err(|m| invalid(field, m))
}

#[cfg(feature = "ssr")]
fn filter_of(
    owner: Option<&str>,
    tags: Option<&str>,
) -> Result<service::memories::Filter, AppError> {
    Ok(service::memories::Filter {
        owner_id: parse_owner("owner", owner.unwrap_or_default())?,
        tags: super::model::split_tags(tags.unwrap_or_default()),
        ..Default::default()
    })
}

#[cfg(feature = "ssr")]
fn short_id(id: uuid::Uuid) -> String {
    format!(
        "identity {}",
        crate::audit::model::short_id(&id.to_string())
    )
}

/// The names of the memories' owners, read at once. An owner the caller may not read (or
/// that is gone) shows as a short id: the names only decorate the list.
#[cfg(feature = "ssr")]
async fn owner_labels(
    ctx: &service::Ctx,
    db: &service::Db,
    mut owners: Vec<uuid::Uuid>,
) -> HashMap<uuid::Uuid, String> {
    owners.sort();
    owners.dedup();
    service::identities::labels(ctx, db, &owners)
        .await
        .unwrap_or_default()
}

#[cfg(feature = "ssr")]
fn view_of(m: service::memories::Memory, labels: &HashMap<uuid::Uuid, String>) -> MemoryView {
    use crate::identities::model::when;
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
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let status = service::memories::upkeep::status(&ctx, &db).await?;
    Ok(status.into())
}

/// Newest first. `state` is `live` (default), `deleted` (the Trash) or `all`; `owner` an
/// identity id; `tags` comma-separated (memories carrying all of them).
#[server(endpoint = "memories/list")]
pub async fn list_memories(
    state: Option<String>,
    owner: Option<String>,
    tags: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
) -> Result<MemoryPageView, AppError> {
    use service::memories::State;
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let state = match state.as_deref().map(str::trim).unwrap_or_default() {
        "" => State::Live,
        s => State::parse(s)
            .ok_or_else(|| invalid("state", "Show live memories, the Trash (deleted) or all."))?,
    };
    let filter = filter_of(owner.as_deref(), tags.as_deref())?;
    let page = service::memories::list(
        &ctx,
        &db,
        &filter,
        state,
        limit,
        cursor.as_deref().filter(|c| !c.is_empty()),
    )
    .await?;
    let labels = owner_labels(
        &ctx,
        &db,
        page.items.iter().filter_map(|m| m.owner_id).collect(),
    )
    .await;
    Ok(MemoryPageView {
        items: page
            .items
            .into_iter()
            .map(|m| view_of(m, &labels))
            .collect(),
        next_cursor: page.next_cursor,
    })
}

/// Ranked results for `q`. `mode` is `hybrid` (default), `semantic` or `keyword`; `trash`
/// searches the Trash too.
#[server(endpoint = "memories/search")]
pub async fn search_memories(
    q: String,
    mode: Option<String>,
    owner: Option<String>,
    tags: Option<String>,
    trash: bool,
) -> Result<Vec<HitView>, AppError> {
    use service::memories::search::{Mode, SearchInput};
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let mode = match mode.as_deref().map(str::trim).unwrap_or_default() {
        "" => Mode::Hybrid,
        m => Mode::parse(m)
            .ok_or_else(|| invalid("mode", "Search in hybrid, semantic or keyword mode."))?,
    };
    let input = SearchInput {
        query: q,
        mode,
        top_k: Some(20),
        min_score: None,
        filter: filter_of(owner.as_deref(), tags.as_deref())?,
        include_deleted: trash,
    };
    let hits = service::memories::search::search(&ctx, &db, input).await?;
    let labels = owner_labels(
        &ctx,
        &db,
        hits.iter().filter_map(|h| h.memory.owner_id).collect(),
    )
    .await;
    Ok(hits
        .into_iter()
        .map(|h| HitView {
            memory: view_of(h.memory, &labels),
            score: h.score,
            semantic_score: h.semantic_score,
            keyword_score: h.keyword_score,
            highlights: h.highlights,
        })
        .collect())
}

/// One memory, also from the Trash.
#[server(endpoint = "memories/get")]
pub async fn get_memory(id: String) -> Result<MemoryView, AppError> {
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let m = service::memories::get(&ctx, &db, parse_id(&id)?).await?;
    let labels = owner_labels(&ctx, &db, m.owner_id.into_iter().collect()).await;
    Ok(view_of(m, &labels))
}

/// The fields the new-memory and edit forms share, as submitted.
#[cfg(feature = "ssr")]
struct MemoryForm<'a> {
    text: &'a str,
    tags: &'a str,
    source: &'a str,
    importance: &'a str,
    metadata: &'a str,
    expiry: &'a str,
    ttl_seconds: &'a str,
}

/// [`MemoryForm`] checked: what both service calls need.
#[cfg(feature = "ssr")]
struct MemoryFields {
    metadata: serde_json::Value,
    tags: Vec<String>,
    importance: Option<f32>,
    expiry: super::model::Expiry,
}

#[cfg(feature = "ssr")]
impl<'a> MemoryForm<'a> {
    /// The fields to show again when the form comes back with errors.
    fn submitted(&self) -> Vec<(&'static str, &'a str)> {
        vec![
            ("text", self.text),
            ("tags", self.tags),
            ("source", self.source),
            ("importance", self.importance),
            ("metadata", self.metadata),
            ("expiry", self.expiry),
            ("ttl_seconds", self.ttl_seconds),
        ]
    }

    fn parse(&self) -> Result<MemoryFields, AppError> {
        Ok(MemoryFields {
            metadata: parse_metadata(self.metadata)?,
            tags: super::model::split_tags(self.tags),
            importance: parse_importance(self.importance)?,
            expiry: parse_expiry(self.expiry, self.ttl_seconds, "ttl_seconds")?,
        })
    }
}

/// Stores a memory and opens it: a new one with `?created=1`, or (when the owner already
/// keeps this exact text) the one kept, with `?duplicate=1`.
#[server(endpoint = "memories/create")]
pub async fn create_memory(
    text: String,
    tags: String,
    source: String,
    importance: String,
    metadata: String,
    expiry: String,
    ttl_seconds: String,
    owner_id: String,
) -> Result<(), AppError> {
    use super::model::Expiry;
    let form = MemoryForm {
        text: &text,
        tags: &tags,
        source: &source,
        importance: &importance,
        metadata: &metadata,
        expiry: &expiry,
        ttl_seconds: &ttl_seconds,
    };
    let mut submitted = form.submitted();
    submitted.push(("owner_id", owner_id.as_str()));
    let db = crate::server::db()?;
    let result = async {
        let ctx = crate::server::ctx().await?;
        let fields = form.parse()?;
        let input = service::memories::NewMemory {
            owner_id: parse_owner("owner_id", &owner_id)?,
            text: text.clone(),
            metadata: Some(fields.metadata),
            tags: Some(fields.tags),
            source: Some(source.clone()),
            importance: fields.importance,
            ttl_seconds: match fields.expiry {
                Expiry::Seconds(s) => Some(s),
                _ => None,
            },
            expires_at: None,
            // "Never" overrides the tenant's default lifetime.
            never_expires: fields.expiry == Expiry::Never,
        };
        let stored = service::memories::create(&ctx, &db, input).await?;
        let created = stored.created();
        let id = stored.into_memory().id;
        Ok(if created {
            format!("/memories/{id}?created=1")
        } else {
            format!("/memories/{id}?duplicate=1")
        })
    }
    .await;
    crate::server::finish_form("create_memory", &submitted, result).await
}

/// Changes a memory's text, tags, source, importance, metadata and expiry (`expiry`:
/// `keep`, `never`, a number of seconds, or `custom` with `ttl_seconds`).
#[server(endpoint = "memories/update")]
pub async fn update_memory(
    id: String,
    text: String,
    tags: String,
    source: String,
    importance: String,
    metadata: String,
    expiry: String,
    ttl_seconds: String,
) -> Result<(), AppError> {
    use super::model::Expiry;
    let form = MemoryForm {
        text: &text,
        tags: &tags,
        source: &source,
        importance: &importance,
        metadata: &metadata,
        expiry: &expiry,
        ttl_seconds: &ttl_seconds,
    };
    let submitted = form.submitted();
    let db = crate::server::db()?;
    let result = async {
        let ctx = crate::server::ctx().await?;
        let uuid = parse_id(&id)?;
        let fields = form.parse()?;
        let (ttl, expires_at) = match fields.expiry {
            Expiry::Keep | Expiry::Default => (None, None),
            Expiry::Never => (None, Some(None)),
            Expiry::Seconds(s) => (Some(s), None),
        };
        let patch = service::memories::MemoryPatch {
            owner_id: None,
            text: Some(text.clone()),
            metadata: Some(fields.metadata),
            tags: Some(fields.tags),
            source: Some(source.clone()),
            importance: Some(fields.importance),
            ttl_seconds: ttl,
            expires_at,
        };
        let memory = service::memories::update(&ctx, &db, uuid, patch).await?;
        Ok(format!("/memories/{}?saved=1", memory.id))
    }
    .await;
    crate::server::finish_form("update_memory", &submitted, result).await
}

/// `mode` is `trash` (restorable) or `purge` (gone for good); `from` is `trash` when the
/// Trash view asked, which the browser then returns to.
#[server(endpoint = "memories/delete")]
pub async fn delete_memory(id: String, mode: String, from: Option<String>) -> Result<(), AppError> {
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let uuid = parse_id(&id)?;
    let from_trash = from.as_deref() == Some("trash");
    let purge = mode == "purge";
    let result = service::memories::delete(&ctx, &db, uuid, purge).await;
    let next = match (purge, from_trash) {
        (true, true) => "/memories/trash?done=purged".to_owned(),
        (true, false) => "/memories?done=purged".to_owned(),
        (false, _) => "/memories?done=trashed".to_owned(),
    };
    finish_action(result, next, back(&id, from_trash)).await
}

/// Takes a memory out of the Trash.
#[server(endpoint = "memories/restore")]
pub async fn restore_memory(id: String, from: Option<String>) -> Result<(), AppError> {
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let uuid = parse_id(&id)?;
    let from_trash = from.as_deref() == Some("trash");
    let result = service::memories::restore(&ctx, &db, uuid)
        .await
        .map(|_| ());
    let next = if from_trash {
        "/memories/trash?done=restored".to_owned()
    } else {
        format!("/memories/{uuid}?restored=1")
    };
    finish_action(result, next, back(&id, from_trash)).await
}

/// Deletes every memory in the Trash for good.
#[server(endpoint = "memories/empty_trash")]
pub async fn empty_memory_trash() -> Result<(), AppError> {
    let db = crate::server::db()?;
    let ctx = crate::server::ctx().await?;
    let result = service::memories::bulk_delete(
        &ctx,
        &db,
        &service::memories::Filter::default(),
        service::memories::State::Deleted,
        true,
    )
    .await;
    match result {
        Ok(n) => {
            leptos_axum::redirect(&format!("/memories/trash?done=emptied&count={n}"));
            Ok(())
        }
        Err(e) => finish_action(Err(e), String::new(), "/memories/trash".to_owned()).await,
    }
}

/// Sets the tenant's default lifetime of new memories (`default_expiry`: `never`, a number
/// of seconds, or `custom` with `default_ttl_seconds`).
#[server(endpoint = "memories/set_default_ttl")]
pub async fn set_memory_default_ttl(
    default_expiry: String,
    default_ttl_seconds: String,
) -> Result<(), AppError> {
    use super::model::Expiry;
    let submitted = [
        ("default_expiry", default_expiry.as_str()),
        ("default_ttl_seconds", default_ttl_seconds.as_str()),
    ];
    let db = crate::server::db()?;
    let result = async {
        let ctx = crate::server::ctx().await?;
        let seconds =
            match parse_expiry(&default_expiry, &default_ttl_seconds, "default_ttl_seconds")? {
                Expiry::Seconds(s) => Some(i32::try_from(s).map_err(|_| {
                    invalid(
                        "default_ttl_seconds",
                        "The default lifetime is at most 68 years.",
                    )
                })?),
                Expiry::Never | Expiry::Default | Expiry::Keep => None,
            };
        service::memories::upkeep::set_default_ttl(&ctx, &db, seconds).await?;
        Ok("/memories?ttl_saved=1".to_owned())
    }
    .await;
    crate::server::finish_form("memory_ttl", &submitted, result).await
}

/// Where a failed action sends a plain form back to: the Trash, or the memory's page.
#[cfg(feature = "ssr")]
fn back(id: &str, from_trash: bool) -> String {
    if from_trash {
        "/memories/trash".to_owned()
    } else {
        match uuid::Uuid::parse_str(id.trim()) {
            Ok(uuid) => format!("/memories/{uuid}"),
            Err(_) => "/memories".to_owned(),
        }
    }
}

/// Sends the browser to `next`; a failure is flashed for plain forms, which go `back`.
#[cfg(feature = "ssr")]
async fn finish_action(
    result: Result<(), service::Error>,
    next: String,
    back: String,
) -> Result<(), AppError> {
    match result {
        Ok(()) => {
            leptos_axum::redirect(&next);
            Ok(())
        }
        Err(e) => {
            let e = AppError::from(e);
            crate::server::flash_failure("memory_actions", &e, &[]).await;
            if crate::server::is_plain_form() {
                // Not back to a confirmation dialog: to the memory (or the Trash) itself.
                leptos_axum::redirect(&back);
            }
            Err(e)
        }
    }
}
