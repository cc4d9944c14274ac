//! `/v1/admin/tenants`: the super-admin's door (bearer `TENANTRY_ADMIN_TOKEN`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use service::tenants::{self, NewTenant, Tenant};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::identities::IdentityBody;
use crate::rest::extract::{Authenticated, Json, Query};
use crate::rest::problem::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantBody {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    #[schema(example = "pro")]
    pub plan: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<Tenant> for TenantBody {
    fn from(t: Tenant) -> Self {
        TenantBody {
            id: t.id,
            slug: t.slug,
            name: t.name,
            plan: t.plan.as_str().into(),
            created_at: t.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    pub items: Vec<TenantBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// List tenants (super-admin only).
#[utoipa::path(get, path = "/admin/tenants", tag = "admin", params(ListParams),
    responses((status = 200, body = TenantList), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("admin_token" = [])))]
pub async fn list(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<axum::Json<TenantList>> {
    let page = tenants::list(&ctx, &state.db, p.limit, p.cursor.as_deref()).await?;
    Ok(axum::Json(TenantList {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    #[schema(example = "acme")]
    pub slug: String,
    #[schema(example = "Acme Corp")]
    pub name: String,
    /// A plan's name (`GET /v1/admin/plans`): `free` (default), `pro`, `enterprise`, or one
    /// the operator made.
    pub plan: Option<String>,
    pub owner_email: String,
    /// Generated and returned once when absent.
    pub owner_password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTenantBody {
    pub tenant: TenantBody,
    pub owner: IdentityBody,
    /// Present only when generated; shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_password: Option<String>,
}

/// Create a tenant with its first owner (super-admin only).
#[utoipa::path(post, path = "/admin/tenants", tag = "admin", request_body = CreateTenant,
    responses((status = 201, body = CreatedTenantBody), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("admin_token" = [])))]
pub async fn create(
    Authenticated(ctx): Authenticated,
    State(state): State<AppState>,
    Json(body): Json<CreateTenant>,
) -> ApiResult<(StatusCode, axum::Json<CreatedTenantBody>)> {
    let created = tenants::create(
        &ctx,
        &state.db,
        NewTenant {
            slug: body.slug,
            name: body.name,
            plan: body.plan,
            owner_email: body.owner_email,
            owner_password: body.owner_password,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedTenantBody {
            tenant: created.tenant.into(),
            owner: created.owner.into(),
            owner_password: created.generated_password,
        }),
    ))
}
