//! A tenant's limits: its plan with its overrides laid over it, read, kept and changed.

use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::*;
use crate::authz::PlatformAction;
use crate::ctx::{Ctx, Plan};
use crate::db::{Change, Db};
use crate::error::{Error, Result};
use crate::events::catalogue::types;

struct TenantRow {
    plan: String,
    tenant_rate: f64,
    tenant_burst: i32,
    user_rate: f64,
    user_burst: i32,
    agent_rate: f64,
    agent_burst: i32,
    max_identities: Option<i32>,
    max_memories: Option<i32>,
    max_webhooks: Option<i32>,
    max_policies: Option<i32>,
    max_api_keys: Option<i32>,
    overrides: Option<serde_json::Value>,
}

/// Reads a tenant's limits (none: no such tenant) on `conn`.
pub(crate) async fn load(conn: &mut PgConnection, tenant_id: Uuid) -> Result<Option<TenantLimits>> {
    let Some(r) = sqlx::query_as!(
        TenantRow,
        r#"select t.plan, p.tenant_rate, p.tenant_burst, p.user_rate, p.user_burst,
                  p.agent_rate, p.agent_burst, p.max_identities, p.max_memories,
                  p.max_webhooks, p.max_policies, p.max_api_keys,
                  l.overrides as "overrides?"
           from tenants t
           join plans p on p.name = t.plan
           left join tenant_limits l on l.tenant_id = t.id
           where t.id = $1"#,
        tenant_id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let overrides: Overrides = match r.overrides {
        Some(v) => {
            serde_json::from_value(v).map_err(|e| Error::internal("stored limit overrides", e))?
        }
        None => Overrides::default(),
    };
    let plan = Plan::parse(&r.plan)
        .ok_or_else(|| Error::Internal(format!("malformed plan name {}", r.plan)))?;
    let row = PlanRow {
        name: r.plan,
        description: String::new(),
        tenant_rate: r.tenant_rate,
        tenant_burst: r.tenant_burst,
        user_rate: r.user_rate,
        user_burst: r.user_burst,
        agent_rate: r.agent_rate,
        agent_burst: r.agent_burst,
        max_identities: r.max_identities,
        max_memories: r.max_memories,
        max_webhooks: r.max_webhooks,
        max_policies: r.max_policies,
        max_api_keys: r.max_api_keys,
        tenants: 0,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    };
    Ok(Some(TenantLimits::of(
        tenant_id,
        plan,
        row.rates(),
        row.quotas(),
        overrides,
    )))
}

/// A tenant's limits, from this instance's cache when it is being told of changes.
pub async fn of_tenant(db: &Db, tenant_id: Uuid) -> Result<Arc<TenantLimits>> {
    let limiter = db.limiter();
    if let Some(l) = limiter.cached_tenant(tenant_id) {
        return Ok(l);
    }
    let ticket = limiter.ticket();
    let mut conn = db.pool().acquire().await?;
    let limits = load(&mut conn, tenant_id)
        .await?
        .ok_or(Error::NotFound { resource: "tenant" })?;
    let limits = Arc::new(limits);
    limiter.keep_tenant(ticket, limits.clone());
    Ok(limits)
}

/// A tenant's plan, overrides and the limits they make (the super-admin).
pub async fn tenant(ctx: &Ctx, db: &Db, tenant_id: Uuid) -> Result<TenantLimits> {
    ctx.authorize_platform(PlatformAction::LimitsRead)?;
    let mut conn = db.pool().acquire().await?;
    load(&mut conn, tenant_id)
        .await?
        .ok_or(Error::NotFound { resource: "tenant" })
}

/// What the operator sets for a tenant: its plan (unchanged when absent) and its overrides
/// (replacing any it had).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TenantLimitsInput {
    pub plan: Option<String>,
    pub overrides: Overrides,
}

/// Sets a tenant's plan and overrides (the super-admin); recorded in the tenant's audit
/// trail and applied by every instance within moments.
pub async fn set_tenant(
    ctx: &Ctx,
    db: &Db,
    tenant_id: Uuid,
    input: TenantLimitsInput,
) -> Result<TenantLimits> {
    ctx.authorize_platform(PlatformAction::LimitsManage)?;
    let plan = match input.plan.as_deref() {
        Some(p) => Some(
            Plan::parse(p)
                .ok_or_else(|| Error::Validation(vec![crate::tenants::unknown_plan(p)]))?,
        ),
        None => None,
    };
    validate_overrides(&input.overrides)?;
    let mut tx = db.change_in(ctx, tenant_id).await?;
    let before = load(tx.conn(), tenant_id)
        .await?
        .ok_or(Error::NotFound { resource: "tenant" })?;
    if let Some(plan) = &plan {
        // The operator's door (a trigger refuses a plan change anywhere else).
        sqlx::query!("select set_config('tenantry.operator', 'on', true)")
            .fetch_one(tx.conn())
            .await?;
        sqlx::query!(
            "update tenants set plan = $2, updated_at = now() where id = $1",
            tenant_id,
            plan.as_str()
        )
        .execute(tx.conn())
        .await
        .map_err(|e| {
            if crate::error::foreign_key_violation(&e).is_some() {
                Error::Validation(vec![crate::tenants::unknown_plan(plan.as_str())])
            } else {
                e.into()
            }
        })?;
    }
    if input.overrides.is_empty() {
        sqlx::query!("delete from tenant_limits where tenant_id = $1", tenant_id)
            .execute(tx.conn())
            .await?;
    } else {
        let json = serde_json::to_value(&input.overrides)
            .map_err(|e| Error::internal("limit overrides", e))?;
        sqlx::query!(
            "insert into tenant_limits (tenant_id, overrides) values ($1, $2)
             on conflict (tenant_id) do update set overrides = excluded.overrides,
                                                    updated_at = now()",
            tenant_id,
            json
        )
        .execute(tx.conn())
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => Error::Internal("tenant_limits upsert conflicted".into()),
            None => e.into(),
        })?;
    }
    let after = load(tx.conn(), tenant_id)
        .await?
        .ok_or(Error::NotFound { resource: "tenant" })?;
    tx.record(Change {
        action: types::TENANT_LIMITS_CHANGED,
        target_type: "tenant",
        target_id: Some(tenant_id),
        before: Some(before.snapshot()),
        after: Some(after.snapshot()),
    })
    .await?;
    tx.commit().await?;
    db.limiter().forget_tenant(tenant_id);
    Ok(after)
}

/// When a limit was last seen, for the cache (see [`super::Limiter`]).
pub(crate) type Kept = (Arc<TenantLimits>, Instant);
