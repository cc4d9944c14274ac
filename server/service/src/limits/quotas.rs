//! Plan quotas: how many identities, memories, webhooks, policies and API keys a tenant may
//! hold. Creating past one is refused with [`Error::QuotaExceeded`], which names the quota,
//! its limit and the current use; a delete makes room again.
//!
//! What counts: identities and memories not in the trash, every webhook subscription and
//! policy, and API keys neither revoked nor expired.
//!
//! The check runs inside the creating transaction ([`crate::db::ChangeTx::within_quota`]).
//! Counting rows on every create would cost a scan per create, so an instance keeps an
//! estimate of each tenant's use: the exact count from its last check, plus what it created
//! since. It counts again (exactly, under a per-tenant, per-quota transaction lock, so two
//! creates near the limit never both pass) whenever the quota is small (at most
//! [`ALWAYS_COUNT`]), the estimate is older than [`ESTIMATE_TTL`], or the estimate comes
//! within a tenth of the limit. A quota can therefore be passed only when other instances,
//! unseen by this one's estimate, create more than a tenth of a large quota within
//! [`ESTIMATE_TTL`].

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Limiter;
use crate::db::Db;
use crate::error::{Error, Result};

/// Quotas up to this are counted on every create.
pub const ALWAYS_COUNT: i64 = 1_000;

/// How long an estimate of use is trusted.
pub const ESTIMATE_TTL: Duration = Duration::from_secs(2);

/// A kind of object a plan limits the number of.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Quota {
    Identities,
    Memories,
    Webhooks,
    Policies,
    ApiKeys,
}

impl Quota {
    pub const ALL: [Quota; 5] = [
        Quota::Identities,
        Quota::Memories,
        Quota::Webhooks,
        Quota::Policies,
        Quota::ApiKeys,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Quota::Identities => "identities",
            Quota::Memories => "memories",
            Quota::Webhooks => "webhooks",
            Quota::Policies => "policies",
            Quota::ApiKeys => "api_keys",
        }
    }
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Quota::ApiKeys => "API keys",
            q => q.as_str(),
        })
    }
}

/// How many of `quota` the tenant holds now, on a connection scoped to it.
pub(crate) async fn count(conn: &mut PgConnection, tenant_id: Uuid, quota: Quota) -> Result<i64> {
    let n = match quota {
        Quota::Identities => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from identities
                   where tenant_id = $1 and deleted_at is null"#,
                tenant_id
            )
            .fetch_one(&mut *conn)
            .await?
        }
        Quota::Memories => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from memories
                   where tenant_id = $1 and deleted_at is null"#,
                tenant_id
            )
            .fetch_one(&mut *conn)
            .await?
        }
        Quota::Webhooks => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from webhook_subscriptions where tenant_id = $1"#,
                tenant_id
            )
            .fetch_one(&mut *conn)
            .await?
        }
        Quota::Policies => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from policies where tenant_id = $1"#,
                tenant_id
            )
            .fetch_one(&mut *conn)
            .await?
        }
        Quota::ApiKeys => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from api_keys
                   where tenant_id = $1 and revoked_at is null
                     and (expires_at is null or expires_at > now())"#,
                tenant_id
            )
            .fetch_one(&mut *conn)
            .await?
        }
    };
    Ok(n)
}

/// Refuses adding `adding` of `quota` to the tenant when that passes its limit; see the
/// module's documentation. Runs inside the creating transaction, on its connection.
pub(crate) async fn check(
    limiter: &Limiter,
    conn: &mut PgConnection,
    tenant_id: Uuid,
    quota: Quota,
    adding: i64,
) -> Result<()> {
    let limits = match limiter.cached_tenant(tenant_id) {
        Some(l) => l,
        None => {
            let ticket = limiter.ticket();
            let l = std::sync::Arc::new(
                super::plans::load(conn, tenant_id)
                    .await?
                    .ok_or(Error::NotFound { resource: "tenant" })?,
            );
            limiter.keep_tenant(ticket, l.clone());
            l
        }
    };
    let Some(max) = limits.quotas.get(quota) else {
        return Ok(());
    };
    if max > ALWAYS_COUNT && limiter.estimate_allows(tenant_id, quota, adding, max) {
        return Ok(());
    }
    let key = format!("quota:{tenant_id}:{}", quota.as_str());
    sqlx::query!("select pg_advisory_xact_lock(hashtextextended($1, 0))", key)
        .execute(&mut *conn)
        .await?;
    let used = count(conn, tenant_id, quota).await?;
    if used + adding > max {
        limiter.set_estimate(tenant_id, quota, used);
        return Err(Error::QuotaExceeded {
            quota,
            limit: max,
            used,
        });
    }
    limiter.set_estimate(tenant_id, quota, used + adding);
    Ok(())
}

/// A quota's limit and use.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub quota: Quota,
    /// None: no limit.
    pub limit: Option<i64>,
    pub used: i64,
}

/// Every quota's limit and the tenant's use of it.
pub(crate) async fn usage(
    db: &Db,
    tenant_id: Uuid,
    limits: &super::plans::Quotas,
) -> Result<Vec<Usage>> {
    let mut tx = db.read_in(tenant_id).await?;
    let mut out = Vec::with_capacity(Quota::ALL.len());
    for quota in Quota::ALL {
        out.push(Usage {
            quota,
            limit: limits.get(quota),
            used: count(tx.conn(), tenant_id, quota).await?,
        });
    }
    Ok(out)
}

/// What the limiter keeps of a tenant's use of a quota.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Estimate {
    pub used: i64,
    pub at: Instant,
}

impl Limiter {
    /// Whether the estimate says `adding` more stays clear of the limit (and counts them).
    fn estimate_allows(&self, tenant_id: Uuid, quota: Quota, adding: i64, max: i64) -> bool {
        let mut estimates = self.lock_estimates();
        let Some(e) = estimates.get_mut(&(tenant_id, quota)) else {
            return false;
        };
        if e.at.elapsed() > ESTIMATE_TTL || e.used + adding > max - max / 10 {
            return false;
        }
        e.used += adding;
        true
    }

    fn set_estimate(&self, tenant_id: Uuid, quota: Quota, used: i64) {
        self.lock_estimates().insert(
            (tenant_id, quota),
            Estimate {
                used,
                at: Instant::now(),
            },
        );
    }
}
