//! `/v1/audit`: the tenant's audit trail. Rules live in `service::audit_log`.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service::audit_log::{self, AuditQuery, AuditRecord, Broken, Verification};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Json, Path, Query};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;
use service::validation::Choice;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The first record to check (its sequence number); default: the oldest kept.
    pub from_seq: Option<i64>,
    /// The last record to check; default: the newest.
    pub to_seq: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BrokenBody {
    /// The sequence number where the chain breaks.
    pub seq: i64,
    /// The record there, if it still exists.
    pub id: Option<Uuid>,
    /// `hash_mismatch` (the record was edited), `link_broken` (it does not point at the
    /// record before it), `missing` (a record was removed) or `truncated` (the newest
    /// records were removed).
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyBody {
    /// True when every record of the range checks out.
    pub ok: bool,
    pub from_seq: Option<i64>,
    pub to_seq: Option<i64>,
    pub checked: i64,
    /// The first broken link; absent when `ok`.
    pub broken: Option<BrokenBody>,
    /// The number of records the tenant's chain has had so far.
    pub head_seq: i64,
    /// Records committed too recently to be in the chain yet (it is sealed within
    /// milliseconds of each commit), and so not checked.
    pub unsealed: i64,
}

impl From<Verification> for VerifyBody {
    fn from(v: Verification) -> Self {
        VerifyBody {
            ok: v.ok(),
            from_seq: v.from_seq,
            to_seq: v.to_seq,
            checked: v.checked,
            broken: v.broken.map(|b| BrokenBody {
                seq: b.seq,
                id: b.id,
                reason: match b.reason {
                    Broken::HashMismatch => "hash_mismatch",
                    Broken::LinkBroken => "link_broken",
                    Broken::Missing => "missing",
                    Broken::Truncated => "truncated",
                }
                .into(),
            }),
            head_seq: v.head_seq,
            unsealed: v.unsealed,
        }
    }
}

/// Check the audit trail's hash chain over a range of records (default: all of it) and
/// report the first broken link.
#[utoipa::path(post, path = "/audit/verify", tag = "audit", request_body = VerifyRequest,
    responses((status = 200, body = VerifyBody), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn verify(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(r): Json<VerifyRequest>,
) -> ApiResult<axum::Json<VerifyBody>> {
    let v = audit_log::verify(&ctx, &state.db, r.from_seq, r.to_seq).await?;
    Ok(axum::Json(v.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditBody {
    pub id: Uuid,
    /// Its place in the tenant's hash chain.
    pub seq: i64,
    /// `identity`, `api_key`, `super_admin` or `system`.
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    /// The actor's name or email, while the actor exists.
    pub actor_label: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<Uuid>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Value>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    /// The record's hash in the chain, hex.
    pub hash: String,
}

impl From<AuditRecord> for AuditBody {
    fn from(r: AuditRecord) -> Self {
        let hash = r.hash_hex();
        AuditBody {
            id: r.id,
            seq: r.seq,
            actor_type: r.actor_type,
            actor_id: r.actor_id,
            actor_label: r.actor_label,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            outcome: r.outcome.as_str().to_owned(),
            before: r.before,
            after: r.after,
            request_id: r.request_id,
            ip: r.ip,
            user_agent: r.user_agent,
            occurred_at: r.occurred_at,
            hash,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    pub actor_id: Option<Uuid>,
    /// An action, or a prefix ending in `*`: `identity.*`.
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<Uuid>,
    /// `success`, `failure` or `denied`.
    pub outcome: Option<String>,
    pub request_id: Option<String>,
    /// RFC 3339; records at or after it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub from: Option<OffsetDateTime>,
    /// RFC 3339; records before it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>)]
    pub to: Option<OffsetDateTime>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<AuditParams> for AuditQuery {
    fn from(p: AuditParams) -> Self {
        AuditQuery {
            actor_id: p.actor_id,
            action: p.action,
            target_type: p.target_type,
            target_id: p.target_id,
            outcome: p.outcome,
            request_id: p.request_id,
            from: p.from,
            to: p.to,
            limit: p.limit,
            cursor: p.cursor,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditBody>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The audit trail, newest first, with filters.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditList), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(p): Query<AuditParams>,
) -> ApiResult<axum::Json<AuditList>> {
    let page = audit_log::list(&ctx, &state.db, &p.into()).await?;
    Ok(axum::Json(AuditList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One audit record, with its before and after.
#[utoipa::path(get, path = "/audit/{id}", tag = "audit", params(("id" = Uuid, Path)),
    responses((status = 200, body = AuditBody), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<AuditBody>> {
    Ok(axum::Json(
        audit_log::get(&ctx, &state.db, id).await?.into(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (default) or `jsonl` (one JSON object per line).
    pub format: Option<String>,
}

/// Export the audit records the filters take, oldest first, as CSV or JSON Lines. The
/// body is streamed a chunk of records at a time; the export is itself audited
/// (`audit.exported`).
#[utoipa::path(get, path = "/audit/export", tag = "audit", params(AuditParams, ExportParams),
    responses((status = 200, description = "text/csv or application/x-ndjson, streamed"), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn export(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(p): Query<AuditParams>,
    Query(e): Query<ExportParams>,
) -> ApiResult<Response> {
    let format = audit_log::ExportFormat::read_or_default(e.format.as_deref())?;
    let mut export = audit_log::export(&ctx, &state.db, p.into(), format).await?;
    // A task reads chunk after chunk and hands the body one chunk of text at a time; the
    // channel's small capacity makes a slow client slow the reads down.
    let (send, receive) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let db = state.db.clone();
    tokio::spawn(async move {
        loop {
            let text = match export.next_text(&db).await {
                Ok(Some(text)) => Ok(Bytes::from(text)),
                Ok(None) => return,
                Err(err) => {
                    tracing::error!(error = %err, "audit export failed midway");
                    Err(std::io::Error::other("the export failed midway"))
                }
            };
            let failed = text.is_err();
            if send.send(text).await.is_err() || failed {
                return; // the client went away, or the export ended with an error
            }
        }
    });
    let stream = futures_util::stream::unfold(receive, |mut r| async move {
        r.recv().await.map(|item| (item, r))
    });
    Ok((
        [
            (header::CONTENT_TYPE, format.media_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", format.file_name()),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
