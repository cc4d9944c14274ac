//! Health and metrics endpoints for operators and load balancers.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The process can serve: the database answers and no console runtime has stalled.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if !state.renderers.stalled().is_empty() {
        return (StatusCode::SERVICE_UNAVAILABLE, "console renderer stalled");
    }
    match state.db.ready().await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// Prometheus text exposition: request counts and latency by route, and pool gauges.
/// Behind a bearer token when `TENANTRY_METRICS_TOKEN` is set (compared in constant time).
pub async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    if let Some(expected) = &state.config.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let ok = service::crypto::constant_time_eq(
            &service::crypto::sha256(presented.as_bytes()),
            &service::crypto::sha256(expected.as_bytes()),
        );
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "metrics need the bearer token set in TENANTRY_METRICS_TOKEN",
            )
                .into_response();
        }
    }
    let (size, idle, max) = state.db.pool_gauges();
    metrics::gauge!("db_pool_connections").set(f64::from(size));
    metrics::gauge!("db_pool_idle_connections").set(idle as f64);
    metrics::gauge!("db_pool_max_connections").set(f64::from(max));
    metrics::gauge!("console_runtimes_stalled").set(state.renderers.stalled().len() as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
