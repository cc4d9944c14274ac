//! `/v1/sessions`, `/v1/auth/logout` and the self-service routes under `/v1/me`. Rules live
//! in `service::sessions` and `service::account`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use service::sessions::{self, SessionInfo};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Caller, Json, Path, Query};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    pub id: Uuid,
    pub identity_id: Uuid,
    /// The browser and system, in words: `Firefox on Linux`.
    pub device: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The session the request came with (never true for API calls).
    pub current: bool,
}

impl From<SessionInfo> for SessionBody {
    fn from(s: SessionInfo) -> Self {
        SessionBody {
            id: s.id,
            identity_id: s.identity_id,
            device: s.device,
            ip: s.ip,
            user_agent: s.user_agent,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            current: s.current,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionBody>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WhoseParams {
    /// Another identity's sessions (needs `sessions:manage`); default: yours.
    pub identity_id: Option<Uuid>,
}

/// Console sessions, most recently seen first.
#[utoipa::path(get, path = "/sessions", tag = "sessions", params(WhoseParams),
    responses((status = 200, body = SessionList), (status = 403, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(p): Query<WhoseParams>,
) -> ApiResult<axum::Json<SessionList>> {
    let items = sessions::list(&ctx, &state.db, p.identity_id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(SessionList { items }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedAll {
    pub sessions_ended: u64,
}

/// End every console session (yours but the current one, or another identity's with
/// `sessions:manage`); their refresh tokens are revoked too.
#[utoipa::path(delete, path = "/sessions", tag = "sessions", params(WhoseParams),
    responses((status = 200, body = RevokedAll), (status = 403, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn revoke_all(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(p): Query<WhoseParams>,
) -> ApiResult<axum::Json<RevokedAll>> {
    let sessions_ended = sessions::revoke_all(&ctx, &state.db, p.identity_id).await?;
    Ok(axum::Json(RevokedAll { sessions_ended }))
}

/// End one session: its browser is signed out at its next request.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "sessions", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn revoke(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    sessions::revoke(&ctx, &state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    pub refresh_token: String,
}

/// Sign an API client out: the refresh token and every token rotated from it stop working.
/// Unknown tokens are accepted silently, so logging out twice is harmless.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = LogoutRequest,
    responses((status = 204)))]
pub async fn logout(
    Caller(ctx): Caller,
    State(state): State<AppState>,
    Json(body): Json<LogoutRequest>,
) -> ApiResult<StatusCode> {
    state
        .tokens
        .logout(&ctx, &state.db, &body.refresh_token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
