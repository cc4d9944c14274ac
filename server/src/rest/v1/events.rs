//! `/v1/events`: the tenant's event stream (the outbox), read by programs. Rules live in
//! `service::events`.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service::events::{self, Event, EventQuery, Stats};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Path, Query};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectBody {
    /// `identity`, `group`, `memory`, ...
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventBody {
    pub id: Uuid,
    /// `identity.created`, `memory.deleted`, ...
    #[serde(rename = "type")]
    pub event_type: String,
    pub subject: SubjectBody,
    /// The subject after the change (before it, for a removal).
    #[schema(value_type = Option<Object>)]
    pub data: Value,
    /// The change's audit record (`/v1/audit/{id}`).
    pub audit_id: Option<Uuid>,
    /// `identity`, `api_key`, `system`, ... (from the audit record).
    pub actor_type: Option<String>,
    pub actor_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
}

impl From<Event> for EventBody {
    fn from(e: Event) -> Self {
        EventBody {
            id: e.id,
            event_type: e.event_type,
            subject: SubjectBody {
                kind: e.subject_type,
                id: e.subject_id,
            },
            data: e.payload.get("data").cloned().unwrap_or(Value::Null),
            audit_id: e.audit_id,
            actor_type: e.actor_type,
            actor_id: e.actor_id,
            occurred_at: e.occurred_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Event types, comma-separated; each exact or a wildcard: `identity.*,memory.deleted`.
    #[serde(rename = "type")]
    pub types: Option<String>,
    /// Events about this identity or made by it.
    pub identity_id: Option<Uuid>,
    /// Events about this subject (any kind).
    pub subject_id: Option<Uuid>,
    /// RFC 3339; events at or after it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub from: Option<OffsetDateTime>,
    /// RFC 3339; events before it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub to: Option<OffsetDateTime>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<EventParams> for EventQuery {
    fn from(p: EventParams) -> Self {
        EventQuery {
            types: p.types.into_iter().collect(),
            identity_id: p.identity_id,
            subject_id: p.subject_id,
            from: p.from,
            to: p.to,
            limit: p.limit,
            cursor: p.cursor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub items: Vec<EventBody>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeBody {
    /// `identity.created`, ...
    pub name: &'static str,
    /// What the event's subject is: `identity`, `memory`, ...
    pub subject_type: &'static str,
    pub description: &'static str,
    /// The JSON Schema (draft 2020-12) of the payload `{ "id": ..., "data": ... }`; `data`
    /// is what events and webhook deliveries carry.
    #[schema(value_type = Object)]
    pub schema: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventTypeList {
    pub items: Vec<EventTypeBody>,
}

/// The catalogue: every event type, with the JSON Schema of its payload. The same for every
/// tenant; webhook subscriptions and `type` filters name these.
#[utoipa::path(get, path = "/events/types", tag = "events",
    responses((status = 200, body = EventTypeList), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn types(Authenticated(_ctx): Authenticated) -> axum::Json<EventTypeList> {
    axum::Json(EventTypeList {
        items: events::catalogue::all()
            .iter()
            .map(|t| EventTypeBody {
                name: t.name,
                subject_type: t.subject_type,
                description: t.description,
                schema: t.schema.clone(),
            })
            .collect(),
    })
}

/// The tenant's events, newest first, filtered by type (with wildcards), identity and time.
#[utoipa::path(get, path = "/events", tag = "events", params(EventParams),
    responses((status = 200, body = EventList), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(p): Query<EventParams>,
) -> ApiResult<axum::Json<EventList>> {
    let page = events::list(&ctx, &state.db, &p.into()).await?;
    Ok(axum::Json(EventList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One event.
#[utoipa::path(get, path = "/events/{id}", tag = "events", params(("id" = Uuid, Path)),
    responses((status = 200, body = EventBody), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<EventBody>> {
    Ok(axum::Json(events::get(&ctx, &state.db, id).await?.into()))
}

#[derive(Debug, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct IdentityEventParams {
    /// Event types, comma-separated, with wildcards.
    #[serde(rename = "type")]
    pub types: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The events about one identity or made by it, newest first.
#[utoipa::path(get, path = "/identities/{id}/events", tag = "events",
    params(("id" = Uuid, Path), IdentityEventParams),
    responses((status = 200, body = EventList), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn for_identity(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(p): Query<IdentityEventParams>,
) -> ApiResult<axum::Json<EventList>> {
    // The identity must exist in the caller's tenant (another tenant's is 404).
    service::identities::get(&ctx, &state.db, id).await?;
    let query = EventQuery {
        types: p.types.into_iter().collect(),
        identity_id: Some(id),
        limit: p.limit,
        cursor: p.cursor,
        ..Default::default()
    };
    let page = events::list(&ctx, &state.db, &query).await?;
    Ok(axum::Json(EventList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// `hour` or `day` (default).
    pub bucket: Option<String>,
    /// Event types, comma-separated, with wildcards.
    #[serde(rename = "type")]
    pub types: Option<String>,
    /// RFC 3339; default 7 days before `to`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub from: Option<OffsetDateTime>,
    /// RFC 3339; default now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub to: Option<OffsetDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TypeCountBody {
    #[serde(rename = "type")]
    pub event_type: String,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BucketCountBody {
    #[serde(with = "time::serde::rfc3339")]
    pub bucket_start: OffsetDateTime,
    #[serde(rename = "type")]
    pub event_type: String,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsBody {
    /// `hour` or `day`.
    pub bucket: String,
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    pub total: i64,
    /// Counts per type over the whole range, most frequent first.
    pub by_type: Vec<TypeCountBody>,
    /// Counts per bucket and type, oldest first; empty buckets are left out.
    pub series: Vec<BucketCountBody>,
}

impl From<Stats> for StatsBody {
    fn from(s: Stats) -> Self {
        StatsBody {
            bucket: s.bucket.to_owned(),
            from: s.from,
            to: s.to,
            total: s.total,
            by_type: s
                .by_type
                .into_iter()
                .map(|t| TypeCountBody {
                    event_type: t.event_type,
                    count: t.count,
                })
                .collect(),
            series: s
                .series
                .into_iter()
                .map(|b| BucketCountBody {
                    bucket_start: b.bucket_start,
                    event_type: b.event_type,
                    count: b.count,
                })
                .collect(),
        }
    }
}

/// Counts of the tenant's events by type over time.
#[utoipa::path(get, path = "/events/stats", tag = "events", params(StatsParams),
    responses((status = 200, body = StatsBody), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn stats(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(p): Query<StatsParams>,
) -> ApiResult<axum::Json<StatsBody>> {
    let query = EventQuery {
        types: p.types.into_iter().collect(),
        from: p.from,
        to: p.to,
        ..Default::default()
    };
    let stats = events::stats(&ctx, &state.db, &query, p.bucket.as_deref()).await?;
    Ok(axum::Json(stats.into()))
}
