//! Server functions of the Webhooks screens. `service::webhooks` authorizes every call
//! (`webhooks:read`, `create`, `update`, `delete`, and `manage` to rotate a secret).

use leptos::prelude::*;

use super::model::{NewSecret, PingView, WebhookDetailView, WebhooksView};
use crate::error::AppError;

#[cfg(feature = "ssr")]
mod convert {
    use super::super::model::*;
    use service::webhooks as svc;

    use crate::format::second as when;

    pub fn parse_id(id: &str, resource: &'static str) -> Result<uuid::Uuid, service::Error> {
        uuid::Uuid::parse_str(id.trim()).map_err(|_| service::Error::NotFound { resource })
    }

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
            status: d.status,
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

    /// Ends a server function that shows a secret: the secret goes back to the running
    /// page; a plain form post (no script to show it) is sent to the webhook's page,
    /// which says so.
    pub async fn finish_secret(
        form: &str,
        submitted: &[(&str, &str)],
        result: Result<NewSecret, crate::error::AppError>,
    ) -> Result<NewSecret, crate::error::AppError> {
        match result {
            Ok(secret) => {
                if crate::server::is_plain_form() {
                    leptos_axum::redirect(&format!("/webhooks/{}?created_without_js=1", secret.id));
                }
                Ok(secret)
            }
            Err(e) => {
                crate::server::flash_failure(form, &e, submitted).await;
                Err(e)
            }
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
    use super::model::WebhookRow;
    let ctx = crate::server::ctx().await?;
    let db = crate::server::db()?;
    let subscriptions = service::webhooks::list(&ctx, &db).await?;
    let stats = service::webhooks::stats(&ctx, &db, None, None, None).await?;
    let rows = subscriptions
        .into_iter()
        .map(|s| {
            let figures = stats
                .subscriptions
                .iter()
                .find(|f| f.subscription_id == s.id)
                .map(|f| convert::figures(&f.figures))
                .unwrap_or_default();
            WebhookRow {
                webhook: s.into(),
                figures,
            }
        })
        .collect();
    Ok(WebhooksView {
        rows,
        totals: convert::figures(&stats.total),
        chart: convert::chart(&stats),
    })
}

/// Creates a webhook and returns its secret, once.
#[server(endpoint = "webhooks/create")]
pub async fn create_webhook(
    name: String,
    url: String,
    event_types: String,
    description: String,
) -> Result<NewSecret, AppError> {
    let submitted = [
        ("name", name.as_str()),
        ("url", url.as_str()),
        ("event_types", event_types.as_str()),
        ("description", description.as_str()),
    ];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let created = service::webhooks::create(
            &ctx,
            &crate::server::db()?,
            service::webhooks::Input {
                name: Some(name.clone()),
                description: Some(description.clone()),
                url: Some(url.clone()),
                event_types: Some(super::model::split_types(&event_types)),
                enabled: Some(true),
            },
        )
        .await?;
        Ok::<_, AppError>(convert::secret(created))
    }
    .await;
    convert::finish_secret("create_webhook", &submitted, result).await
}

/// One webhook: its figures, a page of its deliveries (`status` filters them, `cursor`
/// pages), and the attempts of the delivery `delivery`, if given.
#[server(endpoint = "webhooks/get")]
pub async fn get_webhook(
    id: String,
    status: Option<String>,
    cursor: Option<String>,
    delivery: Option<String>,
) -> Result<WebhookDetailView, AppError> {
    use super::model::OpenDelivery;
    let ctx = crate::server::ctx().await?;
    let db = crate::server::db()?;
    let id = convert::parse_id(&id, "webhook")?;
    let webhook = service::webhooks::get(&ctx, &db, id).await?;
    let stats = service::webhooks::stats(&ctx, &db, None, None, Some(id)).await?;
    let page = service::webhooks::deliveries(
        &ctx,
        &db,
        id,
        &service::webhooks::DeliveryQuery {
            status: status.filter(|s| !s.trim().is_empty()),
            limit: Some(25),
            cursor: cursor.filter(|c| !c.trim().is_empty()),
        },
    )
    .await?;
    let open = match delivery.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => {
            let (delivery, attempts) =
                service::webhooks::delivery(&ctx, &db, convert::parse_id(d, "delivery")?).await?;
            // Only a delivery of this webhook opens here.
            (delivery.subscription_id == id).then(|| OpenDelivery {
                delivery: convert::delivery(delivery),
                attempts: attempts.into_iter().map(convert::attempt).collect(),
            })
        }
    };
    Ok(WebhookDetailView {
        figures: convert::figures(&stats.total),
        chart: convert::chart(&stats),
        webhook: webhook.into(),
        deliveries: page.items.into_iter().map(convert::delivery).collect(),
        next_cursor: page.next_cursor,
        open,
    })
}

#[server(endpoint = "webhooks/update")]
pub async fn update_webhook(
    id: String,
    name: String,
    url: String,
    event_types: String,
    description: String,
) -> Result<(), AppError> {
    let submitted = [
        ("name", name.as_str()),
        ("url", url.as_str()),
        ("event_types", event_types.as_str()),
        ("description", description.as_str()),
    ];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let uuid = convert::parse_id(&id, "webhook")?;
        service::webhooks::update(
            &ctx,
            &crate::server::db()?,
            uuid,
            service::webhooks::Input {
                name: Some(name.clone()),
                description: Some(description.clone()),
                url: Some(url.clone()),
                event_types: Some(super::model::split_types(&event_types)),
                enabled: None,
            },
        )
        .await?;
        Ok(format!("/webhooks/{uuid}?saved=1"))
    }
    .await;
    crate::server::finish_form("update_webhook", &submitted, result).await
}

/// Enables (resuming paused deliveries) or disables (pausing them) a webhook.
#[server(endpoint = "webhooks/set_enabled")]
pub async fn set_webhook_enabled(id: String, enabled: bool) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let uuid = convert::parse_id(&id, "webhook")?;
        service::webhooks::update(
            &ctx,
            &crate::server::db()?,
            uuid,
            service::webhooks::Input {
                enabled: Some(enabled),
                ..Default::default()
            },
        )
        .await?;
        let done = if enabled { "enabled" } else { "disabled" };
        Ok(format!("/webhooks/{uuid}?{done}=1"))
    }
    .await;
    crate::server::finish_form("set_webhook_enabled", &[], result).await
}

#[server(endpoint = "webhooks/delete")]
pub async fn delete_webhook(id: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let uuid = convert::parse_id(&id, "webhook")?;
        service::webhooks::delete(&ctx, &crate::server::db()?, uuid).await?;
        Ok("/webhooks?deleted=1".to_owned())
    }
    .await;
    crate::server::finish_form("delete_webhook", &[], result).await
}

/// Gives a webhook a new secret, returned once; the old one keeps signing for
/// `overlap_hours`.
#[server(endpoint = "webhooks/rotate")]
pub async fn rotate_webhook_secret(
    id: String,
    overlap_hours: String,
) -> Result<NewSecret, AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let uuid = convert::parse_id(&id, "webhook")?;
        let hours: i64 = overlap_hours.trim().parse().map_err(|_| {
            AppError::from(service::Error::validation(
                "overlap_hours",
                "invalid_value",
                "Choose how long the old secret keeps signing.",
            ))
        })?;
        let rotated = service::webhooks::rotate_secret(
            &ctx,
            &crate::server::db()?,
            uuid,
            Some(time::Duration::hours(hours)),
        )
        .await?;
        Ok::<_, AppError>(convert::secret(rotated))
    }
    .await;
    convert::finish_secret("rotate_webhook_secret", &[], result).await
}

/// Sends a test message now and says what came back.
#[server(endpoint = "webhooks/ping")]
pub async fn ping_webhook(id: String) -> Result<PingView, AppError> {
    let ctx = crate::server::ctx().await?;
    let uuid = convert::parse_id(&id, "webhook")?;
    let (_, attempt) = service::webhooks::ping(&ctx, &crate::server::db()?, uuid).await?;
    let summary = match (attempt.status_code, &attempt.error) {
        (Some(code), _) => format!("HTTP {code} in {} ms", attempt.latency_ms),
        (None, Some(e)) => format!("{e} (after {} ms)", attempt.latency_ms),
        (None, None) => format!("{} ms", attempt.latency_ms),
    };
    if crate::server::is_plain_form() {
        leptos_axum::redirect(&format!("/webhooks/{uuid}"));
    }
    Ok(PingView {
        succeeded: attempt.succeeded,
        summary,
        response_snippet: attempt.response_snippet,
    })
}

/// Queues one more attempt of a delivery, now.
#[server(endpoint = "webhooks/retry")]
pub async fn retry_delivery(id: String) -> Result<(), AppError> {
    let result = async {
        let ctx = crate::server::ctx().await?;
        let uuid = convert::parse_id(&id, "delivery")?;
        let queued = service::webhooks::retry(&ctx, &crate::server::db()?, uuid).await?;
        Ok(format!(
            "/webhooks/{}?delivery={uuid}&retried=1",
            queued.subscription_id
        ))
    }
    .await;
    crate::server::finish_form("retry_delivery", &[], result).await
}

/// Queues every stored event between `from` and `to` (UTC, `YYYY-MM-DDTHH:MM` as a
/// datetime field sends them) for the webhook again; returns how many.
#[server(endpoint = "webhooks/replay")]
pub async fn replay_webhook(id: String, from: String, to: String) -> Result<i64, AppError> {
    let submitted = [("from", from.as_str()), ("to", to.as_str())];
    let result = async {
        let ctx = crate::server::ctx().await?;
        let uuid = convert::parse_id(&id, "webhook")?;
        let parse = |field: &'static str, raw: &str| {
            let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
            // A datetime field sends minutes, some browsers seconds too.
            let raw = raw.trim();
            time::PrimitiveDateTime::parse(raw.get(..16).unwrap_or(raw), &f)
                .map(|t| t.assume_utc())
                .map_err(|_| {
                    AppError::from(service::Error::validation(
                        field,
                        "invalid_value",
                        "Enter a date and time.",
                    ))
                })
        };
        let (from, to) = (parse("from", &from)?, parse("to", &to)?);
        let queued = service::webhooks::replay(&ctx, &crate::server::db()?, uuid, from, to).await?;
        Ok::<_, AppError>(queued)
    }
    .await;
    match result {
        Ok(n) => {
            if crate::server::is_plain_form() {
                leptos_axum::redirect(&format!("/webhooks/{id}?replayed={n}"));
            }
            Ok(n)
        }
        Err(e) => {
            crate::server::flash_failure("replay_webhook", &e, &submitted).await;
            Err(e)
        }
    }
}
