//! Delivery figures per subscription and over time, for the console's webhooks screen and
//! `GET /v1/webhooks/stats`.

use serde::Serialize;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::*;
use crate::authz::perm;
use crate::error::{Error, Result};
use crate::{Ctx, Db};

/// Delivery figures over a range.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Figures {
    pub attempts: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// `succeeded / attempts`; none without attempts.
    pub success_rate: Option<f64>,
    /// Attempt latency percentiles, in milliseconds; none without attempts.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    /// Deliveries waiting for an attempt now (whatever the range).
    pub pending: i64,
}

impl Figures {
    fn new(
        attempts: i64,
        succeeded: i64,
        p50_ms: Option<f64>,
        p95_ms: Option<f64>,
        pending: i64,
    ) -> Self {
        Figures {
            attempts,
            succeeded,
            failed: attempts - succeeded,
            success_rate: (attempts > 0).then(|| succeeded as f64 / attempts as f64),
            p50_ms,
            p95_ms,
            pending,
        }
    }
}

/// Delivery figures of one subscription over a range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubscriptionStats {
    pub subscription_id: Uuid,
    pub name: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Attempts per time bucket, for the console's chart.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct StatsBucket {
    pub bucket_start: OffsetDateTime,
    pub succeeded: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// `hour` or `day`.
    pub bucket: &'static str,
    /// Over every attempt of the subscriptions asked for (percentiles of all attempts).
    pub total: Figures,
    pub subscriptions: Vec<SubscriptionStats>,
    pub series: Vec<StatsBucket>,
}

/// Attempts, success rate and latency percentiles per subscription and in all over
/// `[from, to)` (default: the last 24 hours), and attempts per hour (per day over more
/// than 3 days), of one subscription or all.
pub async fn stats(
    ctx: &Ctx,
    db: &Db,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    subscription_id: Option<Uuid>,
) -> Result<Stats> {
    let to = to.unwrap_or_else(OffsetDateTime::now_utc);
    let from = from.unwrap_or(to - Duration::hours(24));
    if from >= to || to - from > Duration::days(366) {
        return Err(Error::validation(
            "from",
            "out_of_range",
            "from must be before to, and the range at most 366 days.",
        ));
    }
    let bucket = if to - from > Duration::days(3) {
        "day"
    } else {
        "hour"
    };
    let mut tx = db.read(ctx, perm::WEBHOOKS_READ).await?;
    let tenant_id = tx.tenant_id;
    // The webhooks counted: the one asked for, or every one the caller may see.
    let counted: Vec<Uuid> = match subscription_id {
        Some(id) => vec![
            tx.lookup::<Subscription>(ctx, id, perm::WEBHOOKS_READ)
                .await?
                .id,
        ],
        None => load(tx.conn(), tenant_id, None)
            .await?
            .into_iter()
            .filter(|s| visible(ctx, tenant_id, s))
            .map(|s| s.id)
            .collect(),
    };
    let subscriptions = sqlx::query!(
        r#"select s.id, s.name,
                  count(a.id) as "attempts!",
                  count(a.id) filter (where a.succeeded) as "succeeded!",
                  percentile_cont(0.5) within group (order by a.latency_ms) as p50,
                  percentile_cont(0.95) within group (order by a.latency_ms) as p95,
                  (select count(*) from webhook_deliveries d
                   where d.tenant_id = s.tenant_id and d.subscription_id = s.id
                     and d.status = 'pending') as "pending!"
           from webhook_subscriptions s
           left join webhook_attempts a on a.tenant_id = s.tenant_id and a.subscription_id = s.id
                and a.at >= $2 and a.at < $3
           where s.tenant_id = $1 and s.id = any($4)
           group by s.tenant_id, s.id, s.name
           order by s.name"#,
        tenant_id,
        from,
        to,
        &counted
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| SubscriptionStats {
        subscription_id: r.id,
        name: r.name,
        figures: Figures::new(r.attempts, r.succeeded, r.p50, r.p95, r.pending),
    })
    .collect::<Vec<_>>();
    let all = sqlx::query!(
        r#"select count(*) as "attempts!",
                  count(*) filter (where a.succeeded) as "succeeded!",
                  percentile_cont(0.5) within group (order by a.latency_ms) as p50,
                  percentile_cont(0.95) within group (order by a.latency_ms) as p95
           from webhook_attempts a
           join webhook_subscriptions s on s.tenant_id = a.tenant_id and s.id = a.subscription_id
           where a.tenant_id = $1 and a.at >= $2 and a.at < $3
             and a.subscription_id = any($4)"#,
        tenant_id,
        from,
        to,
        &counted
    )
    .fetch_one(tx.conn())
    .await?;
    let total = Figures::new(
        all.attempts,
        all.succeeded,
        all.p50,
        all.p95,
        subscriptions.iter().map(|s| s.figures.pending).sum(),
    );
    let series = sqlx::query_as!(
        StatsBucket,
        r#"select date_trunc($5, a.at, 'UTC') as "bucket_start!",
                  count(*) filter (where a.succeeded) as "succeeded!",
                  count(*) filter (where not a.succeeded) as "failed!"
           from webhook_attempts a
           join webhook_subscriptions s on s.tenant_id = a.tenant_id and s.id = a.subscription_id
           where a.tenant_id = $1 and a.at >= $2 and a.at < $3
             and a.subscription_id = any($4)
           group by 1 order by 1"#,
        tenant_id,
        from,
        to,
        &counted,
        bucket
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(Stats {
        from,
        to,
        bucket,
        total,
        subscriptions,
        series,
    })
}
