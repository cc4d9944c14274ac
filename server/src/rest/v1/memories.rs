//! `/v1/memories`: storing, listing, searching and deleting memories. The rules (dedupe,
//! TTL, who may see which memory, search strategies) are in `service::memories`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service::memories::search::{self, Hit, Mode, SearchInput};
use service::memories::{
    self, BulkItem, Filter, Memory, MemoryPatch, NewMemory, State as MemState, Stored, upkeep,
};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Json, Path, Query};
use crate::rest::nullable::{double_option, double_option_time};
use crate::rest::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use service::validation::Choice;

#[derive(Debug, Serialize, ToSchema)]
pub struct MemoryBody {
    pub id: Uuid,
    /// The identity the memory belongs to; absent for the tenant's shared memories.
    pub owner_id: Option<Uuid>,
    pub text: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub tags: Vec<String>,
    pub source: String,
    /// 0-1, when given.
    pub importance: Option<f32>,
    /// The model that embedded the text, e.g. `all-MiniLM-L6-v2`.
    pub embedding_model: String,
    pub embedding_dim: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Set while the memory is in the Trash.
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
}

impl From<Memory> for MemoryBody {
    fn from(m: Memory) -> Self {
        MemoryBody {
            id: m.id,
            owner_id: m.owner_id,
            text: m.text,
            metadata: m.metadata,
            tags: m.tags,
            source: m.source,
            importance: m.importance,
            embedding_model: m.embedding_model,
            embedding_dim: m.embedding_dim,
            created_at: m.created_at,
            updated_at: m.updated_at,
            expires_at: m.expires_at,
            deleted_at: m.deleted_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StoredBody {
    #[serde(flatten)]
    pub memory: MemoryBody,
    /// True when the owner already kept this exact text: nothing new was stored and this
    /// is the memory kept (the answer is then 200 instead of 201).
    pub duplicate: bool,
}

impl From<Stored> for StoredBody {
    fn from(s: Stored) -> Self {
        let duplicate = !s.created();
        StoredBody {
            memory: s.into_memory().into(),
            duplicate,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMemoryRequest {
    /// The identity it belongs to; omit for a memory shared by the tenant.
    pub owner_id: Option<Uuid>,
    pub text: String,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub tags: Option<Vec<String>>,
    pub source: Option<String>,
    pub importance: Option<f32>,
    /// Expire this many seconds from now (or give `expires_at`; neither: the tenant's default).
    pub ttl_seconds: Option<i64>,
    /// When it expires; `null` keeps it until deleted, whatever the tenant's default.
    #[serde(default, deserialize_with = "double_option_time")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<OffsetDateTime>>,
}

impl From<NewMemoryRequest> for NewMemory {
    fn from(r: NewMemoryRequest) -> Self {
        NewMemory {
            owner_id: r.owner_id,
            text: r.text,
            metadata: r.metadata,
            tags: r.tags,
            source: r.source,
            importance: r.importance,
            ttl_seconds: r.ttl_seconds,
            expires_at: r.expires_at.flatten(),
            never_expires: matches!(r.expires_at, Some(None)),
        }
    }
}

/// Store a memory. The same text for the same owner is kept once: sending it again
/// answers 200 with the memory already stored and `duplicate: true`.
#[utoipa::path(post, path = "/memories", tag = "memories", request_body = NewMemoryRequest,
    responses((status = 201, body = StoredBody), (status = 200, description = "A duplicate: the memory already kept", body = StoredBody),
              (status = 422, body = Problem), (status = 503, description = "The embedding provider is down", body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<NewMemoryRequest>,
) -> ApiResult<(StatusCode, axum::Json<StoredBody>)> {
    let stored = memories::create(&ctx, &state.db, body.into()).await?;
    let status = if stored.created() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(stored.into())))
}

#[derive(Debug, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// Only this identity's memories.
    pub owner_id: Option<Uuid>,
    /// Comma-separated tags; memories carrying all of them.
    pub tags: Option<String>,
    pub source: Option<String>,
    /// A JSON object the metadata must contain (`@>`), e.g. `{"topic":"billing"}`.
    pub metadata: Option<String>,
    /// RFC 3339.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub created_after: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub created_before: Option<OffsetDateTime>,
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError(service::Error::validation(field, "invalid_value", message))
}

impl FilterParams {
    fn into_filter(self) -> Result<Filter, ApiError> {
        let metadata = match self.metadata {
            Some(m) => Some(
                serde_json::from_str::<Value>(&m)
                    .map_err(|_| invalid("metadata", "metadata must be a JSON object"))?,
            ),
            None => None,
        };
        Ok(Filter {
            owner_id: self.owner_id,
            tags: self
                .tags
                .map(|t| {
                    t.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            source: self.source,
            metadata,
            created_after: self.created_after,
            created_before: self.created_before,
        })
    }
}

fn parse_state(state: Option<&str>) -> Result<MemState, ApiError> {
    Ok(MemState::read_or_default(state)?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `live` (default), `deleted` (the Trash) or `all`.
    pub state: Option<String>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemoryList {
    pub items: Vec<MemoryBody>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Memories, newest first, with filters; expired memories are never listed.
#[utoipa::path(get, path = "/memories", tag = "memories", params(FilterParams, ListParams),
    responses((status = 200, body = MemoryList), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(f): Query<FilterParams>,
    Query(p): Query<ListParams>,
) -> ApiResult<axum::Json<MemoryList>> {
    let page = memories::list(
        &ctx,
        &state.db,
        &f.into_filter()?,
        parse_state(p.state.as_deref())?,
        p.limit,
        p.cursor.as_deref(),
    )
    .await?;
    Ok(axum::Json(MemoryList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One memory (also from the Trash).
#[utoipa::path(get, path = "/memories/{id}", tag = "memories", params(("id" = Uuid, Path)),
    responses((status = 200, body = MemoryBody), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<MemoryBody>> {
    Ok(axum::Json(memories::get(&ctx, &state.db, id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryPatchRequest {
    /// A new owner; `null` makes the memory the tenant's.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
    /// A new text, embedded again.
    pub text: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub tags: Option<Vec<String>>,
    pub source: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f32>)]
    pub importance: Option<Option<f32>>,
    /// Expire this many seconds from now.
    pub ttl_seconds: Option<i64>,
    /// A new expiry; `null` makes the memory permanent.
    #[serde(default, deserialize_with = "double_option_time")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<OffsetDateTime>>,
}

/// Change a memory; a new text is embedded again.
#[utoipa::path(patch, path = "/memories/{id}", tag = "memories", params(("id" = Uuid, Path)), request_body = MemoryPatchRequest,
    responses((status = 200, body = MemoryBody), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(r): Json<MemoryPatchRequest>,
) -> ApiResult<axum::Json<MemoryBody>> {
    let patch = MemoryPatch {
        owner_id: r.owner_id,
        text: r.text,
        metadata: r.metadata,
        tags: r.tags,
        source: r.source,
        importance: r.importance,
        ttl_seconds: r.ttl_seconds,
        expires_at: r.expires_at,
    };
    Ok(axum::Json(
        memories::update(&ctx, &state.db, id, patch).await?.into(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// `true` deletes for good (also from the Trash); otherwise the memory goes to the Trash.
    #[serde(default)]
    pub hard: bool,
}

/// Delete a memory: to the Trash, or for good with `?hard=true`.
#[utoipa::path(delete, path = "/memories/{id}", tag = "memories", params(("id" = Uuid, Path), DeleteParams),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn delete(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(p): Query<DeleteParams>,
) -> ApiResult<StatusCode> {
    memories::delete(&ctx, &state.db, id, p.hard).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take a memory out of the Trash.
#[utoipa::path(post, path = "/memories/{id}/restore", tag = "memories", params(("id" = Uuid, Path)),
    responses((status = 200, body = MemoryBody), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn restore(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<MemoryBody>> {
    Ok(axum::Json(
        memories::restore(&ctx, &state.db, id).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct FilterBody {
    pub owner_id: Option<Uuid>,
    /// Memories carrying all of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    pub source: Option<String>,
    /// An object the metadata must contain (`@>`).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub created_after: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub created_before: Option<OffsetDateTime>,
}

impl From<FilterBody> for Filter {
    fn from(f: FilterBody) -> Self {
        Filter {
            owner_id: f.owner_id,
            tags: f.tags,
            source: f.source,
            metadata: f.metadata,
            created_after: f.created_after,
            created_before: f.created_before,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    pub query: String,
    /// `hybrid` (default), `semantic` or `keyword`.
    pub mode: Option<String>,
    /// 1-100 (default 10).
    pub top_k: Option<u32>,
    /// Semantic/hybrid: the least cosine similarity of a semantic match (hybrid keeps
    /// keyword matches); keyword: the least normalized rank.
    pub min_score: Option<f32>,
    #[serde(default)]
    pub filter: Option<FilterBody>,
    /// Search the Trash too.
    #[serde(default)]
    pub include_deleted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HitBody {
    pub memory: MemoryBody,
    /// The mode's score, higher is better: cosine similarity (semantic), normalized rank
    /// (keyword), or the reciprocal-rank fusion of both (hybrid).
    pub score: f32,
    pub semantic_score: Option<f32>,
    pub keyword_score: Option<f32>,
    /// Where the query's words occur in the text, `[start, end)` in characters.
    pub highlights: Vec<[usize; 2]>,
}

impl From<Hit> for HitBody {
    fn from(h: Hit) -> Self {
        HitBody {
            memory: h.memory.into(),
            score: h.score,
            semantic_score: h.semantic_score,
            keyword_score: h.keyword_score,
            highlights: h.highlights.into_iter().map(|(a, b)| [a, b]).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub mode: String,
    pub items: Vec<HitBody>,
}

/// Search memories by meaning, by words, or both (hybrid), best first. Expired memories
/// are never found.
#[utoipa::path(post, path = "/memories/search", tag = "memories", request_body = SearchRequest,
    responses((status = 200, body = SearchResults), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn search(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(r): Json<SearchRequest>,
) -> ApiResult<axum::Json<SearchResults>> {
    let mode = Mode::read_or_default(r.mode.as_deref())?;
    let hits = search::search(
        &ctx,
        &state.db,
        SearchInput {
            query: r.query,
            mode,
            top_k: r.top_k,
            min_score: r.min_score,
            filter: r.filter.map(Into::into).unwrap_or_default(),
            include_deleted: r.include_deleted,
        },
    )
    .await?;
    Ok(axum::Json(SearchResults {
        mode: mode.as_str().into(),
        items: hits.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkCreateRequest {
    /// Up to 1,000 memories, stored in one transaction: all, or none when any is invalid
    /// (each invalid field is named `items.<index>.<field>`).
    pub items: Vec<NewMemoryRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkItemBody {
    pub index: usize,
    /// `created` or `duplicate` (the owner already kept this text, or an earlier item had it).
    pub status: String,
    pub memory: MemoryBody,
}

impl From<BulkItem> for BulkItemBody {
    fn from(b: BulkItem) -> Self {
        BulkItemBody {
            index: b.index,
            status: if b.stored.created() {
                "created"
            } else {
                "duplicate"
            }
            .into(),
            memory: b.stored.into_memory().into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkCreated {
    pub created: usize,
    pub duplicates: usize,
    pub items: Vec<BulkItemBody>,
}

/// Store many memories at once (up to 1,000, embedded in batches, one transaction).
#[utoipa::path(post, path = "/memories/bulk", tag = "memories", request_body = BulkCreateRequest,
    responses((status = 200, body = BulkCreated), (status = 422, body = Problem), (status = 503, body = Problem)),
    security(("bearer" = [])))]
pub async fn bulk_create(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(r): Json<BulkCreateRequest>,
) -> ApiResult<axum::Json<BulkCreated>> {
    let items = memories::bulk_create(
        &ctx,
        &state.db,
        r.items.into_iter().map(Into::into).collect(),
    )
    .await?;
    let created = items.iter().filter(|i| i.stored.created()).count();
    Ok(axum::Json(BulkCreated {
        created,
        duplicates: items.len() - created,
        items: items.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDeleteRequest {
    /// Which memories; at least one condition unless emptying the Trash.
    #[serde(default)]
    pub filter: FilterBody,
    /// `live` (default) or `deleted` (the Trash: only with `hard`).
    pub state: Option<String>,
    /// Delete for good instead of moving to the Trash.
    #[serde(default)]
    pub hard: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkDeleted {
    pub deleted: u64,
}

/// Delete every memory a filter takes, to the Trash or for good; or empty the Trash.
#[utoipa::path(delete, path = "/memories/bulk", tag = "memories", request_body = BulkDeleteRequest,
    responses((status = 200, body = BulkDeleted), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn bulk_delete(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(r): Json<BulkDeleteRequest>,
) -> ApiResult<axum::Json<BulkDeleted>> {
    let state_filter = parse_state(r.state.as_deref())?;
    let deleted =
        memories::bulk_delete(&ctx, &state.db, &r.filter.into(), state_filter, r.hard).await?;
    Ok(axum::Json(BulkDeleted { deleted }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusBody {
    /// The embedding model in use.
    pub model: String,
    /// Memories (live and in the Trash) the caller may read.
    pub total: i64,
    /// How many of them the model in use embedded; the rest are being re-embedded.
    pub current: i64,
    pub default_ttl_seconds: Option<i32>,
    /// How long deleted memories stay in the Trash.
    pub trash_days: i32,
}

/// The embedding model, re-embedding progress and the tenant's memory settings.
#[utoipa::path(get, path = "/memories/status", tag = "memories",
    responses((status = 200, body = StatusBody)), security(("bearer" = [])))]
pub async fn status(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<StatusBody>> {
    let s = upkeep::status(&ctx, &state.db).await?;
    Ok(axum::Json(StatusBody {
        model: s.model,
        total: s.total,
        current: s.current,
        default_ttl_seconds: s.default_ttl_seconds,
        trash_days: s.trash_days,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    /// The lifetime of new memories that set none, in seconds; `null`: they do not expire.
    pub default_ttl_seconds: Option<i32>,
}

/// Set the tenant's default memory lifetime (needs `settings:update`).
#[utoipa::path(put, path = "/memories/settings", tag = "memories", request_body = SettingsRequest,
    responses((status = 200, body = StatusBody), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn settings(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(r): Json<SettingsRequest>,
) -> ApiResult<axum::Json<StatusBody>> {
    upkeep::set_default_ttl(&ctx, &state.db, r.default_ttl_seconds).await?;
    status(Authenticated(ctx), State(state)).await
}
