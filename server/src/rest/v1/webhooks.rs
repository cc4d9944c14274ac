//! `/v1/webhooks`: the tenant's webhook subscriptions, their delivery log, retries,
//! replays, test pings and stats. Rules live in `service::webhooks`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use service::webhooks::{self, Attempt, Delivery, Input, Subscription, WithSecret};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Json, Path, Query};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookBody {
    pub id: Uuid,
    #[schema(example = "CRM sync")]
    pub name: String,
    pub description: String,
    #[schema(example = "https://hooks.example.com/tenantry")]
    pub url: String,
    /// Exact types or wildcards: `identity.*`, `*`.
    #[schema(example = json!(["identity.*", "memory.created"]))]
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why the server disabled it (every attempt failed for about a day).
    pub disabled_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    /// The first failed attempt since the last success.
    #[serde(with = "time::serde::rfc3339::option")]
    pub failing_since: Option<OffsetDateTime>,
    /// After a rotation, the previous secret also signs until then.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Subscription> for WebhookBody {
    fn from(s: Subscription) -> Self {
        WebhookBody {
            id: s.id,
            name: s.name,
            description: s.description,
            url: s.url,
            event_types: s.event_types,
            enabled: s.enabled,
            disabled_reason: s.disabled_reason,
            disabled_at: s.disabled_at,
            failing_since: s.failing_since,
            previous_secret_until: s.previous_secret_until,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// A webhook with its signing secret: returned by create and rotate-secret only.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookBody,
    /// `whsec_...`, shown this once: receivers verify `webhook-signature` with it (any
    /// Standard Webhooks library takes it as it is).
    pub secret: String,
}

impl From<WithSecret> for WebhookWithSecret {
    fn from(w: WithSecret) -> Self {
        WebhookWithSecret {
            webhook: w.subscription.into(),
            secret: w.secret,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<WebhookBody>,
}

/// The tenant's webhooks, by name.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<WebhookList>> {
    let items = webhooks::list(&ctx, &state.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(WebhookList { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `https://...` (or `http://`). Private, loopback and link-local addresses are refused
    /// unless the server allows them (`TENANTRY_WEBHOOKS_ALLOW_PRIVATE`).
    pub url: String,
    /// Types from `/v1/events/types`, or wildcards: `identity.*`, `*`.
    pub event_types: Vec<String>,
    pub enabled: Option<bool>,
}

/// Subscribe a URL to event types. The answer carries the signing secret, this once.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = CreateRequest,
    responses((status = 201, body = WebhookWithSecret), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<CreateRequest>,
) -> ApiResult<(StatusCode, axum::Json<WebhookWithSecret>)> {
    let created = webhooks::create(
        &ctx,
        &state.db,
        Input {
            name: Some(body.name),
            description: Some(body.description),
            url: Some(body.url),
            event_types: Some(body.event_types),
            enabled: body.enabled,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(created.into())))
}

/// One webhook.
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = WebhookBody), (status = 404, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<WebhookBody>> {
    Ok(axum::Json(webhooks::get(&ctx, &state.db, id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `false` pauses deliveries; `true` resumes them (also after the server disabled it).
    pub enabled: Option<bool>,
}

/// Change a webhook; absent fields stay as they are.
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    request_body = UpdateRequest,
    responses((status = 200, body = WebhookBody), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn update(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateRequest>,
) -> ApiResult<axum::Json<WebhookBody>> {
    let updated = webhooks::update(
        &ctx,
        &state.db,
        id,
        Input {
            name: body.name,
            description: body.description,
            url: body.url,
            event_types: body.event_types,
            enabled: body.enabled,
        },
    )
    .await?;
    Ok(axum::Json(updated.into()))
}

/// Delete a webhook with its delivery log.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn delete(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    webhooks::delete(&ctx, &state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the previous secret keeps signing too (default 86400, at most 604800; 0
    /// stops it now).
    pub overlap_seconds: Option<i64>,
}

/// Replace the signing secret. The answer carries the new secret, this once; during the
/// overlap each message carries two signatures, one per secret.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks", params(("id" = Uuid, Path)),
    request_body = Option<RotateRequest>,
    responses((status = 200, body = WebhookWithSecret), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn rotate_secret(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    body: Option<Json<RotateRequest>>,
) -> ApiResult<axum::Json<WebhookWithSecret>> {
    let overlap = body
        .and_then(|Json(b)| b.overlap_seconds)
        .map(time::Duration::seconds);
    let rotated = webhooks::rotate_secret(&ctx, &state.db, id, overlap).await?;
    Ok(axum::Json(rotated.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryBody {
    /// Also the `webhook-id` header of every attempt.
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `succeeded`, `failed` (gave up) or `paused` (the webhook is disabled).
    pub status: String,
    pub attempts: i32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub event_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    /// The HTTP status of the last attempt.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

impl From<Delivery> for DeliveryBody {
    fn from(d: Delivery) -> Self {
        DeliveryBody {
            id: d.id,
            webhook_id: d.subscription_id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_at,
            event_at: d.event_at,
            last_attempt_at: d.last_attempt_at,
            delivered_at: d.delivered_at,
            last_status: d.last_status,
            last_error: d.last_error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptBody {
    pub attempt: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub succeeded: bool,
    /// The HTTP status; absent when no response came.
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    /// The start of the response body.
    pub response_snippet: Option<String>,
    pub error: Option<String>,
}

impl From<Attempt> for AttemptBody {
    fn from(a: Attempt) -> Self {
        AttemptBody {
            attempt: a.attempt,
            at: a.at,
            succeeded: a.succeeded,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response_snippet: a.response_snippet,
            error: a.error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<DeliveryBody>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// `pending`, `succeeded`, `failed` or `paused`.
    pub status: Option<String>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A webhook's deliveries, newest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path), DeliveryParams),
    responses((status = 200, body = DeliveryList), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn deliveries(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(params): Query<DeliveryParams>,
) -> ApiResult<axum::Json<DeliveryList>> {
    let page = webhooks::deliveries(
        &ctx,
        &state.db,
        id,
        &webhooks::DeliveryQuery {
            status: params.status,
            limit: params.limit,
            cursor: params.cursor,
        },
    )
    .await?;
    Ok(axum::Json(DeliveryList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryBody,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<AttemptBody>,
}

/// One delivery with its every attempt.
#[utoipa::path(get, path = "/webhooks/deliveries/{id}", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn delivery(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<DeliveryDetail>> {
    let (delivery, attempts) = webhooks::delivery(&ctx, &state.db, id).await?;
    Ok(axum::Json(DeliveryDetail {
        delivery: delivery.into(),
        attempt_log: attempts.into_iter().map(Into::into).collect(),
    }))
}

/// Queue one more attempt of a delivery, now (same `webhook-id`).
#[utoipa::path(post, path = "/webhooks/deliveries/{id}/retry", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 202, body = DeliveryBody), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn retry(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, axum::Json<DeliveryBody>)> {
    let queued = webhooks::retry(&ctx, &state.db, id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(queued.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// RFC 3339; events at or after it.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub from: OffsetDateTime,
    /// RFC 3339; events before it.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub to: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayBody {
    /// Deliveries queued (existing ones again, with their `webhook-id`; missing ones new).
    pub queued: i64,
}

/// Deliver again every stored event of a time range that the webhook's types match.
#[utoipa::path(post, path = "/webhooks/{id}/replay", tag = "webhooks", params(("id" = Uuid, Path)),
    request_body = ReplayRequest,
    responses((status = 202, body = ReplayBody), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn replay(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<ReplayRequest>,
) -> ApiResult<(StatusCode, axum::Json<ReplayBody>)> {
    let queued = webhooks::replay(&ctx, &state.db, id, body.from, body.to).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(ReplayBody { queued })))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PingBody {
    pub delivery: DeliveryBody,
    pub attempt: AttemptBody,
}

/// Send a `webhook.test` message now and wait for the answer; it is logged as a delivery.
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks", params(("id" = Uuid, Path)),
    responses((status = 200, body = PingBody), (status = 404, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn test(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<PingBody>> {
    let (delivery, attempt) = webhooks::ping(&ctx, &state.db, id).await?;
    Ok(axum::Json(PingBody {
        delivery: delivery.into(),
        attempt: attempt.into(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// RFC 3339; default 24 hours before `to`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub from: Option<OffsetDateTime>,
    /// RFC 3339; default now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub to: Option<OffsetDateTime>,
    /// Only this webhook.
    pub webhook_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FiguresBody {
    pub attempts: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// Succeeded attempts over all attempts; absent without attempts.
    pub success_rate: Option<f64>,
    /// Attempt latency percentiles, in milliseconds.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    /// Deliveries waiting for an attempt now.
    pub pending: i64,
}

impl From<webhooks::Figures> for FiguresBody {
    fn from(f: webhooks::Figures) -> Self {
        FiguresBody {
            attempts: f.attempts,
            succeeded: f.succeeded,
            failed: f.failed,
            success_rate: f.success_rate,
            p50_ms: f.p50_ms,
            p95_ms: f.p95_ms,
            pending: f.pending,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookStatsBody {
    pub webhook_id: Uuid,
    pub name: String,
    #[serde(flatten)]
    pub figures: FiguresBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsBucketBody {
    #[serde(with = "time::serde::rfc3339")]
    pub bucket_start: OffsetDateTime,
    pub succeeded: i64,
    pub failed: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsBody {
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// `hour`, or `day` over more than 3 days.
    pub bucket: String,
    /// Over every attempt of the webhooks asked for.
    pub total: FiguresBody,
    pub webhooks: Vec<WebhookStatsBody>,
    /// Attempts per bucket; buckets without attempts are left out.
    pub series: Vec<StatsBucketBody>,
}

/// Attempts, success rate and latency (p50, p95) per webhook and in all over a range.
#[utoipa::path(get, path = "/webhooks/stats", tag = "webhooks", params(StatsParams),
    responses((status = 200, body = StatsBody), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn stats(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(params): Query<StatsParams>,
) -> ApiResult<axum::Json<StatsBody>> {
    let s = webhooks::stats(&ctx, &state.db, params.from, params.to, params.webhook_id).await?;
    Ok(axum::Json(StatsBody {
        from: s.from,
        to: s.to,
        bucket: s.bucket.into(),
        total: s.total.into(),
        webhooks: s
            .subscriptions
            .into_iter()
            .map(|w| WebhookStatsBody {
                webhook_id: w.subscription_id,
                name: w.name,
                figures: w.figures.into(),
            })
            .collect(),
        series: s
            .series
            .into_iter()
            .map(|b| StatsBucketBody {
                bucket_start: b.bucket_start,
                succeeded: b.succeeded,
                failed: b.failed,
            })
            .collect(),
    }))
}
