//! What every handler can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use metrics_exporter_prometheus::PrometheusHandle;
use service::Db;
use service::auth::tokens::Tokens;

use crate::config::ServeArgs;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// The threads the console renders on.
    pub renderers: crate::renderers::Renderers,
    pub tokens: Tokens,
    pub leptos_options: LeptosOptions,
    pub config: Arc<ServeArgs>,
    /// SHA-256 of `TENANTRY_ADMIN_TOKEN`, compared in constant time.
    pub admin_token_hash: Option<[u8; 32]>,
    pub metrics: PrometheusHandle,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
