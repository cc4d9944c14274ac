//! `/v1/identities` and `/v1/me`: JSON shapes and their OpenAPI description. Handlers only
//! translate; the rules are in `service::identities`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service::identities::{
    self, Identity, IdentityPatch, Kind, ListQuery, NewIdentity, StatusFilter,
};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Json, Path, Query};
use crate::rest::nullable::double_option;
use crate::rest::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;
use service::validation::Choice;

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityBody {
    pub id: Uuid,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub display_name: String,
    #[schema(example = "user")]
    pub kind: String,
    /// Names of the roles held directly.
    #[schema(example = json!(["member"]))]
    pub roles: Vec<String>,
    #[schema(example = "active")]
    pub status: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Metadata marked personal: stored only sealed under the person's key, erased with
    /// them, never searched and never seen by policy conditions. Left out of `/v1/me`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub personal_metadata: Option<Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
}

impl From<Identity> for IdentityBody {
    fn from(i: Identity) -> Self {
        IdentityBody {
            id: i.id,
            external_id: i.external_id,
            email: i.email,
            display_name: i.display_name,
            kind: i.kind.as_str().into(),
            roles: i.roles,
            status: i.status.as_str().into(),
            metadata: i.metadata,
            personal_metadata: i.personal_metadata,
            created_at: i.created_at,
            updated_at: i.updated_at,
            deleted_at: i.deleted_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityList {
    pub items: Vec<IdentityBody>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Case-insensitive substring of email, display name or external id.
    pub q: Option<String>,
    /// `active`, `disabled`, `deleted`, `all`; default: everything but deleted.
    pub status: Option<String>,
    /// `user` or `agent`.
    pub kind: Option<String>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError(service::Error::validation(field, "invalid_value", message))
}

fn parse_kind(kind: Option<String>) -> Result<Option<Kind>, ApiError> {
    Ok(Kind::read_opt(kind.as_deref())?)
}

/// List identities, newest first.
#[utoipa::path(get, path = "/identities", tag = "identities", params(ListParams),
    responses((status = 200, body = IdentityList), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<axum::Json<IdentityList>> {
    let status = StatusFilter::read_or_default(p.status.as_deref())?;
    let page = identities::list(
        &ctx,
        &state.db,
        ListQuery {
            q: p.q,
            status,
            kind: parse_kind(p.kind)?,
            limit: p.limit,
            cursor: p.cursor,
        },
    )
    .await?;
    Ok(axum::Json(IdentityList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIdentity {
    /// Required for users; unique per tenant, case-insensitive.
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// Your system's id for this identity; unique per tenant.
    pub external_id: Option<String>,
    /// `user` (default) or `agent`.
    pub kind: Option<String>,
    /// Role names (system roles `owner`, `admin`, `member`, `viewer` or custom ones);
    /// default `["member"]`.
    pub roles: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Metadata marked personal (a JSON object, at most 16 KiB): sealed under the person's
    /// key; unlike `metadata`, never in the clear, not searchable, not seen by policies.
    #[schema(value_type = Option<Object>)]
    pub personal_metadata: Option<Value>,
    /// Optional initial password (12-256 characters) for console sign-in.
    pub password: Option<String>,
}

/// Create an identity.
#[utoipa::path(post, path = "/identities", tag = "identities", request_body = CreateIdentity,
    responses((status = 201, body = IdentityBody), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<CreateIdentity>,
) -> ApiResult<impl IntoResponse> {
    let identity = identities::create(
        &ctx,
        &state.db,
        NewIdentity {
            email: body.email,
            display_name: body.display_name,
            external_id: body.external_id,
            kind: parse_kind(body.kind)?,
            roles: body.roles,
            metadata: body.metadata,
            personal_metadata: body.personal_metadata,
            password: body.password,
        },
    )
    .await?;
    let location = format!("/v1/identities/{}", identity.id);
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::LOCATION, location)],
        axum::Json(IdentityBody::from(identity)),
    ))
}

/// Get one identity.
#[utoipa::path(get, path = "/identities/{id}", tag = "identities", params(("id" = Uuid, Path)),
    responses((status = 200, body = IdentityBody), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<IdentityBody>> {
    Ok(axum::Json(
        identities::get(&ctx, &state.db, id).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIdentity {
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<Option<String>>,
    /// Replaces the whole metadata object.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Replaces the whole object of metadata marked personal.
    #[schema(value_type = Option<Object>)]
    pub personal_metadata: Option<Value>,
    /// `active` or `disabled`.
    pub status: Option<String>,
}

/// Update an identity (only the fields given). `status` disables or enables it.
#[utoipa::path(patch, path = "/identities/{id}", tag = "identities", params(("id" = Uuid, Path)),
    request_body = UpdateIdentity,
    responses((status = 200, body = IdentityBody), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateIdentity>,
) -> ApiResult<axum::Json<IdentityBody>> {
    let disabled = match body.status.as_deref() {
        None => None,
        Some("active") => Some(false),
        Some("disabled") => Some(true),
        Some(_) => {
            return Err(invalid(
                "status",
                "status must be active or disabled; use DELETE to delete",
            ));
        }
    };
    let patch = IdentityPatch {
        email: body.email,
        display_name: body.display_name,
        external_id: body.external_id,
        metadata: body.metadata,
        personal_metadata: body.personal_metadata,
        disabled,
    };
    Ok(axum::Json(
        identities::update(&ctx, &state.db, id, patch).await?.into(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// `true` deletes for good; otherwise the identity goes to the trash (restorable).
    #[serde(default)]
    pub hard: bool,
}

/// Delete an identity: to the trash, or for good with `?hard=true`.
#[utoipa::path(delete, path = "/identities/{id}", tag = "identities", params(("id" = Uuid, Path), DeleteParams),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(p): Query<DeleteParams>,
) -> ApiResult<StatusCode> {
    if p.hard {
        identities::hard_delete(&ctx, &state.db, id).await?;
    } else {
        identities::soft_delete(&ctx, &state.db, id).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Restore an identity from the trash.
#[utoipa::path(post, path = "/identities/{id}/restore", tag = "identities", params(("id" = Uuid, Path)),
    responses((status = 200, body = IdentityBody), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn restore(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<IdentityBody>> {
    Ok(axum::Json(
        identities::restore(&ctx, &state.db, id).await?.into(),
    ))
}

/// What confirms an erasure (optional over the API; the console asks for it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    /// The identity's email (or, for an agent, its name), typed to confirm.
    pub confirm: Option<String>,
}

/// Erase a person (GDPR Art. 17): their key is destroyed, so every sealed copy of their
/// personal data (profile, audit records' and events' snapshots) can no longer be read;
/// their memories, sessions, refresh tokens, API keys, SSO links, reset links, invitations
/// and mail are deleted; a tombstone and an `identity.erased` record remain, and the audit
/// chain still verifies. Needs `privacy:erase` (owners hold it); only an owner erases an
/// owner; nobody erases themselves. Cannot be undone.
#[utoipa::path(post, path = "/identities/{id}/erase", tag = "identities", params(("id" = Uuid, Path)),
    request_body(content = Option<EraseBody>, description = "Optional: `confirm` must then match the identity's email"),
    responses((status = 200, body = service::privacy::erase::Erasure), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn erase(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    body: Option<Json<EraseBody>>,
) -> ApiResult<axum::Json<service::privacy::erase::Erasure>> {
    let confirm = body.and_then(|Json(b)| b.confirm);
    let erased = service::privacy::erase::erase(&ctx, &state.db, id, confirm.as_deref()).await?;
    Ok(axum::Json(erased))
}
