//! `/v1/permissions`, `/v1/roles` and `/v1/identities/{id}/roles`: JSON shapes and their
//! OpenAPI description. Rules live in `service::roles`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use service::authz::catalog;
use service::authz::engine::Effect;
use service::roles::{self, Role, RoleInput, RolePatch};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Json, Path};
use crate::rest::problem::{ApiError, ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleBody {
    pub name: String,
    pub description: String,
    /// The actions this module has (`privacy` has `read`, `export` and `erase`).
    pub actions: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Catalogue {
    pub modules: Vec<ModuleBody>,
    pub actions: Vec<String>,
    /// Every `module:action`.
    pub permissions: Vec<String>,
}

/// The permission catalogue: modules, actions and every `module:action`.
#[utoipa::path(get, path = "/permissions", tag = "roles", responses((status = 200, body = Catalogue)),
    security(("bearer" = [])))]
pub async fn catalogue(Authenticated(_ctx): Authenticated) -> axum::Json<Catalogue> {
    axum::Json(Catalogue {
        modules: catalog::MODULES
            .iter()
            .map(|m| ModuleBody {
                name: (*m).into(),
                description: catalog::module_description(m).into(),
                actions: catalog::actions_of(m).iter().map(|a| (*a).into()).collect(),
            })
            .collect(),
        actions: catalog::ALL_ACTIONS.iter().map(|a| (*a).into()).collect(),
        permissions: catalog::all().map(|p| p.to_key()).collect(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleBody {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    /// `owner`, `admin`, `member` or `viewer` for the system roles (not editable).
    pub system: Option<String>,
    /// `module:action` → `allow` or `deny`; permissions not listed are neither.
    #[schema(value_type = Object, example = json!({"memories:read": "allow", "memories:delete": "deny"}))]
    pub permissions: BTreeMap<String, String>,
    /// Identities holding the role directly.
    pub identity_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

fn permission_map(role: &Role) -> BTreeMap<String, String> {
    role.permissions
        .iter()
        .map(|g| (g.permission.to_key(), g.effect.as_str().to_owned()))
        .collect()
}

impl From<Role> for RoleBody {
    fn from(r: Role) -> Self {
        RoleBody {
            permissions: permission_map(&r),
            id: r.id,
            name: r.name,
            description: r.description,
            system: r.system,
            identity_count: r.identity_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub items: Vec<RoleBody>,
}

/// List the tenant's roles, system roles first.
#[utoipa::path(get, path = "/roles", tag = "roles", responses((status = 200, body = RoleList), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<RoleList>> {
    let items = roles::list(&ctx, &state.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(RoleList { items }))
}

fn parse_permissions(map: BTreeMap<String, String>) -> Result<Vec<(String, Effect)>, ApiError> {
    Ok(roles::read_effects(map)?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    #[schema(example = "editor")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"memories:update": "allow"}))]
    pub permissions: BTreeMap<String, String>,
}

/// Create a custom role.
#[utoipa::path(post, path = "/roles", tag = "roles", request_body = CreateRole,
    responses((status = 201, body = RoleBody), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<CreateRole>,
) -> ApiResult<(StatusCode, axum::Json<RoleBody>)> {
    let input = RoleInput {
        name: body.name,
        description: body.description,
        permissions: parse_permissions(body.permissions)?,
    };
    let role = roles::create(&ctx, &state.db, input).await?;
    Ok((StatusCode::CREATED, axum::Json(role.into())))
}

/// Get one role.
#[utoipa::path(get, path = "/roles/{id}", tag = "roles", params(("id" = Uuid, Path)),
    responses((status = 200, body = RoleBody), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<RoleBody>> {
    Ok(axum::Json(roles::get(&ctx, &state.db, id).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Replaces the whole map.
    #[schema(value_type = Option<Object>)]
    pub permissions: Option<BTreeMap<String, String>>,
}

/// Change a custom role (system roles are fixed).
#[utoipa::path(patch, path = "/roles/{id}", tag = "roles", params(("id" = Uuid, Path)), request_body = UpdateRole,
    responses((status = 200, body = RoleBody), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateRole>,
) -> ApiResult<axum::Json<RoleBody>> {
    let patch = RolePatch {
        name: body.name,
        description: body.description,
        permissions: body.permissions.map(parse_permissions).transpose()?,
    };
    Ok(axum::Json(
        roles::update(&ctx, &state.db, id, patch).await?.into(),
    ))
}

/// Delete a custom role; whoever held it loses it.
#[utoipa::path(delete, path = "/roles/{id}", tag = "roles", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn delete(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    roles::delete(&ctx, &state.db, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PermissionMap {
    #[schema(value_type = Object, example = json!({"memories:read": "allow"}))]
    pub permissions: BTreeMap<String, String>,
}

/// The permissions a role allows or denies.
#[utoipa::path(get, path = "/roles/{id}/permissions", tag = "roles", params(("id" = Uuid, Path)),
    responses((status = 200, body = PermissionMap), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn permissions(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<PermissionMap>> {
    let role = roles::get(&ctx, &state.db, id).await?;
    Ok(axum::Json(PermissionMap {
        permissions: permission_map(&role),
    }))
}

/// Replace the permissions of a custom role.
#[utoipa::path(put, path = "/roles/{id}/permissions", tag = "roles", params(("id" = Uuid, Path)), request_body = PermissionMap,
    responses((status = 200, body = PermissionMap), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn set_permissions(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<PermissionMap>,
) -> ApiResult<axum::Json<PermissionMap>> {
    let patch = RolePatch {
        permissions: Some(parse_permissions(body.permissions)?),
        ..Default::default()
    };
    let role = roles::update(&ctx, &state.db, id, patch).await?;
    Ok(axum::Json(PermissionMap {
        permissions: permission_map(&role),
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleNames {
    /// Role names.
    #[schema(example = json!(["member", "editor"]))]
    pub roles: Vec<String>,
}

/// The roles an identity holds directly.
#[utoipa::path(get, path = "/identities/{id}/roles", tag = "roles", params(("id" = Uuid, Path)),
    responses((status = 200, body = RoleNames), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn identity_roles(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<RoleNames>> {
    let held = roles::of_identity(&ctx, &state.db, id).await?;
    Ok(axum::Json(RoleNames {
        roles: held.into_iter().map(|r| r.name).collect(),
    }))
}

/// Replace the roles an identity holds directly.
#[utoipa::path(put, path = "/identities/{id}/roles", tag = "roles", params(("id" = Uuid, Path)), request_body = RoleNames,
    responses((status = 200, body = RoleNames), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn set_identity_roles(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<RoleNames>,
) -> ApiResult<axum::Json<RoleNames>> {
    let held = roles::set_identity_roles(&ctx, &state.db, id, body.roles).await?;
    Ok(axum::Json(RoleNames {
        roles: held.into_iter().map(|r| r.name).collect(),
    }))
}
