//! `/v1/policies`: policy management with versions. Rules live in `service::policies`; the
//! decision point, `/v1/authz/check`, is in `decisions`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use service::policies::{self, BulkOp, Policy, PolicyInput, Version};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Json, Path};
use crate::rest::nullable::double_option;
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyBody {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// `allow` or `deny`.
    pub effect: String,
    pub priority: i32,
    /// A module or `*`.
    pub resource_pattern: String,
    /// An action or `*`.
    pub action_pattern: String,
    /// JSON Logic over `{principal, resource, action, context}`; absent: always applies.
    #[schema(value_type = Option<Object>)]
    pub condition: Option<Value>,
    pub enabled: bool,
    pub version: i32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Policy> for PolicyBody {
    fn from(p: Policy) -> Self {
        PolicyBody {
            id: p.id,
            name: p.name,
            description: p.description,
            effect: p.effect.as_str().into(),
            priority: p.priority,
            resource_pattern: p.resource_pattern,
            action_pattern: p.action_pattern,
            condition: p.condition,
            enabled: p.enabled,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyList {
    /// Highest priority first, deny before allow at equal priority.
    pub items: Vec<PolicyBody>,
}

/// Every policy of the tenant, in the order the engine considers them.
#[utoipa::path(get, path = "/policies", tag = "policies", responses((status = 200, body = PolicyList)), security(("bearer" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<PolicyList>> {
    let items = policies::list(&ctx, &state.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(PolicyList { items }))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    /// `allow` or `deny`.
    pub effect: Option<String>,
    pub priority: Option<i32>,
    #[schema(example = "memories")]
    pub resource_pattern: Option<String>,
    #[schema(example = "*")]
    pub action_pattern: Option<String>,
    /// `null` removes the condition.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>, example = json!({"==": [{"var": "resource.owner"}, {"var": "principal.id"}]}))]
    pub condition: Option<Option<Value>>,
    pub enabled: Option<bool>,
}

impl From<PolicyRequest> for PolicyInput {
    fn from(r: PolicyRequest) -> Self {
        PolicyInput {
            name: r.name,
            description: r.description,
            effect: r.effect,
            priority: r.priority,
            resource_pattern: r.resource_pattern,
            action_pattern: r.action_pattern,
            condition: r.condition,
            enabled: r.enabled,
        }
    }
}

/// Create a policy. An invalid condition is refused with the place of the mistake.
#[utoipa::path(post, path = "/policies", tag = "policies", request_body = PolicyRequest,
    responses((status = 201, body = PolicyBody), (status = 409, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn create(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<PolicyRequest>,
) -> ApiResult<(StatusCode, axum::Json<PolicyBody>)> {
    let policy = policies::create(&ctx, &state.db, body.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(policy.into())))
}

/// One policy.
#[utoipa::path(get, path = "/policies/{id}", tag = "policies", params(("id" = Uuid, Path)),
    responses((status = 200, body = PolicyBody), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<PolicyBody>> {
    Ok(axum::Json(policies::get(&ctx, &state.db, id).await?.into()))
}

/// Change a policy (the fields given); makes a new version.
#[utoipa::path(patch, path = "/policies/{id}", tag = "policies", params(("id" = Uuid, Path)), request_body = PolicyRequest,
    responses((status = 200, body = PolicyBody), (status = 404, body = Problem), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn update(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<PolicyRequest>,
) -> ApiResult<axum::Json<PolicyBody>> {
    Ok(axum::Json(
        policies::update(&ctx, &state.db, id, body.into())
            .await?
            .into(),
    ))
}

/// Delete a policy (its versions stay, and it can be restored).
#[utoipa::path(delete, path = "/policies/{id}", tag = "policies", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn delete(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    policies::delete(&ctx, &state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum BulkItem {
    Create {
        #[serde(flatten)]
        policy: PolicyRequest,
    },
    Update {
        id: Uuid,
        #[serde(flatten)]
        policy: PolicyRequest,
    },
    Delete {
        id: Uuid,
    },
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Applied in order, in one transaction: all or nothing.
    pub items: Vec<BulkItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResponse {
    /// For each item: the policy as it is now, or null for a delete.
    pub items: Vec<Option<PolicyBody>>,
}

/// Create, change and delete many policies at once, all or nothing. An error names the
/// item (`items.3.condition`).
#[utoipa::path(post, path = "/policies/bulk", tag = "policies", request_body = BulkRequest,
    responses((status = 200, body = BulkResponse), (status = 422, body = Problem)), security(("bearer" = [])))]
pub async fn bulk(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<BulkRequest>,
) -> ApiResult<axum::Json<BulkResponse>> {
    let ops = body
        .items
        .into_iter()
        .map(|item| match item {
            BulkItem::Create { policy } => BulkOp::Create(policy.into()),
            BulkItem::Update { id, policy } => BulkOp::Update(id, policy.into()),
            BulkItem::Delete { id } => BulkOp::Delete(id),
        })
        .collect();
    let done = policies::bulk(&ctx, &state.db, ops).await?;
    Ok(axum::Json(BulkResponse {
        items: done.into_iter().map(|p| p.map(Into::into)).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionBody {
    pub version: i32,
    /// `created`, `updated`, `restored` or `deleted`.
    pub change: String,
    /// The policy's fields as they were.
    #[schema(value_type = Object)]
    pub snapshot: Value,
    pub changed_by: Option<Uuid>,
    pub changed_by_label: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

impl From<Version> for VersionBody {
    fn from(v: Version) -> Self {
        VersionBody {
            version: v.version,
            change: v.change,
            snapshot: v.snapshot,
            changed_by: v.changed_by,
            changed_by_label: v.changed_by_label,
            changed_at: v.changed_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    pub items: Vec<VersionBody>,
}

/// Every version of a policy, newest first (also for a deleted one).
#[utoipa::path(get, path = "/policies/{id}/versions", tag = "policies", params(("id" = Uuid, Path)),
    responses((status = 200, body = VersionList), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn versions(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<VersionList>> {
    let items = policies::versions(&ctx, &state.db, id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(VersionList { items }))
}

/// Make an earlier version current again (as a new version); brings back a deleted policy.
#[utoipa::path(post, path = "/policies/{id}/versions/{version}/restore", tag = "policies",
    params(("id" = Uuid, Path), ("version" = i32, Path)),
    responses((status = 200, body = PolicyBody), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn restore(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path((id, version)): Path<(Uuid, i32)>,
) -> ApiResult<axum::Json<PolicyBody>> {
    Ok(axum::Json(
        policies::restore(&ctx, &state.db, id, version)
            .await?
            .into(),
    ))
}
