//! Logging: tracing to stdout, as text or JSON lines (`TENANTRY_LOG_FORMAT=json`). Each
//! request runs in a span that carries its request id, so every line it logs has the id.
//! Messages for a person at a terminal (the demo password, "serving on") go to stderr, so
//! stdout stays pure JSON lines when asked.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_target(true);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A second init (tests start several servers in one process) keeps the first.
    let _ = result;
}
