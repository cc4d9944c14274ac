//! `/v1/auth/*` and the JWKS: how programs get and renew access tokens.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use service::auth::{self, LoginInput, tokens::TokenPair};
use service::ctx::AuthMethod;
use utoipa::ToSchema;

use crate::rest::extract::{Caller, Json};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The tenant's slug.
    #[schema(example = "demo")]
    pub tenant: String,
    #[schema(example = "admin@demo.test")]
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// JWT (EdDSA), to send as `Authorization: Bearer`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque; single use: each refresh returns a new one.
    pub refresh_token: String,
    pub refresh_expires_in: i64,
}

impl From<TokenPair> for TokenResponse {
    fn from(p: TokenPair) -> Self {
        TokenResponse {
            access_token: p.access_token,
            token_type: p.token_type.into(),
            expires_in: p.expires_in,
            refresh_token: p.refresh_token,
            refresh_expires_in: p.refresh_expires_in,
        }
    }
}

/// Exchange a tenant member's password for an access token and a refresh token.
#[utoipa::path(post, path = "/auth/token", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn token(
    Caller(ctx): Caller,
    State(state): State<AppState>,
    Json(body): Json<TokenRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let input = LoginInput {
        tenant: body.tenant,
        email: body.email,
        password: body.password,
    };
    let caller = auth::login(&state.db, &ctx, input, AuthMethod::AccessToken).await?;
    let pair = state.tokens.issue_pair(&ctx, &state.db, &caller).await?;
    Ok(axum::Json(pair.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Rotate a refresh token. Reusing a spent one revokes its whole family.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = Problem)))]
pub async fn refresh(
    Caller(ctx): Caller,
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<axum::Json<TokenResponse>> {
    let pair = state
        .tokens
        .refresh(&ctx, &state.db, &body.refresh_token)
        .await?;
    Ok(axum::Json(pair.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Jwks {
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<service::auth::keys::Jwk>,
}

/// The public keys that verify access tokens (RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth", responses((status = 200, body = Jwks)))]
pub async fn jwks(
    State(state): State<AppState>,
) -> (
    [(axum::http::HeaderName, &'static str); 1],
    axum::Json<Jwks>,
) {
    (
        [(axum::http::header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(Jwks {
            keys: state.tokens.keys.jwks(),
        }),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[schema(example = "demo")]
    pub tenant: String,
    #[schema(example = "admin@demo.test")]
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetAccepted {
    pub message: String,
}

/// Ask for a password reset link by mail. The answer is the same whether or not the account
/// exists.
#[utoipa::path(post, path = "/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses((status = 202, body = ResetAccepted)))]
pub async fn password_reset(
    Caller(ctx): Caller,
    State(state): State<AppState>,
    Json(body): Json<ResetRequest>,
) -> ApiResult<(axum::http::StatusCode, axum::Json<ResetAccepted>)> {
    service::account::request_password_reset(&ctx, &state.db, &body.tenant, &body.email).await?;
    Ok((
        axum::http::StatusCode::ACCEPTED,
        axum::Json(ResetAccepted {
            message:
                "If an account with this email exists in this tenant, a reset link is on its way."
                    .into(),
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirm {
    /// The `pr1.…` token from the reset link.
    pub token: String,
    /// At least 12 characters.
    pub new_password: String,
}

/// Set a new password with a reset link's token. Every session and refresh token of the
/// account ends.
#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth", request_body = ResetConfirm,
    responses((status = 204), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn password_reset_confirm(
    Caller(ctx): Caller,
    State(state): State<AppState>,
    Json(body): Json<ResetConfirm>,
) -> ApiResult<axum::http::StatusCode> {
    service::account::reset_password(&ctx, &state.db, &body.token, &body.new_password).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
