//! Server functions of the Events screen: each turns its arguments into a service call and
//! the result into wire types. `service::events` checks `audit:read` on every read.

use leptos::prelude::*;

use super::model::{EventFilter, EventPageView};
use crate::error::AppError;

/// Events per page.
#[cfg(feature = "ssr")]
const PAGE_SIZE: u32 = 50;

#[cfg(feature = "ssr")]
fn view_of(e: service::events::Event, now: time::OffsetDateTime) -> super::model::EventView {
    let at = e.occurred_at.to_offset(time::UtcOffset::UTC);
    let data = e
        .payload
        .get("data")
        .filter(|d| !d.is_null())
        .map(|d| serde_json::to_string_pretty(d).unwrap_or_default())
        .unwrap_or_default();
    super::model::EventView {
        id: e.id.to_string(),
        event_type: e.event_type,
        subject_type: e.subject_type,
        subject_id: e.subject_id.map(|i| i.to_string()),
        data,
        audit_id: e.audit_id.map(|i| i.to_string()),
        actor_type: e.actor_type,
        actor_id: e.actor_id.map(|i| i.to_string()),
        actor_label: e.actor_label,
        occurred_at: crate::format::second(at),
        occurred_iso: crate::format::rfc3339(at),
        occurred_ago: crate::audit_log::model::ago((now - at).whole_seconds()),
    }
}

#[cfg(feature = "ssr")]
fn page_view(
    page: service::pagination::Page<service::events::Event>,
    key: String,
) -> EventPageView {
    let now = time::OffsetDateTime::now_utc();
    EventPageView {
        items: page.items.into_iter().map(|e| view_of(e, now)).collect(),
        next_cursor: page.next_cursor,
        read_at: crate::format::clock(now),
        key,
    }
}

/// The events the filters take, newest first, a page at a time (`cursor` from the previous
/// page's `next_cursor`).
#[server(endpoint = "events/list")]
pub async fn list_events(
    #[server(flatten)] filter: EventFilter,
    cursor: Option<String>,
) -> Result<EventPageView, AppError> {
    let (db, ctx) = (crate::server::db()?, crate::server::ctx().await?);
    let key = format!("{filter:?}|{cursor:?}");
    let query = service::events::EventQuery {
        limit: Some(PAGE_SIZE),
        cursor: cursor.filter(|c| !c.trim().is_empty()),
        ..crate::server::query(&ctx, "audit", filter)?
    };
    let page = service::events::list(&ctx, &db, &query).await?;
    Ok(page_view(page, key))
}

/// The names of the catalogue's event types, for the type filter.
#[server(endpoint = "events/types")]
pub async fn event_type_names() -> Result<Vec<String>, AppError> {
    crate::server::ctx().await?;
    Ok(service::events::catalogue::all()
        .iter()
        .map(|t| t.name.to_owned())
        .collect())
}
