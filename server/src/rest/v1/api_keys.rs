//! `/v1/api-keys`: keys for programs. Rules live in `service::api_keys`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use service::api_keys::{self, ApiKey, ApiKeyUpdate, Created, ListQuery, NewApiKey};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use service::limits::plans::Rate;

use crate::rest::extract::{Authenticated, Json, Path, Query};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyBody {
    pub id: Uuid,
    /// The identity the key acts for.
    pub identity_id: Uuid,
    pub identity_name: String,
    pub name: String,
    /// The start of the key (`tnr_` and 8 hex digits), to recognise it.
    #[schema(example = "tnr_4f1c2a9b")]
    pub prefix: String,
    /// `module:action` patterns; either side may be `*`.
    #[schema(example = json!(["memories:read", "identities:read"]))]
    pub scopes: Vec<String>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// The key's own rate limit, on top of its identity's and its tenant's (null: none).
    pub rate_limit: Option<Rate>,
}

impl From<ApiKey> for ApiKeyBody {
    fn from(k: ApiKey) -> Self {
        ApiKeyBody {
            id: k.id,
            identity_id: k.identity_id,
            identity_name: k.identity_name,
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes,
            status: k.status.as_str().into(),
            created_at: k.created_at,
            created_by: k.created_by,
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            last_used_ip: k.last_used_ip,
            revoked_at: k.revoked_at,
            rate_limit: k.rate_limit,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyBody>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Every key in the tenant (needs `api_keys:manage`); default: your own.
    #[serde(default)]
    pub all: bool,
    /// The keys of one identity (yours, or anyone's with `api_keys:manage`).
    pub identity_id: Option<Uuid>,
}

/// Your API keys (or, with `api_keys:manage`, anyone's), newest first, revoked last.
#[utoipa::path(get, path = "/api-keys", tag = "api_keys", params(ListParams),
    responses((status = 200, body = ApiKeyList), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<axum::Json<ApiKeyList>> {
    let query = ListQuery {
        all: p.all,
        identity_id: p.identity_id,
    };
    let items = api_keys::list(&ctx, &state.db, query)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(ApiKeyList { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    #[schema(example = "nightly export")]
    pub name: String,
    #[schema(example = json!(["memories:read"]))]
    pub scopes: Vec<String>,
    /// Days until the key expires (1-3650); absent or `null`: never.
    pub expires_in_days: Option<u32>,
    /// An agent identity to make the key for (needs `api_keys:manage`); default: you.
    pub identity_id: Option<Uuid>,
    /// A rate limit of the key's own (`{"rate": 5, "burst": 10}`), on top of its identity's
    /// and its tenant's; absent or null: none.
    pub rate_limit: Option<Rate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedBody {
    #[serde(flatten)]
    pub key: ApiKeyBody,
    /// The whole key. It is shown only in this response: store it now.
    #[schema(example = "tnr_4f1c2a9b0d7e4c55a1b2c3d4e5f60718_s3cr3t...")]
    pub secret: String,
}

impl From<Created> for CreatedBody {
    fn from(c: Created) -> Self {
        CreatedBody {
            key: c.key.into(),
            secret: c.secret,
        }
    }
}

/// Create a key. Its secret is in this response and never again.
#[utoipa::path(post, path = "/api-keys", tag = "api_keys", request_body = CreateRequest,
    responses((status = 201, body = CreatedBody), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<CreateRequest>,
) -> ApiResult<(StatusCode, axum::Json<CreatedBody>)> {
    let created = api_keys::create(
        &ctx,
        &state.db,
        NewApiKey {
            name: body.name,
            scopes: body.scopes,
            expires_in_days: body.expires_in_days,
            identity_id: body.identity_id,
            rate_limit: body.rate_limit,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(created.into())))
}

/// One key.
#[utoipa::path(get, path = "/api-keys/{id}", tag = "api_keys", params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiKeyBody), (status = 404, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<ApiKeyBody>> {
    Ok(axum::Json(api_keys::get(&ctx, &state.db, id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    /// The key's own rate limit; `null` removes it, absent leaves it.
    #[serde(default, deserialize_with = "crate::rest::nullable::double_option")]
    #[schema(value_type = Option<Rate>)]
    pub rate_limit: Option<Option<Rate>>,
}

/// Rename a key, change its scopes, or set or remove its own rate limit.
#[utoipa::path(patch, path = "/api-keys/{id}", tag = "api_keys", params(("id" = Uuid, Path)),
    request_body = UpdateRequest,
    responses((status = 200, body = ApiKeyBody), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateRequest>,
) -> ApiResult<axum::Json<ApiKeyBody>> {
    let input = ApiKeyUpdate {
        name: body.name,
        scopes: body.scopes,
        rate_limit: body.rate_limit,
    };
    Ok(axum::Json(
        api_keys::update(&ctx, &state.db, id, input).await?.into(),
    ))
}

/// Revoke a key: from the next request on, on every server, it gets 401.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api_keys", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn revoke(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    api_keys::revoke(&ctx, &state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyInfo {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResponse {
    pub tenant_id: Uuid,
    pub tenant: String,
    /// The identity the request acts for.
    pub identity_id: Uuid,
    pub display_name: String,
    /// `api_key`, `access_token` or `session`.
    pub via: String,
    /// The key that authenticated the request, when one did.
    pub api_key: Option<KeyInfo>,
    /// What this request may do: the identity's permissions narrowed by the key's scopes.
    pub permissions: Vec<String>,
}

/// Echo who is calling and with which scopes: a quick check that a key works.
#[utoipa::path(post, path = "/api-keys/test", tag = "api_keys",
    responses((status = 200, body = TestResponse), (status = 401, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn test(Authenticated(ctx): Authenticated) -> ApiResult<axum::Json<TestResponse>> {
    let caller = ctx.caller()?;
    let via = match caller.via {
        service::ctx::AuthMethod::ApiKey => "api_key",
        service::ctx::AuthMethod::AccessToken => "access_token",
        service::ctx::AuthMethod::Session => "session",
    };
    Ok(axum::Json(TestResponse {
        tenant_id: caller.tenant_id,
        tenant: caller.tenant_slug.clone(),
        identity_id: caller.identity_id,
        display_name: caller.display_name.clone(),
        via: via.into(),
        api_key: caller.api_key.as_ref().map(|k| KeyInfo {
            id: k.id,
            name: k.name.clone(),
            scopes: k.scopes.clone(),
        }),
        permissions: ctx
            .allowed_permissions()
            .into_iter()
            .map(|p| p.to_key())
            .collect(),
    }))
}
