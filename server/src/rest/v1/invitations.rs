//! `/v1/invitations`: invite people by email, follow and manage the invitations, and the
//! two public routes an invitee's program may use (validate, accept). Rules live in
//! `service::invitations`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use service::invitations::{self, Acceptance, Invitation, ListQuery, NewInvitation, Preview};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::TokenResponse;
use crate::rest::extract::{Authenticated, Caller, Json, Path, Query};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;
use service::validation::Choice;

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationBody {
    pub id: Uuid,
    pub email: String,
    /// Role names granted on acceptance.
    pub roles: Vec<String>,
    pub group_ids: Vec<Uuid>,
    pub message: String,
    /// `pending`, `accepted`, `expired` or `revoked`.
    pub status: String,
    pub invited_by: Option<Uuid>,
    pub inviter_name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// How many times the mail was queued (1 + resends).
    pub sent_count: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub last_sent_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
    /// The identity created on acceptance.
    pub accepted_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl From<Invitation> for InvitationBody {
    fn from(i: Invitation) -> Self {
        InvitationBody {
            id: i.id,
            email: i.email,
            roles: i.roles,
            group_ids: i.group_ids,
            message: i.message,
            status: i.status.as_str().into(),
            invited_by: i.invited_by,
            inviter_name: i.inviter_name,
            created_at: i.created_at,
            expires_at: i.expires_at,
            sent_count: i.sent_count,
            last_sent_at: i.last_sent_at,
            accepted_at: i.accepted_at,
            accepted_by: i.accepted_by,
            revoked_at: i.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    pub items: Vec<InvitationBody>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `pending`, `accepted`, `expired` or `revoked`; default: all.
    pub status: Option<String>,
}

/// Invitations, newest first.
#[utoipa::path(get, path = "/invitations", tag = "invitations", params(ListParams),
    responses((status = 200, body = InvitationList), (status = 403, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<axum::Json<InvitationList>> {
    let status = match p.status.as_deref() {
        Some("all") => None,
        s => invitations::Status::read_opt(s)?,
    };
    let items = invitations::list(&ctx, &state.db, ListQuery { status })
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(InvitationList { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    #[schema(example = "grace@example.com")]
    pub email: String,
    /// Role names; default `["member"]`. You can only hand out what you hold.
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub group_ids: Vec<Uuid>,
    /// A note from you, put in the mail.
    #[serde(default)]
    pub message: String,
    /// Days until the link expires, 1-30 (default 7).
    pub expires_in_days: Option<u32>,
}

/// Invite someone: the mail with a single-use link goes out through the outbox.
#[utoipa::path(post, path = "/invitations", tag = "invitations", request_body = CreateRequest,
    responses((status = 201, body = InvitationBody), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn create(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<CreateRequest>,
) -> ApiResult<(StatusCode, axum::Json<InvitationBody>)> {
    let created = invitations::create(
        &ctx,
        &state.db,
        NewInvitation {
            email: body.email,
            roles: body.roles,
            group_ids: body.group_ids,
            message: body.message,
            expires_in_days: body.expires_in_days,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(created.into())))
}

/// One invitation.
#[utoipa::path(get, path = "/invitations/{id}", tag = "invitations", params(("id" = Uuid, Path)),
    responses((status = 200, body = InvitationBody), (status = 404, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<InvitationBody>> {
    Ok(axum::Json(
        invitations::get(&ctx, &state.db, id).await?.into(),
    ))
}

/// Revoke an invitation: its link stops working.
#[utoipa::path(delete, path = "/invitations/{id}", tag = "invitations", params(("id" = Uuid, Path)),
    responses((status = 200, body = InvitationBody), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn revoke(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<InvitationBody>> {
    Ok(axum::Json(
        invitations::revoke(&ctx, &state.db, id).await?.into(),
    ))
}

/// Send the invitation again with a new link (the old one dies) and a fresh expiry.
#[utoipa::path(post, path = "/invitations/{id}/resend", tag = "invitations", params(("id" = Uuid, Path)),
    responses((status = 200, body = InvitationBody), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn resend(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<InvitationBody>> {
    Ok(axum::Json(
        invitations::resend(&ctx, &state.db, id).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The `iv1.…` token from the invitation link.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewBody {
    /// `pending` (can be accepted), `accepted`, `expired` or `revoked`.
    pub status: String,
    pub tenant: String,
    pub tenant_name: String,
    pub email: String,
    pub inviter_name: Option<String>,
    pub roles: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl From<Preview> for PreviewBody {
    fn from(p: Preview) -> Self {
        PreviewBody {
            status: p.status.as_str().into(),
            tenant: p.tenant_slug,
            tenant_name: p.tenant_name,
            email: p.email,
            inviter_name: p.inviter_name,
            roles: p.roles,
            expires_at: p.expires_at,
        }
    }
}

/// Check an invitation token without using it (public: the token is the credential).
#[utoipa::path(post, path = "/invitations/validate", tag = "invitations", request_body = TokenRequest,
    responses((status = 200, body = PreviewBody), (status = 404, body = Problem)))]
pub async fn validate(
    State(state): State<AppState>,
    Json(body): Json<TokenRequest>,
) -> ApiResult<axum::Json<PreviewBody>> {
    Ok(axum::Json(
        invitations::validate(&state.db, &body.token).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    pub token: String,
    pub display_name: String,
    /// At least 12 characters.
    pub password: String,
}

/// Accept an invitation: creates the identity and returns its first tokens (public: the
/// token is the credential).
#[utoipa::path(post, path = "/invitations/accept", tag = "invitations", request_body = AcceptRequest,
    responses((status = 200, body = TokenResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn accept(
    Caller(ctx): Caller,
    State(state): State<AppState>,
    Json(body): Json<AcceptRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let mut caller = invitations::accept(
        &ctx,
        &state.db,
        Acceptance {
            token: body.token,
            display_name: body.display_name,
            password: body.password,
        },
    )
    .await?;
    caller.via = service::ctx::AuthMethod::AccessToken;
    let pair = state.tokens.issue_pair(&ctx, &state.db, &caller).await?;
    Ok(axum::Json(pair.into()))
}
