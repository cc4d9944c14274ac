//! `/v1/identities/{id}/export` and `/v1/privacy/...`: exports of everything held about a
//! person, their status, their one-time download link and the document's JSON Schema;
//! `/v1/retention`, how long the tenant keeps what it no longer uses; `/v1/encryption`,
//! its field-level encryption and key jobs. Rules live in
//! `service::privacy::{export, retention, keyjobs}`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service::privacy::export::{self, Export};
use service::privacy::{keyjobs, retention};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Caller, Json, Path};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

/// An export just asked for, with its link (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct StartedBody {
    pub export: Export,
    /// Downloads the document once, without signing in, until `export.expires_at`;
    /// `409 export_not_ready` until the export is ready. Hand it only to the person or to
    /// whoever answers their request.
    pub download_url: String,
    /// Where to follow the export's progress.
    pub status_url: String,
}

/// Export everything held about a person (GDPR Art. 15/20): profile, roles and groups,
/// sessions and devices, API keys (never their secrets), SSO links, memories, the audit
/// records where they are actor or target, the events about them or by them. Answers at
/// once with the export (`queued`) and a one-time download link; the export is made in
/// the background (follow `status_url`). Needs `privacy:export` (owners and admins).
#[utoipa::path(post, path = "/identities/{id}/export", tag = "privacy", params(("id" = Uuid, Path)),
    responses((status = 202, body = StartedBody), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn start(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, axum::Json<StartedBody>)> {
    let started = export::start(&ctx, &state.db, id).await?;
    let status_url = format!("/v1/privacy/exports/{}", started.export.id);
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(StartedBody {
            export: started.export,
            download_url: started.link,
            status_url,
        }),
    ))
}

/// One export: its status and progress. Needs `privacy:read`.
#[utoipa::path(get, path = "/privacy/exports/{id}", tag = "privacy", params(("id" = Uuid, Path)),
    responses((status = 200, body = Export), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<Export>> {
    Ok(axum::Json(export::get(&ctx, &state.db, id).await?))
}

/// The export's document (`application/json`, valid against `/v1/privacy/export-schema.json`),
/// once: the link then answers `409 export_gone`, as it does once expired.
#[utoipa::path(get, path = "/privacy/exports/download/{token}", tag = "privacy",
    params(("token" = String, Path, description = "The link's `ex1.…` token")),
    responses((status = 200, description = "The document", content_type = "application/json"),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 429, body = Problem)))]
pub async fn download(
    Caller(ctx): Caller,
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let (id, json) = export::download(&ctx, &state.db, &token).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"tenantry-export-{id}.json\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        json,
    ))
}

/// The JSON Schema (draft 2020-12) every export document is valid against.
#[utoipa::path(get, path = "/privacy/export-schema.json", tag = "privacy",
    responses((status = 200, description = "The JSON Schema", content_type = "application/schema+json")))]
pub async fn schema() -> impl IntoResponse {
    let schema: Value = export::schema();
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        axum::Json(schema),
    )
}

/// The tenant's retention: how long it keeps people it disabled, what is in its Trash, and
/// sessions nobody uses; how long it keeps audit records; when the worker last applied it,
/// what it removed, and when it runs next. Needs `settings:read`.
#[utoipa::path(get, path = "/retention", tag = "privacy",
    responses((status = 200, body = retention::Retention), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_retention(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<retention::Retention>> {
    Ok(axum::Json(retention::get(&ctx, &state.db).await?))
}

/// Sets the tenant's retention periods, in days from 1 to 36,500; a field left out or
/// `null` keeps that data. People disabled (or in the Trash) for longer are erased, as
/// `POST /v1/identities/{id}/erase` does; memories in the Trash for longer are removed for
/// good; console sessions and API sign-ins unused for longer end. Applied within the hour
/// (a change wakes the worker at once). Needs `settings:update` (owners).
#[utoipa::path(put, path = "/retention", tag = "privacy", request_body = retention::Settings,
    responses((status = 200, body = retention::Retention), (status = 403, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_retention(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(settings): Json<retention::Settings>,
) -> ApiResult<axum::Json<retention::Retention>> {
    Ok(axum::Json(retention::set(&ctx, &state.db, settings).await?))
}

/// The tenant's field-level encryption: the data key's version that seals now and the
/// older ones still held, how many people have a key of their own, what is still stored in
/// plain text (written before encryption), and the newest key job. Needs `settings:read`.
#[utoipa::path(get, path = "/encryption", tag = "privacy",
    responses((status = 200, body = keyjobs::Encryption), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_encryption(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<keyjobs::Encryption>> {
    Ok(axum::Json(keyjobs::get(&ctx, &state.db).await?))
}

/// What key job to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartKeyJob {
    /// `seal`: seal what is stored in plain text; `rotate`: make a new data key, wrap and
    /// seal again under it everything the older versions wrapped or sealed, then remove
    /// them.
    pub kind: keyjobs::Kind,
}

/// Starts a key job in the background and answers at once with it (`queued`); follow it at
/// `/v1/encryption/jobs/{id}`. One job at a time: `409 key_job_running` while another is
/// queued or running. The server keeps answering throughout. Needs `settings:update`
/// (owners).
#[utoipa::path(post, path = "/encryption/jobs", tag = "privacy", request_body = StartKeyJob,
    responses((status = 202, body = keyjobs::KeyJob), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn start_key_job(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<StartKeyJob>,
) -> ApiResult<(StatusCode, axum::Json<keyjobs::KeyJob>)> {
    let job = keyjobs::start(&ctx, &state.db, body.kind).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(job)))
}

/// One key job: its status and progress (rows done of the total). Needs `settings:read`.
#[utoipa::path(get, path = "/encryption/jobs/{id}", tag = "privacy", params(("id" = Uuid, Path)),
    responses((status = 200, body = keyjobs::KeyJob), (status = 403, body = Problem),
        (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_key_job(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<keyjobs::KeyJob>> {
    Ok(axum::Json(keyjobs::job(&ctx, &state.db, id).await?))
}
