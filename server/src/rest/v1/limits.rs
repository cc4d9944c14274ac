//! Limits: a tenant's own (`/v1/limits`), and the operator's plans, a tenant's overrides and
//! the rate-limit overview (`/v1/admin/...`, bearer `TENANTRY_ADMIN_TOKEN`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use service::limits::TenantLimits;
use service::limits::plans::{self, Overrides, PlanInput, PlanSpec, TenantLimitsInput};
use service::limits::usage::{self, Mine, Overview};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::rest::extract::{Authenticated, Json, Path};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

/// The caller's tenant: its plan, the rates in force, each quota with its use, and the
/// requests served and refused over the last 24 hours (`settings:read`).
#[utoipa::path(get, path = "/limits", tag = "limits",
    responses((status = 200, body = Mine), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = []), ("api_key" = [])))]
pub async fn mine(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<Mine>> {
    Ok(axum::Json(usage::mine(&ctx, &state.db).await?))
}

/// Every plan, with how many tenants are on it (super-admin only).
#[utoipa::path(get, path = "/admin/plans", tag = "admin",
    responses((status = 200, body = Vec<PlanSpec>), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("admin_token" = [])))]
pub async fn list_plans(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<Vec<PlanSpec>>> {
    Ok(axum::Json(plans::list(&ctx, &state.db).await?))
}

/// One plan (super-admin only).
#[utoipa::path(get, path = "/admin/plans/{name}", tag = "admin",
    params(("name" = String, Path, description = "The plan's name")),
    responses((status = 200, body = PlanSpec), (status = 404, body = Problem)),
    security(("admin_token" = [])))]
pub async fn get_plan(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<PlanSpec>> {
    Ok(axum::Json(plans::get(&ctx, &state.db, &name).await?))
}

/// Creates or replaces a plan (super-admin only): its three rates and five quotas (null: no
/// limit). Every instance applies it within moments.
#[utoipa::path(put, path = "/admin/plans/{name}", tag = "admin",
    params(("name" = String, Path, description = "1-32 lowercase letters, digits and dashes, starting with a letter")),
    request_body = PlanInput,
    responses((status = 200, body = PlanSpec), (status = 201, body = PlanSpec), (status = 422, body = Problem)),
    security(("admin_token" = [])))]
pub async fn put_plan(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<PlanInput>,
) -> ApiResult<(StatusCode, axum::Json<PlanSpec>)> {
    let (plan, created) = plans::put(&ctx, &state.db, &name, body).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(plan)))
}

/// Deletes a plan no tenant is on (super-admin only); 409 `plan_in_use` otherwise.
#[utoipa::path(delete, path = "/admin/plans/{name}", tag = "admin",
    params(("name" = String, Path, description = "The plan's name")),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("admin_token" = [])))]
pub async fn delete_plan(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    plans::delete(&ctx, &state.db, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A tenant's plan, its overrides, and the limits they make (super-admin only).
#[utoipa::path(get, path = "/admin/tenants/{id}/limits", tag = "admin",
    params(("id" = Uuid, Path, description = "The tenant's id")),
    responses((status = 200, body = TenantLimits), (status = 404, body = Problem)),
    security(("admin_token" = [])))]
pub async fn tenant_limits(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<TenantLimits>> {
    Ok(axum::Json(plans::tenant(&ctx, &state.db, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTenantLimits {
    /// Moves the tenant to this plan; unchanged when absent.
    #[schema(example = "pro")]
    pub plan: Option<String>,
    /// Replaces the tenant's overrides: a rate's `rate` or `burst`, a quota's limit (null:
    /// no limit). Figures not named are the plan's; `{}` clears every override.
    #[serde(default)]
    pub overrides: Overrides,
}

/// Sets a tenant's plan and overrides (super-admin only); recorded in the tenant's audit
/// trail as `tenant.limits_changed`.
#[utoipa::path(put, path = "/admin/tenants/{id}/limits", tag = "admin",
    params(("id" = Uuid, Path, description = "The tenant's id")),
    request_body = SetTenantLimits,
    responses((status = 200, body = TenantLimits), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("admin_token" = [])))]
pub async fn set_tenant_limits(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Json(body): Json<SetTenantLimits>,
) -> ApiResult<axum::Json<TenantLimits>> {
    let input = TenantLimitsInput {
        plan: body.plan,
        overrides: body.overrides,
    };
    Ok(axum::Json(
        plans::set_tenant(&ctx, &state.db, id, input).await?,
    ))
}

/// Clears a tenant's overrides: its plan's limits apply again (super-admin only).
#[utoipa::path(delete, path = "/admin/tenants/{id}/limits", tag = "admin",
    params(("id" = Uuid, Path, description = "The tenant's id")),
    responses((status = 200, body = TenantLimits), (status = 404, body = Problem)),
    security(("admin_token" = [])))]
pub async fn clear_tenant_limits(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<TenantLimits>> {
    Ok(axum::Json(
        plans::set_tenant(&ctx, &state.db, id, TenantLimitsInput::default()).await?,
    ))
}

/// The operator's view of rate limits (super-admin only): what is configured, the buckets
/// that hold no request now, the top consumers of the last 15 minutes and the tenants refused
/// most over the last 24 hours, across every instance.
#[utoipa::path(get, path = "/admin/rate-limits", tag = "admin",
    responses((status = 200, body = Overview), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("admin_token" = [])))]
pub async fn overview(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
) -> ApiResult<axum::Json<Overview>> {
    Ok(axum::Json(usage::overview(&ctx, &state.db).await?))
}
