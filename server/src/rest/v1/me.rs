//! `/v1/me`: the caller, their profile and their password.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use service::account::{self, PasswordChange, ProfileInput};
use service::identities;
use utoipa::ToSchema;

use super::identities::IdentityBody;
use crate::rest::extract::{Authenticated, Json};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct MeBody {
    pub identity: IdentityBody,
    pub tenant: super::tenants::TenantBody,
    /// Every role held, directly or through groups.
    pub roles: Vec<String>,
    /// What this request may do on whole modules (`module:action`), after the roles, the
    /// policies and, for an API key, its scopes.
    pub permissions: Vec<String>,
    /// The API key's scopes when an API key made the request; `["*:*"]` otherwise.
    pub scopes: Vec<String>,
    /// `session`, `access_token` or `api_key`.
    pub via: String,
}

/// The caller: their identity and tenant.
#[utoipa::path(get, path = "/me", tag = "identities",
    responses((status = 200, body = MeBody), (status = 401, body = Problem)),
    security(("bearer" = [])))]
pub async fn me(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<MeBody>> {
    let caller = ctx.caller()?;
    let identity = identities::me(&ctx)?;
    let tenant = service::tenants::current(&ctx, &state.db).await?;
    Ok(axum::Json(MeBody {
        identity: identity.into(),
        tenant: tenant.into(),
        roles: caller.role_names(),
        permissions: ctx
            .allowed_permissions()
            .into_iter()
            .map(|p| p.to_key())
            .collect(),
        scopes: match &caller.api_key {
            Some(k) => k.scopes.clone(),
            None => vec!["*:*".to_owned()],
        },
        via: match caller.via {
            service::ctx::AuthMethod::Session => "session",
            service::ctx::AuthMethod::AccessToken => "access_token",
            service::ctx::AuthMethod::ApiKey => "api_key",
        }
        .to_owned(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    pub display_name: Option<String>,
}

/// Change your own profile.
#[utoipa::path(patch, path = "/me", tag = "identities", request_body = ProfileRequest,
    responses((status = 200, body = IdentityBody), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update_me(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<ProfileRequest>,
) -> ApiResult<axum::Json<IdentityBody>> {
    let identity = account::update_profile(
        &ctx,
        &state.db,
        ProfileInput {
            display_name: body.display_name,
        },
    )
    .await?;
    Ok(axum::Json(identity.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChangedBody {
    pub sessions_ended: u64,
    pub refresh_tokens_revoked: u64,
}

/// Change your password. Your other sessions end and your refresh tokens are revoked.
#[utoipa::path(post, path = "/me/password", tag = "identities", request_body = PasswordRequest,
    responses((status = 200, body = PasswordChangedBody), (status = 422, body = Problem), (status = 429, body = Problem)),
    security(("bearer" = [])))]
pub async fn change_password(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<PasswordRequest>,
) -> ApiResult<axum::Json<PasswordChangedBody>> {
    let done = account::change_password(
        &ctx,
        &state.db,
        PasswordChange {
            current_password: body.current_password,
            new_password: body.new_password,
        },
    )
    .await?;
    Ok(axum::Json(PasswordChangedBody {
        sessions_ended: done.sessions_ended,
        refresh_tokens_revoked: done.refresh_tokens_revoked,
    }))
}
