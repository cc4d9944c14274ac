//! A subscription's deliveries and their attempts: the log, one delivery with its attempts,
//! a retry, a replay of past events, a test message; and the upkeep of that log (disabling
//! a subscription that keeps failing, pruning old deliveries).

use serde::Serialize;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use super::*;
use crate::authz::perm;
use crate::db::Change;
use crate::error::{Error, Result};
use crate::events::catalogue::{shapes, types};
use crate::validation::Choice;
use crate::{Ctx, Db};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    Succeeded,
    /// Every attempt of the schedule failed.
    Failed,
    /// Held while its webhook is disabled.
    Paused,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Paused => "paused",
        }
    }
}

impl crate::validation::Choice for DeliveryStatus {
    const FIELD: &'static str = "status";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("pending", DeliveryStatus::Pending),
        ("succeeded", DeliveryStatus::Succeeded),
        ("failed", DeliveryStatus::Failed),
        ("paused", DeliveryStatus::Paused),
    ];
}

/// One delivery of an event to a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Delivery {
    /// Also the `webhook-id` of every attempt.
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    pub next_at: Option<OffsetDateTime>,
    pub event_at: OffsetDateTime,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub delivered_at: Option<OffsetDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Attempt {
    pub attempt: i32,
    pub at: OffsetDateTime,
    pub succeeded: bool,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub response_snippet: Option<String>,
    pub error: Option<String>,
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    /// A [`DeliveryStatus`] by name; read after the subscription is found, so a caller
    /// learns nothing of another tenant's webhook from a status error.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A subscription's deliveries, newest first.
pub async fn deliveries(
    ctx: &Ctx,
    db: &Db,
    subscription_id: Uuid,
    query: &DeliveryQuery,
) -> Result<Page<Delivery>> {
    let mut tx = db.read_object(ctx, perm::WEBHOOKS_READ).await?;
    let tenant_id = tx.tenant_id;
    tx.lookup::<Subscription>(ctx, subscription_id, perm::WEBHOOKS_READ)
        .await?;
    let limit = pagination::limit(query.limit)?;
    let status = DeliveryStatus::read_opt(query.status.as_deref())?;
    let cursor = query
        .cursor
        .as_deref()
        .map(pagination::decode_cursor)
        .transpose()?;
    let rows = sqlx::query_as!(
        Delivery,
        r#"select id, subscription_id, event_id, event_type,
                  status as "status: DeliveryStatus", attempts,
                  case when status = 'pending' then next_at end as next_at,
                  event_at, last_attempt_at, delivered_at, last_status, last_error
           from webhook_deliveries
           where tenant_id = $1 and subscription_id = $2
             and ($3::text is null or status = $3)
             and ($4::uuid is null or id < $4)
           order by id desc limit $5"#,
        tenant_id,
        subscription_id,
        status.map(DeliveryStatus::as_str),
        cursor,
        i64::from(limit) + 1
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(pagination::page(rows, limit, |d| d.id))
}

async fn load_delivery(conn: &mut PgConnection, tenant_id: Uuid, id: Uuid) -> Result<Delivery> {
    // Through the subscription, which row-level security must let the caller see.
    sqlx::query_as!(
        Delivery,
        r#"select d.id, d.subscription_id, d.event_id, d.event_type,
                  d.status as "status: DeliveryStatus", d.attempts,
                  case when d.status = 'pending' then d.next_at end as next_at,
                  d.event_at, d.last_attempt_at, d.delivered_at, d.last_status, d.last_error
           from webhook_deliveries d
           join webhook_subscriptions s on s.tenant_id = d.tenant_id and s.id = d.subscription_id
           where d.tenant_id = $1 and d.id = $2"#,
        tenant_id,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(Error::NotFound {
        resource: "delivery",
    })
}

/// One delivery with every attempt, oldest first.
pub async fn delivery(ctx: &Ctx, db: &Db, id: Uuid) -> Result<(Delivery, Vec<Attempt>)> {
    let mut tx = db.read_object(ctx, perm::WEBHOOKS_READ).await?;
    let tenant_id = tx.tenant_id;
    let delivery = load_delivery(tx.conn(), tenant_id, id).await?;
    // A delivery is seen by those who may see its webhook.
    tx.lookup::<Subscription>(ctx, delivery.subscription_id, perm::WEBHOOKS_READ)
        .await
        .map_err(|e| not_found_as(e, "delivery"))?;
    let attempts = sqlx::query_as!(
        Attempt,
        "select attempt, at, succeeded, status_code, latency_ms, response_snippet, error
         from webhook_attempts where delivery_id = $1 and tenant_id = $2 order by attempt, at",
        id,
        tenant_id
    )
    .fetch_all(tx.conn())
    .await?;
    Ok((delivery, attempts))
}

/// Queues one more attempt of a delivery, now.
pub async fn retry(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Delivery> {
    let mut tx = db.change_object(ctx, perm::WEBHOOKS_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let before = load_delivery(tx.conn(), tenant_id, id).await?;
    let subscription = tx
        .lookup::<Subscription>(before.subscription_id, perm::WEBHOOKS_UPDATE)
        .await
        .map_err(|e| not_found_as(e, "delivery"))?;
    if !subscription.enabled {
        return Err(Error::Conflict {
            code: "webhook_disabled",
            message: "The webhook is disabled: enable it to retry its deliveries.".into(),
            field: None,
        });
    }
    sqlx::query!(
        "update webhook_deliveries set status = 'pending', next_at = now() where id = $1 and tenant_id = $2",
        id,
        tenant_id
    )
    .execute(tx.conn())
    .await?;
    delivery::wake(tx.conn()).await?;
    let after = load_delivery(tx.conn(), tenant_id, id).await?;
    tx.record(Change {
        action: types::WEBHOOK_DELIVERY_RETRIED,
        target_type: Subscription::NOUN,
        target_id: Some(subscription.id),
        before: None,
        after: Some(shapes::to_value(shapes::DeliveryRetriedData {
            delivery_id: id,
            event_id: before.event_id,
            event_type: &before.event_type,
            previous_status: before.status,
        })),
    })
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// The most events one replay may queue.
pub const MAX_REPLAY: i64 = 100_000;

/// Delivers again every stored event of `[from, to)` that the subscription's patterns
/// match: deliveries that exist are queued again (same `webhook-id`), missing ones (events
/// from before the subscription) are created. Returns how many were queued.
pub async fn replay(
    ctx: &Ctx,
    db: &Db,
    id: Uuid,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<i64> {
    let mut tx = db.change_object(ctx, perm::WEBHOOKS_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let sub = tx.lookup::<Subscription>(id, perm::WEBHOOKS_UPDATE).await?;
    if from >= to {
        return Err(Error::validation(
            "from",
            "out_of_range",
            "from must be before to.",
        ));
    }
    if !sub.enabled {
        return Err(Error::Conflict {
            code: "webhook_disabled",
            message: "The webhook is disabled: enable it to replay events to it.".into(),
            field: None,
        });
    }
    let matching = sqlx::query_scalar!(
        r#"select count(*) as "n!" from outbox_events e
           where e.tenant_id = $1 and e.created_at >= $2 and e.created_at < $3
             and exists (select 1 from unnest($4::text[]) p
                         where p = e.event_type or (right(p, 1) = '*' and starts_with(e.event_type, left(p, -1))))"#,
        tenant_id,
        from,
        to,
        &sub.event_types
    )
    .fetch_one(tx.conn())
    .await?;
    if matching > MAX_REPLAY {
        return Err(Error::validation(
            "from",
            "too_many",
            format!("{matching} events are in this range; replay at most {MAX_REPLAY} at once."),
        ));
    }
    let queued = sqlx::query_scalar!(
        r#"with queued as (
               insert into webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, event_at)
               select tenantry_uuid_v7(), e.tenant_id, $4, e.id, e.event_type, e.created_at
               from outbox_events e
               where e.tenant_id = $1 and e.created_at >= $2 and e.created_at < $3
                 and exists (select 1 from unnest($5::text[]) p
                             where p = e.event_type or (right(p, 1) = '*' and starts_with(e.event_type, left(p, -1))))
               order by e.id
               on conflict (subscription_id, event_id) do update
                   set status = 'pending', next_at = now()
               returning 1)
           select count(*) as "n!" from queued"#,
        tenant_id,
        from,
        to,
        id,
        &sub.event_types
    )
    .fetch_one(tx.conn())
    .await?;
    delivery::wake(tx.conn()).await?;
    tx.record(Change {
        action: types::WEBHOOK_REPLAYED,
        target_type: Subscription::NOUN,
        target_id: Some(sub.id),
        before: None,
        after: Some(shapes::to_value(shapes::ReplayedData {
            from: shapes::Time(from),
            to: shapes::Time(to),
            queued,
        })),
    })
    .await?;
    tx.commit().await?;
    Ok(queued)
}

/// Sends a test message (`webhook.test`) to a subscription now, and logs it as a delivery
/// of its own. Returns the delivery and its attempt.
pub async fn ping(ctx: &Ctx, db: &Db, id: Uuid) -> Result<(Delivery, Attempt)> {
    let subscription = db
        .authorized::<Subscription>(ctx, id, perm::WEBHOOKS_UPDATE)
        .await?;
    let tenant_id = ctx.tenant_id()?;
    let target = {
        let mut tx = db.begin_tenant(tenant_id).await?;
        delivery::target(&mut tx, db.master_key()?, tenant_id, subscription.id)
            .await?
            .ok_or(Error::NotFound {
                resource: "webhook",
            })?
    };
    let delivery_id = Uuid::now_v7();
    let event_id = Uuid::now_v7();
    let now = OffsetDateTime::now_utc();
    let body = delivery::ping_body(event_id, id, now);
    let outcome = db
        .webhooks()
        .send(&target.url, delivery_id, &target.keys, &body)
        .await;
    // The log of an attempt, not a change of the tenant's data: no audit record.
    let mut tx = db.begin_tenant(tenant_id).await?;
    delivery::record_ping(&mut tx, tenant_id, id, delivery_id, event_id, now, &outcome).await?;
    let delivery = load_delivery(&mut tx, tenant_id, delivery_id).await?;
    tx.commit().await?;
    Ok((delivery, outcome.attempt(1)))
}

/// Disables a subscription that kept failing: `delivery` ran out of retries, and no
/// attempt to the subscription has succeeded since that delivery's first attempt.
/// Records `webhook.disabled` (the tenant's notice; the console shows a banner).
pub(crate) async fn disable_failing(
    db: &Db,
    tenant_id: Uuid,
    id: Uuid,
    delivery: Uuid,
) -> Result<bool> {
    let ctx = Ctx::system();
    let mut tx = db.change_in(&ctx, tenant_id).await?;
    let Ok(before) = tx.lookup::<Subscription>(id, perm::WEBHOOKS_UPDATE).await else {
        return Ok(false);
    };
    let reason = "Every attempt failed for as long as deliveries are retried (about a day).";
    let disabled = sqlx::query!(
        "update webhook_subscriptions
         set enabled = false, disabled_reason = $4, disabled_at = now(), updated_at = now()
         where tenant_id = $1 and id = $2 and enabled and failing_since is not null
           and failing_since <= (select min(at) from webhook_attempts where delivery_id = $3)",
        tenant_id,
        id,
        delivery,
        reason
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if disabled == 0 {
        return Ok(false);
    }
    set_paused(tx.conn(), tenant_id, &before, true).await?;
    let after = tx.reread::<Subscription>(id).await?;
    tx.changed(types::WEBHOOK_DISABLED, &before, after.snapshot())
        .await?;
    tx.commit().await?;
    tracing::warn!(%tenant_id, webhook = %id, "webhook disabled: it kept failing");
    Ok(true)
}

/// Removes deliveries (and their attempts) finished more than `days` days ago: the log is
/// kept as long as the events.
pub async fn prune(db: &Db, days: u32) -> Result<u64> {
    let removed = sqlx::query!(
        "delete from webhook_deliveries
         where status in ('succeeded', 'failed')
           and created_at < now() - make_interval(days => $1)",
        i32::try_from(days).unwrap_or(i32::MAX)
    )
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(removed)
}
