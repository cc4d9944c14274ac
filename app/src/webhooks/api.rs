//! Server functions of the Webhooks screens. `service::webhooks` authorizes every call
//! (`webhooks:read`, `create`, `update`, `delete`, and `manage` to rotate a secret).

use leptos::prelude::*;

use super::forms::{DeliveryFilter, ReplayForm, WebhookForm};
use super::model::{NewSecret, PingView, WebhookDetailView, WebhooksView};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::server::{ctx, db, finish_form, finish_with, input, object_id};
#[cfg(feature = "ssr")]
use service::webhooks::Input;

#[cfg(feature = "ssr")]
mod convert {
    use super::super::model::*;
    use service::webhooks as svc;

    use crate::format::second as when;

    impl From<svc::Subscription> for WebhookView {
        fn from(s: svc::Subscription) -> Self {
            WebhookView {
                id: s.id.to_string(),
                name: s.name,
                description: s.description,
                url: s.url,
                event_types: s.event_types,
                enabled: s.enabled,
                disabled_reason: s.disabled_reason,
                disabled_at: s.disabled_at.map(when),
                failing_since: s.failing_since.map(when),
                previous_secret_until: s.previous_secret_until.map(when),
                created: when(s.created_at),
            }
        }
    }

    pub fn figures(f: &svc::Figures) -> FiguresView {
        FiguresView {
            attempts: f.attempts,
            succeeded: f.succeeded,
            failed: f.failed,
            success_rate: f.success_rate.map(percent),
            p50: f.p50_ms.map(millis),
            p95: f.p95_ms.map(millis),
            pending: f.pending,
        }
    }

    /// Every hour of the range as a bar, the empty ones included.
    pub fn chart(stats: &svc::Stats) -> ChartView {
        let hour = time::Duration::hours(1);
        let start = stats
            .from
            .replace_minute(0)
            .and_then(|t| t.replace_second(0))
            .and_then(|t| t.replace_nanosecond(0))
            .unwrap_or(stats.from);
        let mut bars = Vec::new();
        let mut at = start;
        while at < stats.to {
            let (succeeded, failed) = stats
                .series
                .iter()
                .find(|b| b.bucket_start == at)
                .map(|b| (b.succeeded, b.failed))
                .unwrap_or((0, 0));
            bars.push(BarView {
                label: crate::format::hour(at),
                succeeded,
                failed,
            });
            at += hour;
        }
        ChartView {
            range: "the last 24 hours (UTC)".into(),
            bars,
        }
    }

    pub fn delivery(d: svc::Delivery) -> DeliveryView {
        let outcome = match (d.last_status, d.last_error) {
            (Some(code), _) => Some(format!("HTTP {code}")),
            (None, Some(e)) => Some(e),
            (None, None) => None,
        };
        DeliveryView {
            id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            event_type: d.event_type,
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            event_at: when(d.event_at),
            last_attempt: d.last_attempt_at.map(when),
            next_attempt: d.next_at.map(when),
            outcome,
        }
    }

    pub fn attempt(a: svc::Attempt) -> AttemptView {
        AttemptView {
            attempt: a.attempt,
            at: when(a.at),
            succeeded: a.succeeded,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response_snippet: a.response_snippet,
            error: a.error,
        }
    }

    impl WebhooksView {
        /// The list, each webhook with its figures over the range of `stats`.
        pub fn new(subscriptions: Vec<svc::Subscription>, stats: svc::Stats) -> Self {
            let row = |s: svc::Subscription| {
                let mine = stats
                    .subscriptions
                    .iter()
                    .find(|f| f.subscription_id == s.id);
                let figures = mine.map(|f| figures(&f.figures)).unwrap_or_default();
                WebhookRow {
                    webhook: s.into(),
                    figures,
                }
            };
            WebhooksView {
                rows: subscriptions.into_iter().map(row).collect(),
                totals: figures(&stats.total),
                chart: chart(&stats),
            }
        }
    }

    impl From<svc::Attempt> for PingView {
        /// What a test message got back, in a few words.
        fn from(a: svc::Attempt) -> Self {
            let summary = match (a.status_code, &a.error) {
                (Some(code), _) => format!("HTTP {code} in {} ms", a.latency_ms),
                (None, Some(e)) => format!("{e} (after {} ms)", a.latency_ms),
                (None, None) => format!("{} ms", a.latency_ms),
            };
            PingView {
                succeeded: a.succeeded,
                summary,
                response_snippet: a.response_snippet,
            }
        }
    }

    /// A webhook's page; `open` is the delivery asked for with its attempts, shown only
    /// when it is one of this webhook's.
    pub fn detail(
        webhook: svc::Subscription,
        stats: svc::Stats,
        page: service::pagination::Page<svc::Delivery>,
        open: Option<(svc::Delivery, Vec<svc::Attempt>)>,
    ) -> WebhookDetailView {
        let open = open
            .filter(|(d, _)| d.subscription_id == webhook.id)
            .map(|(d, attempts)| OpenDelivery {
                delivery: delivery(d),
                attempts: attempts.into_iter().map(attempt).collect(),
            });
        WebhookDetailView {
            figures: figures(&stats.total),
            chart: chart(&stats),
            webhook: webhook.into(),
            deliveries: page.items.into_iter().map(delivery).collect(),
            next_cursor: page.next_cursor,
            open,
        }
    }

    pub fn secret(w: svc::WithSecret) -> NewSecret {
        NewSecret {
            id: w.subscription.id.to_string(),
            name: w.subscription.name,
            secret: w.secret,
            previous_until: w.subscription.previous_secret_until.map(when),
        }
    }
}

/// The tenant's webhooks with their figures over the last 24 hours.
#[server(endpoint = "webhooks/list")]
pub async fn list_webhooks() -> Result<WebhooksView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let subscriptions = service::webhooks::list(&ctx, &db).await?;
    let stats = service::webhooks::stats(&ctx, &db, None, None, None).await?;
    Ok(WebhooksView::new(subscriptions, stats))
}

/// Creates a webhook and returns its secret, once.
#[server(endpoint = "webhooks/create")]
pub async fn create_webhook(#[server(flatten)] form: WebhookForm) -> Result<NewSecret, AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let webhook: Input = input(&ctx, "webhooks", form.clone())?;
        let webhook = Input {
            enabled: Some(true),
            ..webhook
        };
        Ok(convert::secret(
            service::webhooks::create(&ctx, &db, webhook).await?,
        ))
    };
    finish_with("create_webhook", &form, result.await, plain_secret).await
}

/// One webhook: its figures, a page of its deliveries, and the attempts of the delivery the
/// filter opens, if any.
#[server(endpoint = "webhooks/get")]
pub async fn get_webhook(
    id: String,
    #[server(flatten)] filter: DeliveryFilter,
) -> Result<WebhookDetailView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let id = object_id(&id, "webhook")?;
    let webhook = service::webhooks::get(&ctx, &db, id).await?;
    let stats = service::webhooks::stats(&ctx, &db, None, None, Some(id)).await?;
    let open = opened_delivery(&ctx, &db, &filter).await?;
    let query = crate::server::query(&ctx, "webhooks", filter)?;
    let page = service::webhooks::deliveries(&ctx, &db, id, &query).await?;
    Ok(convert::detail(webhook, stats, page, open))
}

#[server(endpoint = "webhooks/update")]
pub async fn update_webhook(#[server(flatten)] form: WebhookForm) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let id = object_id(&form.id, "webhook")?;
        service::webhooks::update(&ctx, &db, id, input(&ctx, "webhooks", form.clone())?).await?;
        Ok(format!("/webhooks/{id}?saved=1"))
    };
    crate::server::finish("update_webhook", &form, result.await).await
}

/// Enables (resuming paused deliveries) or disables (pausing them) a webhook.
#[server(endpoint = "webhooks/set_enabled")]
pub async fn set_webhook_enabled(id: String, enabled: bool) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let id = object_id(&id, "webhook")?;
        let change = Input {
            enabled: Some(enabled),
            ..Default::default()
        };
        service::webhooks::update(&ctx, &db, id, change).await?;
        let done = if enabled { "enabled" } else { "disabled" };
        Ok(format!("/webhooks/{id}?{done}=1"))
    };
    finish_form("set_webhook_enabled", &[], result.await).await
}

#[server(endpoint = "webhooks/delete")]
pub async fn delete_webhook(id: String) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        service::webhooks::delete(&ctx, &db, object_id(&id, "webhook")?).await?;
        Ok("/webhooks?deleted=1".to_owned())
    };
    finish_form("delete_webhook", &[], result.await).await
}

/// Gives a webhook a new secret, returned once; the old one keeps signing for
/// `overlap_hours`.
#[server(endpoint = "webhooks/rotate")]
pub async fn rotate_webhook_secret(
    id: String,
    overlap_hours: String,
) -> Result<NewSecret, AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let id = object_id(&id, "webhook")?;
        let overlap = Some(super::forms::overlap(&overlap_hours)?);
        Ok(convert::secret(
            service::webhooks::rotate_secret(&ctx, &db, id, overlap).await?,
        ))
    };
    finish_with("rotate_webhook_secret", &(), result.await, plain_secret).await
}

/// Sends a test message now and says what came back.
#[server(endpoint = "webhooks/ping")]
pub async fn ping_webhook(id: String) -> Result<PingView, AppError> {
    let (db, ctx) = (db()?, ctx().await?);
    let id = object_id(&id, "webhook")?;
    let (_, attempt) = service::webhooks::ping(&ctx, &db, id).await?;
    if crate::server::is_plain_form() {
        leptos_axum::redirect(&format!("/webhooks/{id}"));
    }
    Ok(attempt.into())
}

/// Queues one more attempt of a delivery, now.
#[server(endpoint = "webhooks/retry")]
pub async fn retry_delivery(id: String) -> Result<(), AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let id = object_id(&id, "delivery")?;
        let queued = service::webhooks::retry(&ctx, &db, id).await?;
        Ok(format!(
            "/webhooks/{}?delivery={id}&retried=1",
            queued.subscription_id
        ))
    };
    finish_form("retry_delivery", &[], result.await).await
}

/// Queues every stored event of the range for the webhook again; returns how many.
#[server(endpoint = "webhooks/replay")]
pub async fn replay_webhook(#[server(flatten)] form: ReplayForm) -> Result<i64, AppError> {
    let db = db()?;
    let result = async {
        let ctx = ctx().await?;
        let id = object_id(&form.id, "webhook")?;
        let range: super::forms::Range = input(&ctx, "webhooks", form.clone())?;
        Ok(service::webhooks::replay(&ctx, &db, id, range.from, range.to).await?)
    };
    let plain_next = |n: &i64| format!("/webhooks/{}?replayed={n}", form.id.trim());
    finish_with("replay_webhook", &form, result.await, plain_next).await
}

/// The delivery the log opens, with its attempts, if the filter names one.
#[cfg(feature = "ssr")]
async fn opened_delivery(
    ctx: &service::Ctx,
    db: &service::Db,
    filter: &DeliveryFilter,
) -> Result<Option<(service::webhooks::Delivery, Vec<service::webhooks::Attempt>)>, AppError> {
    match super::forms::open_delivery(filter)? {
        Some(id) => Ok(Some(service::webhooks::delivery(ctx, db, id).await?)),
        None => Ok(None),
    }
}

/// Where a plain form post goes after a secret was made: the webhook's page, which says the
/// secret could not be shown (no script to show it).
#[cfg(feature = "ssr")]
fn plain_secret(secret: &NewSecret) -> String {
    format!("/webhooks/{}?created_without_js=1", secret.id)
}
