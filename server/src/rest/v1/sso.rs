//! `/v1/sso`: the tenant's OpenID Connect providers, and the start of a browser's sign-in
//! through one. Rules live in `service::sso`; the callback is `/auth/oidc/callback`
//! (`crate::oidc`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use service::sso::{self, Provider, ProviderInput};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Json, Path};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderBody {
    pub id: Uuid,
    /// `google` or `oidc`.
    pub kind: String,
    #[schema(example = "Okta")]
    pub name: String,
    #[schema(example = "https://acme.okta.com")]
    pub issuer: String,
    pub client_id: String,
    /// The client secret is write-only: it is stored encrypted and never returned.
    pub client_secret_set: bool,
    #[schema(example = json!(["openid", "email", "profile"]))]
    pub scopes: Vec<String>,
    /// Email domains allowed to sign in; empty: any verified address.
    #[schema(example = json!(["acme.com"]))]
    pub allowed_domains: Vec<String>,
    /// The role of identities provisioned at their first sign-in.
    pub default_role: Option<String>,
    /// Create an identity at the first sign-in of someone the tenant does not know yet.
    pub jit_provisioning: bool,
    pub enabled: bool,
    /// Identities that have signed in through this provider.
    pub linked_identities: i64,
    /// Where a browser starts signing in with this provider.
    #[schema(example = "/auth/sso/login/0190f3a2-7c1e-7d2a-9b3c-1a2b3c4d5e6f")]
    pub login_url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Provider> for ProviderBody {
    fn from(p: Provider) -> Self {
        ProviderBody {
            login_url: format!("/auth/sso/login/{}", p.id),
            id: p.id,
            kind: p.kind.as_str().into(),
            name: p.name,
            issuer: p.issuer,
            client_id: p.client_id,
            client_secret_set: true,
            scopes: p.scopes,
            allowed_domains: p.allowed_domains,
            default_role: p.default_role,
            jit_provisioning: p.jit_provisioning,
            enabled: p.enabled,
            linked_identities: p.linked_identities,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderList {
    pub items: Vec<ProviderBody>,
    /// The redirect URI to register at each provider.
    #[schema(example = "https://tenantry.example.com/auth/oidc/callback")]
    pub redirect_uri: String,
}

/// The tenant's identity providers.
#[utoipa::path(get, path = "/sso/providers", tag = "sso",
    responses((status = 200, body = ProviderList), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<ProviderList>> {
    let items = sso::list(&ctx, &state.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(ProviderList {
        items,
        redirect_uri: crate::oidc::redirect_uri(&state),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// `google` (issuer fixed to Google's) or `oidc` (default).
    #[schema(example = "oidc")]
    pub kind: Option<String>,
    /// Shown on the sign-in button; defaults to "Google" for Google.
    #[schema(example = "Okta")]
    pub name: Option<String>,
    /// Required for `oidc`: the issuer whose `/.well-known/openid-configuration` is read
    /// (it is checked when you save).
    #[schema(example = "https://acme.okta.com")]
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    /// Default `["openid", "email", "profile"]`; `openid` is always added and `email` is required.
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// A role name (default `member`; never `owner`).
    pub default_role: Option<String>,
    #[serde(default)]
    pub jit_provisioning: bool,
    pub enabled: Option<bool>,
}

/// Add an identity provider. The issuer's discovery document is fetched to check it.
#[utoipa::path(post, path = "/sso/providers", tag = "sso", request_body = CreateRequest,
    responses((status = 201, body = ProviderBody), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<CreateRequest>,
) -> ApiResult<(StatusCode, axum::Json<ProviderBody>)> {
    let input = ProviderInput {
        kind: body.kind,
        name: body.name,
        issuer: body.issuer,
        client_id: Some(body.client_id),
        client_secret: Some(body.client_secret),
        scopes: body.scopes,
        allowed_domains: Some(body.allowed_domains),
        default_role: body.default_role,
        jit_provisioning: Some(body.jit_provisioning),
        enabled: body.enabled,
    };
    let provider = sso::create(&ctx, &state.db, input).await?;
    Ok((StatusCode::CREATED, axum::Json(provider.into())))
}

/// One identity provider.
#[utoipa::path(get, path = "/sso/providers/{id}", tag = "sso", params(("id" = Uuid, Path)),
    responses((status = 200, body = ProviderBody), (status = 404, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<ProviderBody>> {
    Ok(axum::Json(sso::get(&ctx, &state.db, id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// A new secret; absent or empty keeps the stored one.
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub allowed_domains: Option<Vec<String>>,
    /// A role name; `""` removes the default role.
    pub default_role: Option<String>,
    pub jit_provisioning: Option<bool>,
    pub enabled: Option<bool>,
}

/// Change an identity provider; absent fields stay as they are.
#[utoipa::path(patch, path = "/sso/providers/{id}", tag = "sso", params(("id" = Uuid, Path)),
    request_body = UpdateRequest,
    responses((status = 200, body = ProviderBody), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateRequest>,
) -> ApiResult<axum::Json<ProviderBody>> {
    let input = ProviderInput {
        kind: None,
        name: body.name,
        issuer: body.issuer,
        client_id: body.client_id,
        client_secret: body.client_secret,
        scopes: body.scopes,
        allowed_domains: body.allowed_domains,
        default_role: body.default_role,
        jit_provisioning: body.jit_provisioning,
        enabled: body.enabled,
    };
    Ok(axum::Json(
        sso::update(&ctx, &state.db, id, input).await?.into(),
    ))
}

/// Remove an identity provider. People who signed in with it keep their identities.
#[utoipa::path(delete, path = "/sso/providers/{id}", tag = "sso", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    sso::delete(&ctx, &state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
