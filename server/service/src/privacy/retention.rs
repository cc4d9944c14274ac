//! Retention (docs/data-protection.md, "Retention"): how long a tenant keeps people it
//! disabled, what sits in its Trash, and sessions nobody uses, applied by a worker.
//!
//! Owners set it (`settings:update`); whoever may read the settings sees it, with when the
//! worker last applied it, what it removed and when it runs next. The worker
//! ([`run_due`], on any instance, every [`EVERY_SECS`]) claims a tenant by stamping its
//! `ran_at`, and in transactions of the tenant: erases each person disabled, or in the
//! Trash, for longer than allowed (as an owner's erasure does: their key destroyed, a
//! tombstone left, `identity.erased` recorded); removes memories in the Trash for longer
//! than allowed (`memory.purged`); ends console sessions and removes API sign-ins unused
//! for longer than allowed; and records what it removed (`retention_runs` and a
//! `tenant.retention_applied` record). Audit records keep their own retention (the
//! operator's setting, or the plan's), applied by the cleanup worker.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authz::{Target, perm};
use crate::ctx::Ctx;
use crate::db::{Change, Db};
use crate::error::{Error, FieldError, Result};
use crate::events::catalogue::{shapes, types};
use crate::identities::Identity;

/// How often the worker applies a tenant's retention.
pub const EVERY_SECS: i32 = 3600;
/// The longest period one may set: 100 years.
pub const MAX_DAYS: i32 = 36_500;
/// People erased per tenant and run (the rest wait for the next run).
const PEOPLE_PER_RUN: i64 = 200;
/// Runs kept in the history the console shows.
const RUNS_SHOWN: i64 = 10;

/// A tenant's retention periods, in days; `None` keeps the data.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RetentionSettings))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Settings {
    /// People disabled for this long are erased.
    pub disabled_identities_days: Option<i32>,
    /// Identities and memories in the Trash this long are removed for good.
    pub trash_days: Option<i32>,
    /// Console sessions and API sign-ins unused for this long end.
    pub idle_sessions_days: Option<i32>,
}

impl Settings {
    fn any(&self) -> bool {
        self.disabled_identities_days.is_some()
            || self.trash_days.is_some()
            || self.idle_sessions_days.is_some()
    }

    fn validate(&self) -> Result<()> {
        let errors: Vec<FieldError> = [
            ("disabled_identities_days", self.disabled_identities_days),
            ("trash_days", self.trash_days),
            ("idle_sessions_days", self.idle_sessions_days),
        ]
        .into_iter()
        .filter(|(_, d)| d.is_some_and(|d| !(1..=MAX_DAYS).contains(&d)))
        .map(|(field, _)| {
            FieldError::new(
                field,
                "out_of_range",
                format!("Give a number of days from 1 to {MAX_DAYS}, or nothing to keep it."),
            )
        })
        .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(errors))
        }
    }
}

/// What one run removed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RetentionRemoved))]
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Removed {
    /// People erased because they were disabled for longer than allowed.
    pub disabled_identities: u64,
    /// People erased because they were in the Trash for longer than allowed.
    pub deleted_identities: u64,
    /// Memories removed from the Trash for good.
    pub deleted_memories: u64,
    /// Console sessions ended.
    pub sessions: u64,
    /// API sign-ins (refresh-token families) removed.
    pub api_sign_ins: u64,
}

impl Removed {
    fn total(&self) -> u64 {
        self.disabled_identities
            + self.deleted_identities
            + self.deleted_memories
            + self.sessions
            + self.api_sign_ins
    }
}

/// A run that removed something.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RetentionRun))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    #[serde(with = "time::serde::rfc3339")]
    pub ran_at: OffsetDateTime,
    pub removed: Removed,
}

/// A tenant's retention, as the console and the API show it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retention {
    #[serde(flatten)]
    pub settings: Settings,
    /// How long audit records are kept: the operator's setting, or the plan's default.
    pub audit_records_days: i32,
    /// When the worker last applied the settings.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_run_at: Option<OffsetDateTime>,
    /// When it applies them next (none while nothing is set).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_run_at: Option<OffsetDateTime>,
    /// The latest runs that removed something, newest first.
    pub runs: Vec<Run>,
}

/// The tenant's retention: needs `settings:read`.
pub async fn get(ctx: &Ctx, db: &Db) -> Result<Retention> {
    let tenant_id = ctx.tenant_id()?;
    ctx.authorize(
        perm::SETTINGS_READ,
        Target::collection(tenant_id, "settings"),
    )?;
    let mut tx = db.read_in(tenant_id).await?;
    load(tx.conn(), tenant_id).await
}

async fn load(conn: &mut sqlx::PgConnection, tenant_id: Uuid) -> Result<Retention> {
    let row = sqlx::query!(
        r#"select r.disabled_identities_days, r.trash_days, r.idle_sessions_days, r.ran_at,
                  tenantry_audit_retention_days(t) as "audit_days!"
           from tenants t left join retention r on r.tenant_id = t.id
           where t.id = $1"#,
        tenant_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let runs = sqlx::query!(
        "select ran_at, removed from retention_runs where tenant_id = $1
         order by ran_at desc limit $2",
        tenant_id,
        RUNS_SHOWN
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        Ok(Run {
            ran_at: r.ran_at,
            removed: serde_json::from_value(r.removed)
                .map_err(|e| Error::internal("read a retention run", e))?,
        })
    })
    .collect::<Result<Vec<Run>>>()?;
    let settings = Settings {
        disabled_identities_days: row.disabled_identities_days,
        trash_days: row.trash_days,
        idle_sessions_days: row.idle_sessions_days,
    };
    let now = OffsetDateTime::now_utc();
    let next_run_at = settings.any().then(|| match row.ran_at {
        Some(at) => (at + time::Duration::seconds(EVERY_SECS.into())).max(now),
        None => now,
    });
    Ok(Retention {
        settings,
        audit_records_days: row.audit_days,
        last_run_at: row.ran_at,
        next_run_at,
        runs,
    })
}

/// Sets the tenant's retention: needs `settings:update` (owners). Applied within
/// [`EVERY_SECS`]; a shorter period than before removes what it no longer allows at the
/// next run.
pub async fn set(ctx: &Ctx, db: &Db, settings: Settings) -> Result<Retention> {
    let tenant_id = ctx.tenant_id()?;
    ctx.authorize(
        perm::SETTINGS_UPDATE,
        Target::collection(tenant_id, "settings"),
    )?;
    settings.validate()?;
    let mut tx = db.change_in(ctx, tenant_id).await?;
    let before = load(tx.conn(), tenant_id).await?.settings;
    sqlx::query!(
        "insert into retention (tenant_id, disabled_identities_days, trash_days,
                                idle_sessions_days)
         values ($1, $2, $3, $4)
         on conflict (tenant_id) do update
         set disabled_identities_days = $2, trash_days = $3, idle_sessions_days = $4,
             updated_at = now(), ran_at = null",
        tenant_id,
        settings.disabled_identities_days,
        settings.trash_days,
        settings.idle_sessions_days
    )
    .execute(tx.conn())
    .await?;
    tx.record(Change {
        action: types::TENANT_RETENTION_CHANGED,
        target_type: "tenant",
        target_id: Some(tenant_id),
        before: Some(shapes::to_value(before)),
        after: Some(shapes::to_value(settings)),
    })
    .await?;
    let after = load(tx.conn(), tenant_id).await?;
    tx.commit().await?;
    if settings.any() {
        // Wake the workers: a shorter period applies now, not within the hour.
        let _ = sqlx::query!("select pg_notify($1, '')", CHANNEL)
            .execute(db.pool())
            .await;
    }
    Ok(after)
}

/// The channel that wakes the retention workers.
pub const CHANNEL: &str = "tenantry_retention";

/// Applies the retention of up to `limit` tenants whose run is due; returns how many
/// tenants this worker applied. Instances share the work: each tenant is claimed by
/// stamping its `ran_at`, and one another worker stamped is skipped.
pub async fn run_due(db: &Db, limit: i32) -> Result<usize> {
    let due = sqlx::query_scalar!(
        r#"select tenant_id as "tenant_id!" from tenantry_retention_due($1, $2)"#,
        EVERY_SECS,
        limit
    )
    .fetch_all(db.pool())
    .await?;
    let mut ran = 0;
    for tenant_id in due {
        match claim(db, tenant_id).await {
            Ok(Some(settings)) => {
                ran += 1;
                if let Err(e) = apply(db, tenant_id, settings).await {
                    tracing::warn!(tenant = %tenant_id, error = %e, "retention could not be applied");
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(tenant = %tenant_id, error = %e, "retention could not be claimed")
            }
        }
    }
    Ok(ran)
}

/// Stamps the tenant's run unless another worker did within [`EVERY_SECS`]; its settings.
async fn claim(db: &Db, tenant_id: Uuid) -> Result<Option<Settings>> {
    let mut tx = db.begin_tenant(tenant_id).await?;
    let row = sqlx::query!(
        "update retention set ran_at = now()
         where tenant_id = $1 and (ran_at is null or ran_at < now() - make_interval(secs => $2))
         returning disabled_identities_days, trash_days, idle_sessions_days",
        tenant_id,
        f64::from(EVERY_SECS)
    )
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row.map(|r| Settings {
        disabled_identities_days: r.disabled_identities_days,
        trash_days: r.trash_days,
        idle_sessions_days: r.idle_sessions_days,
    }))
}

async fn apply(db: &Db, tenant_id: Uuid, settings: Settings) -> Result<Removed> {
    let system = Ctx::system();
    let mut removed = Removed::default();
    // People: each erased in a transaction of its own, so one that cannot go (the last
    // owner) does not hold the others back.
    let people = {
        let mut tx = db.begin_tenant(tenant_id).await?;
        sqlx::query!(
            r#"select id, deleted_at is not null as "trashed!" from identities
               where tenant_id = $1
                 and ((deleted_at < now() - make_interval(days => $2))
                      or (deleted_at is null and disabled
                          and disabled_at < now() - make_interval(days => $3)))
               order by id limit $4"#,
            tenant_id,
            settings.trash_days,
            settings.disabled_identities_days,
            PEOPLE_PER_RUN
        )
        .fetch_all(&mut *tx)
        .await?
    };
    for p in people {
        let erased = async {
            let mut tx = db.change_in(&system, tenant_id).await?;
            let person = tx.lookup::<Identity>(p.id, perm::PRIVACY_ERASE).await?;
            super::erase::erase_in(&mut tx, &person).await?;
            tx.commit().await
        };
        match erased.await {
            Ok(()) if p.trashed => removed.deleted_identities += 1,
            Ok(()) => removed.disabled_identities += 1,
            Err(e) => {
                tracing::warn!(tenant = %tenant_id, identity = %p.id, error = %e, "retention could not erase a person")
            }
        }
    }
    let mut tx = db.change_in(&system, tenant_id).await?;
    if let Some(days) = settings.trash_days {
        let ids = sqlx::query_scalar!(
            "delete from memories
             where tenant_id = $1 and deleted_at < now() - make_interval(days => $2)
             returning id",
            tenant_id,
            days
        )
        .fetch_all(tx.conn())
        .await?;
        if !ids.is_empty() {
            removed.deleted_memories = ids.len() as u64;
            tx.record(crate::memories::purged_change(None, Some(&ids)))
                .await?;
        }
    }
    if let Some(days) = settings.idle_sessions_days {
        removed.sessions = sqlx::query!(
            "delete from sessions
             where tenant_id = $1 and last_seen_at < now() - make_interval(days => $2)",
            tenant_id,
            days
        )
        .execute(tx.conn())
        .await?
        .rows_affected();
        removed.api_sign_ins = sqlx::query_scalar!(
            r#"with idle as (
                   select family_id from refresh_tokens where tenant_id = $1
                   group by family_id
                   having max(coalesce(used_at, created_at)) < now() - make_interval(days => $2)
               ), gone as (
                   delete from refresh_tokens r using idle
                   where r.tenant_id = $1 and r.family_id = idle.family_id
                   returning r.family_id
               )
               select count(distinct family_id) as "n!" from gone"#,
            tenant_id,
            days
        )
        .fetch_one(tx.conn())
        .await? as u64;
    }
    if removed.total() > 0 {
        sqlx::query!(
            "insert into retention_runs (tenant_id, id, removed) values ($1, $2, $3)",
            tenant_id,
            Uuid::now_v7(),
            serde_json::to_value(removed).map_err(|e| Error::internal("a retention run", e))?
        )
        .execute(tx.conn())
        .await?;
        tx.record(Change {
            action: types::TENANT_RETENTION_APPLIED,
            target_type: "tenant",
            target_id: Some(tenant_id),
            before: None,
            after: Some(shapes::to_value(removed)),
        })
        .await?;
        tracing::info!(tenant = %tenant_id, ?removed, "retention applied");
    }
    tx.commit().await?;
    Ok(removed)
}
