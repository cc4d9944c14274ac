//! What the limits did: requests served and refused per bucket, counted in each instance's
//! memory on the request path and added to `rate_limit_usage` (per minute) every few
//! seconds by a worker ([`flush`]), so that counting costs a request no database write. A
//! flush that fails loses that instance's counts of those seconds (the log says so): these
//! figures are for watching, never for deciding.
//!
//! From them and from the buckets themselves: a tenant's view of its limits ([`mine`]), and
//! the operator's ([`overview`]): what is configured, who is limited now, the top consumers
//! and the tenants refused most.

use std::collections::HashMap;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::plans::{self, Overrides, PlanSpec, Rate, Rates};
use super::quotas::{self, Usage};
use super::{BucketKey, Limiter};
use crate::authz::{PlatformAction, perm};
use crate::ctx::{Ctx, Plan};
use crate::db::Db;
use crate::error::Result;

/// Requests one bucket served and refused since the last flush.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub tenant: Option<Uuid>,
    pub served: u64,
    pub refused: u64,
}

impl Limiter {
    pub(super) fn count(&self, key: BucketKey, served: u64, refused: u64) {
        let mut tally = self.lock_tally();
        let t = tally.entry(key).or_default();
        t.tenant = key.tenant();
        t.served += served;
        t.refused += refused;
    }

    pub(super) fn count_served(&self, buckets: &[super::Bucket]) {
        let mut tally = self.lock_tally();
        for b in buckets {
            let t = tally.entry(b.key).or_default();
            t.tenant = b.key.tenant();
            t.served += 1;
        }
    }

    fn take_tally(&self) -> HashMap<BucketKey, Tally> {
        std::mem::take(&mut *self.lock_tally())
    }
}

/// Adds what this instance counted to `rate_limit_usage`. Run by a worker every few seconds.
pub async fn flush(db: &Db) -> Result<usize> {
    let tally = db.limiter().take_tally();
    if tally.is_empty() {
        return Ok(0);
    }
    let mut buckets = Vec::with_capacity(tally.len());
    let mut tenants: Vec<Option<Uuid>> = Vec::with_capacity(tally.len());
    let mut served = Vec::with_capacity(tally.len());
    let mut refused = Vec::with_capacity(tally.len());
    for (key, t) in &tally {
        buckets.push(key.stored());
        tenants.push(t.tenant);
        served.push(t.served as i64);
        refused.push(t.refused as i64);
    }
    sqlx::query!(
        "insert into rate_limit_usage (minute, bucket, tenant_id, served, refused)
         select date_trunc('minute', now()), b, t, s, r
         from unnest($1::text[], $2::uuid[], $3::int8[], $4::int8[]) as u(b, t, s, r)
         on conflict (minute, bucket) do update
         set served = rate_limit_usage.served + excluded.served,
             refused = rate_limit_usage.refused + excluded.refused",
        &buckets,
        &tenants as &[Option<Uuid>],
        &served,
        &refused
    )
    .execute(db.pool())
    .await?;
    Ok(tally.len())
}

/// Deletes counts older than two days. Run by the cleanup worker.
pub async fn delete_old(db: &Db) -> Result<u64> {
    let done =
        sqlx::query!("delete from rate_limit_usage where minute < now() - interval '2 days'")
            .execute(db.pool())
            .await?;
    Ok(done.rows_affected())
}

/// Requests refused in one hour.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HourCount {
    #[serde(with = "time::serde::rfc3339")]
    pub hour: OffsetDateTime,
    pub served: i64,
    pub refused: i64,
}

/// A tenant's own view of its limits: what a tenant admin sees.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mine {
    pub plan: Plan,
    /// The rates in force (the plan's, with any override the operator set).
    pub rates: Rates,
    /// Each quota's limit (null: none) and the tenant's use.
    pub quotas: Vec<Usage>,
    /// Requests before sign-in, per address.
    pub anonymous: Rate,
    /// The last 24 hours, oldest first, one entry an hour (the current hour last).
    pub last_24h: Vec<HourCount>,
    /// Whether rate limits are applied on this deployment.
    pub enforced: bool,
}

/// The caller's tenant's limits, use and refusals (`settings:read`).
pub async fn mine(ctx: &Ctx, db: &Db) -> Result<Mine> {
    let tenant_id = ctx.tenant_id()?;
    ctx.authorize(
        perm::SETTINGS_READ,
        crate::authz::Target::collection(tenant_id, "settings"),
    )?;
    let limits = plans::of_tenant(db, tenant_id).await?;
    let quotas = quotas::usage(db, tenant_id, &limits.quotas).await?;
    let rows = sqlx::query!(
        r#"select date_trunc('hour', minute) as "hour!", sum(served)::int8 as "served!",
                  sum(refused)::int8 as "refused!"
           from rate_limit_usage
           where tenant_id = $1 and minute >= date_trunc('hour', now()) - interval '23 hours'
           group by 1"#,
        tenant_id
    )
    .fetch_all(db.pool())
    .await?;
    Ok(Mine {
        plan: limits.plan.clone(),
        rates: limits.rates,
        quotas,
        anonymous: db.limiter().anonymous.into(),
        last_24h: hours(
            OffsetDateTime::now_utc(),
            rows.into_iter().map(|r| (r.hour, r.served, r.refused)),
        ),
        enforced: db.limiter().enabled,
    })
}

/// 24 hourly counts ending with the hour of `now`, zero where nothing was counted.
fn hours(
    now: OffsetDateTime,
    rows: impl Iterator<Item = (OffsetDateTime, i64, i64)>,
) -> Vec<HourCount> {
    let top = now
        .replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(now);
    let mut out: Vec<HourCount> = (0..24)
        .rev()
        .map(|k| HourCount {
            hour: top - time::Duration::hours(k),
            served: 0,
            refused: 0,
        })
        .collect();
    for (hour, served, refused) in rows {
        if let Some(h) = out.iter_mut().find(|h| h.hour == hour) {
            h.served += served;
            h.refused += refused;
        }
    }
    out
}

/// A bucket, as the operator's view names it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subject {
    /// `tenant`, `identity`, `api_key` or `ip`.
    pub kind: &'static str,
    pub tenant_id: Option<Uuid>,
    pub tenant_slug: Option<String>,
    /// The identity or API key (kinds `identity` and `api_key`).
    pub id: Option<Uuid>,
    /// The address, or an IPv6 address's /64 (kind `ip`).
    pub address: Option<String>,
}

/// A bucket that holds no request now.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limited {
    #[serde(flatten)]
    pub subject: Subject,
    /// Seconds until it holds one again.
    pub retry_after_secs: u64,
    pub rate: f64,
    pub burst: u32,
}

/// A bucket's use over the last minutes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Consumer {
    #[serde(flatten)]
    pub subject: Subject,
    pub served: i64,
    pub refused: i64,
}

/// A tenant's refusals.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantRefusals {
    pub tenant_id: Uuid,
    pub tenant_slug: String,
    pub plan: Plan,
    pub refused_last_hour: i64,
    pub refused_last_24h: i64,
}

/// A tenant with overrides.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overridden {
    pub tenant_id: Uuid,
    pub tenant_slug: String,
    pub plan: Plan,
    pub overrides: Overrides,
}

/// The operator's view of rate limits.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    /// Whether rate limits are applied on this deployment (`TENANTRY_RATE_LIMITS`).
    pub enforced: bool,
    /// Where the buckets are kept: `postgresql` or `redis` (`TENANTRY_REDIS_URL`).
    pub store: String,
    /// Requests before sign-in, per address.
    pub anonymous: Rate,
    pub plans: Vec<PlanSpec>,
    pub overrides: Vec<Overridden>,
    /// Buckets that hold no request now, whichever instance emptied them.
    pub limited_now: Vec<Limited>,
    /// The buckets that served most over the last 15 minutes (all instances).
    pub top_consumers: Vec<Consumer>,
    /// Tenants by requests refused over the last 24 hours (those refused any).
    pub tenants_by_refusals: Vec<TenantRefusals>,
}

/// How many entries each list of the overview holds at most.
const TOP: i64 = 20;

/// The operator's view: configuration, who is limited now, top consumers, tenants by
/// refusals (the super-admin).
pub async fn overview(ctx: &Ctx, db: &Db) -> Result<Overview> {
    ctx.authorize_platform(PlatformAction::LimitsRead)?;
    let plans = plans::list(ctx, db).await?;
    let overrides = sqlx::query!(
        r#"select l.tenant_id, t.slug, t.plan, l.overrides
           from tenant_limits l join tenants t on t.id = l.tenant_id
           order by t.slug limit 1000"#
    )
    .fetch_all(db.pool())
    .await?
    .into_iter()
    .filter_map(|r| {
        Some(Overridden {
            tenant_id: r.tenant_id,
            tenant_slug: r.slug,
            plan: Plan::parse(&r.plan)?,
            overrides: serde_json::from_value(r.overrides).ok()?,
        })
    })
    .collect();
    let empty: Vec<super::redis_store::Empty> = match db.limiter().redis() {
        Some(redis) => super::redis_store::empty(redis, 10_000, TOP as usize).await?,
        None => sqlx::query!(
            r#"select key, cost_us, burst,
                      greatest(tat - (burst - 1)::int8 * cost_us
                               - (extract(epoch from clock_timestamp()) * 1000000)::int8, 0)
                          as "retry_after_us!"
               from rate_buckets
               where tat > (extract(epoch from clock_timestamp()) * 1000000)::int8
                           + (burst - 1)::int8 * cost_us
               order by tat desc limit $1"#,
            TOP
        )
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(|r| (r.key, r.cost_us, r.burst, r.retry_after_us))
        .collect(),
    };
    let top = sqlx::query!(
        r#"select bucket, sum(served)::int8 as "served!", sum(refused)::int8 as "refused!"
           from rate_limit_usage where minute >= now() - interval '15 minutes'
           group by bucket order by 2 desc, 3 desc limit $1"#,
        TOP
    )
    .fetch_all(db.pool())
    .await?;
    let refusals = sqlx::query!(
        r#"select u.tenant_id as "tenant_id!", t.slug, t.plan,
                  coalesce(sum(u.refused) filter (where u.minute >= now() - interval '1 hour'), 0)::int8
                      as "last_hour!",
                  sum(u.refused)::int8 as "last_day!"
           from rate_limit_usage u join tenants t on t.id = u.tenant_id
           where u.refused > 0 and u.minute >= now() - interval '24 hours'
           group by u.tenant_id, t.slug, t.plan
           order by 5 desc limit $1"#,
        TOP
    )
    .fetch_all(db.pool())
    .await?;

    let mut keys: Vec<&str> = empty.iter().map(|r| r.0.as_str()).collect();
    keys.extend(top.iter().map(|r| r.bucket.as_str()));
    let slugs = slugs_of(db, &keys).await?;
    let subject = |key: &str| {
        let mut s = Subject::of(key);
        s.tenant_slug = s.tenant_id.and_then(|t| slugs.get(&t).cloned());
        s
    };
    Ok(Overview {
        enforced: db.limiter().enabled,
        store: db.limiter().store().to_owned(),
        anonymous: db.limiter().anonymous.into(),
        plans,
        overrides,
        limited_now: empty
            .iter()
            .map(|(key, cost_us, burst, retry_after_us)| Limited {
                subject: subject(key),
                retry_after_secs: ((*retry_after_us).max(0) as u64).div_ceil(1_000_000),
                rate: 1_000_000.0 / (*cost_us).max(1) as f64,
                burst: (*burst).max(1) as u32,
            })
            .collect(),
        top_consumers: top
            .iter()
            .map(|r| Consumer {
                subject: subject(&r.bucket),
                served: r.served,
                refused: r.refused,
            })
            .collect(),
        tenants_by_refusals: refusals
            .into_iter()
            .filter_map(|r| {
                Some(TenantRefusals {
                    tenant_id: r.tenant_id,
                    tenant_slug: r.slug,
                    plan: Plan::parse(&r.plan)?,
                    refused_last_hour: r.last_hour,
                    refused_last_24h: r.last_day,
                })
            })
            .collect(),
    })
}

/// The slugs of the tenants `keys` name.
async fn slugs_of(db: &Db, keys: &[&str]) -> Result<HashMap<Uuid, String>> {
    let mut ids: Vec<Uuid> = keys
        .iter()
        .filter_map(|k| Subject::of(k).tenant_id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!("select id, slug from tenants where id = any($1)", &ids)
        .fetch_all(db.pool())
        .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.slug)).collect())
}

impl Subject {
    /// Reads a stored bucket key (see [`BucketKey`]).
    fn of(key: &str) -> Subject {
        let mut s = Subject {
            kind: "unknown",
            tenant_id: None,
            tenant_slug: None,
            id: None,
            address: None,
        };
        let (kind, rest) = key.split_once(':').unwrap_or((key, ""));
        let ids = |rest: &str| {
            let (t, i) = rest.split_once(':').unwrap_or((rest, ""));
            (Uuid::parse_str(t).ok(), Uuid::parse_str(i).ok())
        };
        match kind {
            "t" => {
                s.kind = "tenant";
                s.tenant_id = Uuid::parse_str(rest).ok();
            }
            "i" | "k" => {
                s.kind = if kind == "i" { "identity" } else { "api_key" };
                (s.tenant_id, s.id) = ids(rest);
            }
            "a" => {
                s.kind = "ip";
                s.address = Some(rest.to_owned());
            }
            _ => {}
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_read_back_as_subjects() {
        let t = Uuid::now_v7();
        let i = Uuid::now_v7();
        for key in [
            BucketKey::Tenant(t),
            BucketKey::Identity(t, i),
            BucketKey::ApiKey(t, i),
            BucketKey::address("2001:db8::7".parse().unwrap()),
        ] {
            let s = Subject::of(&key.stored());
            assert_eq!(s.tenant_id, key.tenant());
            match key {
                BucketKey::Tenant(_) => assert_eq!(s.kind, "tenant"),
                BucketKey::Identity(..) => assert_eq!((s.kind, s.id), ("identity", Some(i))),
                BucketKey::ApiKey(..) => assert_eq!((s.kind, s.id), ("api_key", Some(i))),
                BucketKey::Address(_) => {
                    assert_eq!((s.kind, s.address.as_deref()), ("ip", Some("2001:db8::")))
                }
            }
        }
    }

    #[test]
    fn a_day_is_24_hours_ending_now_with_gaps_at_zero() {
        let now = time::macros::datetime!(2026-12-07 10:42:13 UTC);
        let h = hours(
            now,
            [
                (time::macros::datetime!(2026-12-07 10:00 UTC), 5, 2),
                (time::macros::datetime!(2026-12-06 11:00 UTC), 1, 1),
                (time::macros::datetime!(2026-12-06 10:00 UTC), 9, 9),
            ]
            .into_iter(),
        );
        assert_eq!(h.len(), 24);
        assert_eq!(h[23].hour, time::macros::datetime!(2026-12-07 10:00 UTC));
        assert_eq!((h[23].served, h[23].refused), (5, 2));
        assert_eq!(h[0].hour, time::macros::datetime!(2026-12-06 11:00 UTC));
        assert_eq!(h[0].refused, 1);
        assert_eq!(h.iter().map(|c| c.refused).sum::<i64>(), 3);
    }
}
