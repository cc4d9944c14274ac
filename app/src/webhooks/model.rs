//! Wire types of the Webhooks screens. A webhook's secret is never part of them, except in
//! [`NewSecret`], the one answer that shows it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why the server disabled it.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    /// The first failed attempt since the last success.
    pub failing_since: Option<String>,
    /// While a rotation's overlap lasts, when the previous secret stops signing.
    pub previous_secret_until: Option<String>,
    pub created: String,
}

impl WebhookView {
    /// `enabled`, `disabled`, or `failing` (enabled, but its attempts fail).
    pub fn state(&self) -> &'static str {
        match (self.enabled, self.failing_since.is_some()) {
            (false, _) => "disabled",
            (true, true) => "failing",
            (true, false) => "active",
        }
    }
}

/// One webhook's figures over the stats range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FiguresView {
    pub attempts: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// `98.5%`, or none without attempts.
    pub success_rate: Option<String>,
    /// `12 ms`.
    pub p50: Option<String>,
    pub p95: Option<String>,
    pub pending: i64,
}

/// Attempts in one hour (or day) of the chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarView {
    /// `14:00` or `Dec 3`.
    pub label: String,
    pub succeeded: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChartView {
    /// `the last 24 hours`.
    pub range: String,
    pub bars: Vec<BarView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRow {
    pub webhook: WebhookView,
    pub figures: FiguresView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhooksView {
    pub rows: Vec<WebhookRow>,
    pub totals: FiguresView,
    pub chart: ChartView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    /// When the event happened (UTC).
    pub event_at: String,
    pub last_attempt: Option<String>,
    pub next_attempt: Option<String>,
    /// `HTTP 200`, `HTTP 503`, or the error of an attempt that got no answer.
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptView {
    pub attempt: i32,
    pub at: String,
    pub succeeded: bool,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub response_snippet: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenDelivery {
    pub delivery: DeliveryView,
    pub attempts: Vec<AttemptView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDetailView {
    pub webhook: WebhookView,
    pub figures: FiguresView,
    pub chart: ChartView,
    pub deliveries: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
    /// The delivery whose attempts are open (`?delivery=`).
    pub open: Option<OpenDelivery>,
}

/// A secret just made (create, rotate): the only time it leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSecret {
    pub id: String,
    pub name: String,
    pub secret: String,
    /// After a rotation: until when the previous secret also signs.
    pub previous_until: Option<String>,
}

/// What a test ping got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingView {
    pub succeeded: bool,
    /// `HTTP 200 in 12 ms` or the error.
    pub summary: String,
    pub response_snippet: Option<String>,
}

/// The delivery statuses the log filters by: (value, label).
pub const STATUS_FILTERS: [(&str, &str); 5] = [
    ("", "All"),
    ("failed", "Failed"),
    ("pending", "Retrying"),
    ("succeeded", "Delivered"),
    ("paused", "Paused"),
];

/// Overlap choices of a rotation: (hours, label).
pub const OVERLAPS: [(&str, &str); 4] = [
    ("24", "24 hours"),
    ("1", "1 hour"),
    ("168", "7 days"),
    ("0", "No overlap: the old secret stops now"),
];

/// Splits what was typed in the event types field (commas, spaces or new lines).
pub fn split_types(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `0.985` as `98.5%`, `1.0` as `100%`.
pub fn percent(rate: f64) -> String {
    let p = rate * 100.0;
    if (p - p.round()).abs() < 0.05 {
        format!("{}%", p.round())
    } else {
        format!("{p:.1}%")
    }
}

/// Milliseconds, rounded for people.
pub fn millis(ms: f64) -> String {
    if ms >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{} ms", ms.round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_split_on_commas_and_spaces() {
        assert_eq!(
            split_types(" identity.*, memory.created\nwebhook.disabled "),
            ["identity.*", "memory.created", "webhook.disabled"]
        );
        assert!(split_types(" , ").is_empty());
    }

    #[test]
    fn rates_and_latencies_read_well() {
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.985), "98.5%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(millis(12.4), "12 ms");
        assert_eq!(millis(12_345.0), "12.3 s");
    }

    #[test]
    fn state_names_what_an_admin_must_know() {
        let mut w = WebhookView {
            id: "1".into(),
            name: "n".into(),
            description: String::new(),
            url: "https://x".into(),
            event_types: vec!["*".into()],
            enabled: true,
            disabled_reason: None,
            disabled_at: None,
            failing_since: None,
            previous_secret_until: None,
            created: String::new(),
        };
        assert_eq!(w.state(), "active");
        w.failing_since = Some("now".into());
        assert_eq!(w.state(), "failing");
        w.enabled = false;
        assert_eq!(w.state(), "disabled");
    }
}
