//! Sealing: linking committed audit records to their tenant's hash chain (migration 020).
//!
//! Writers insert their records unsealed and never wait for one another on the chain's
//! head. After a commit, the writing instance names the tenant to its sealer
//! ([`SealQueue::note`]), which links that tenant's waiting records in a short transaction
//! of its own within milliseconds. Records an instance committed but never sealed (it died
//! in between) wait, committed, for the periodic sweep ([`seal_pending`]) of any instance,
//! and every read of the trail seals its tenant first ([`seal`]), so it sees all that was
//! committed before it.

use std::collections::HashSet;
use std::sync::Mutex;

use uuid::Uuid;

use crate::error::Result;

/// Records one sealing transaction links at most; a longer backlog takes several.
pub const SEAL_BATCH: i32 = 10_000;

/// The tenants this instance has committed audit records for since its sealer last ran.
#[derive(Debug, Default)]
pub struct SealQueue {
    tenants: Mutex<HashSet<Uuid>>,
    wake: tokio::sync::Notify,
}

impl SealQueue {
    /// `tenant_id` has committed records waiting: wakes the sealer.
    pub(crate) fn note(&self, tenant_id: Uuid) {
        self.tenants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant_id);
        self.wake.notify_one();
    }

    /// Waits until a tenant is noted, then hands over every tenant noted so far.
    pub async fn next(&self) -> Vec<Uuid> {
        loop {
            let noted: Vec<Uuid> = self
                .tenants
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
                .collect();
            if !noted.is_empty() {
                return noted;
            }
            self.wake.notified().await;
        }
    }
}

/// Links the tenant's committed unsealed records to its chain (waiting for another sealer
/// of the tenant to finish first) and returns how many it linked.
pub async fn seal(db: &crate::Db, tenant_id: Uuid) -> Result<i64> {
    let mut total = 0;
    loop {
        // One statement, one round trip: the function scopes itself to the tenant, and
        // PostgreSQL commits it as a transaction of its own (migration 022).
        let sealed = sqlx::query_scalar!(
            r#"select tenantry_audit_seal_now($1, $2) as "sealed!""#,
            tenant_id,
            SEAL_BATCH
        )
        .fetch_one(db.pool())
        .await?;
        total += sealed;
        if sealed < i64::from(SEAL_BATCH) {
            return Ok(total);
        }
    }
}

/// How long a record waits before the sweep (rather than its writer's sealer) links it.
pub const SWEEP_MIN_AGE: std::time::Duration = std::time::Duration::from_secs(2);

/// Seals what every tenant has had waiting for [`SWEEP_MIN_AGE`] or more (skipping a
/// tenant another sealer is sealing at the moment) and returns how many records it linked:
/// the sweep for records whose instance stopped between their commit and their sealing.
pub async fn seal_pending(db: &crate::Db) -> Result<i64> {
    let mut tx = db.pool().begin().await?;
    let sealed = sqlx::query_scalar!(
        r#"select tenantry_audit_seal_pending($1, $2) as "sealed!""#,
        SEAL_BATCH,
        SWEEP_MIN_AGE.as_secs_f64()
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(sealed)
}

/// How many of the tenant's records are committed but not yet sealed.
pub(crate) async fn unsealed(conn: &mut sqlx::PgConnection, tenant_id: Uuid) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select count(*) as "n!" from audit_log where tenant_id = $1 and seq is null"#,
        tenant_id
    )
    .fetch_one(conn)
    .await?)
}
