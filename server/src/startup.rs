//! Building the application: state, router, and the server with graceful shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::get;
use leptos::config::{Env, LeptosOptions};
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use service::Db;
use service::auth::keys::KeyRing;
use service::auth::tokens::Tokens;
use service::crypto::MasterKey;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::ServeArgs;
use crate::middleware;
use crate::rest;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "tenantry_session";

/// The process-wide metrics recorder (installed once; tests start many apps in one process).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &buckets,
                )
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then we render an empty set.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

pub async fn build_state(db: Db, master: MasterKey, config: ServeArgs) -> Result<AppState> {
    let keys = KeyRing::load_or_create(&db, master, config.access_token_ttl)
        .await
        .map_err(|e| anyhow::anyhow!("load signing keys: {e:?}"))?;
    let tokens = Tokens::new(keys, config.access_token_ttl, config.refresh_token_ttl);
    let leptos_options = LeptosOptions::builder()
        .output_name("tenantry")
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .env(Env::PROD)
        .build();
    let admin_token_hash = config
        .admin_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| service::crypto::sha256(t.as_bytes()));
    service::auth::passwords::warm_up();
    let renderers = crate::renderers::Renderers::start(
        usize::from(config.console_runtimes),
        Duration::from_secs(config.console_stall_secs),
        Some((&db, config.console_db_connections)),
    )
    .context("start the console's runtimes")?;
    Ok(AppState {
        renderers,
        db,
        tokens,
        leptos_options,
        config: Arc::new(config),
        admin_token_hash,
        metrics: metrics_handle(),
    })
}

/// The whole HTTP application.
pub fn build_router(state: AppState) -> Router {
    let (v1, mut openapi) = rest::v1::router();
    let (well_known, well_known_doc) = OpenApiRouter::new()
        .routes(routes!(rest::v1::auth::jwks))
        .split_for_parts();
    openapi.paths.paths.extend(well_known_doc.paths.paths);
    let openapi = Arc::new(openapi);

    let hsts = state
        .config
        .cookie_secure()
        .then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    let leptos_options = state.leptos_options.clone();
    let routes = generate_route_list(app::App);
    let context = {
        let db = state.db.clone();
        let public_url = app::server::PublicUrl(state.config.public_url());
        move || {
            // On a console runtime, the database through that runtime's own pool.
            provide_context(crate::renderers::console_db().unwrap_or_else(|| db.clone()));
            provide_context(public_url.clone());
        }
    };
    let pkg_dir = format!(
        "{}/{}",
        leptos_options.site_root, leptos_options.site_pkg_dir
    );

    let session_layer = SessionManagerLayer::new(crate::renderers::SessionsOn::current(
        service::sessions::PgSessionStore::new(&state.db),
    ))
    .with_name(SESSION_COOKIE)
    .with_http_only(true)
    .with_same_site(SameSite::Lax)
    .with_secure(state.config.cookie_secure())
    .with_path("/")
    .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
        state.config.session_ttl,
    )));

    let v1 = v1
        .fallback(|| async {
            rest::problem::rejection(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "There is no such API route; see /v1/openapi.json.".into(),
            )
        })
        .method_not_allowed_fallback(|| async {
            rest::problem::rejection(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This API route does not take that method; see /v1/openapi.json.".into(),
            )
        });

    // The console's pages and server functions, and its not-found page, on its own runtimes.
    let console = Router::new()
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = leptos_options.clone();
            move || app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, app::shell))
        .layer(axum::middleware::from_fn_with_state(
            state.renderers.clone(),
            crate::renderers::on_renderer,
        ));

    Router::new()
        .nest("/v1", v1)
        .route(
            "/v1/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .merge(well_known)
        .route(
            "/logout",
            get(crate::logout::logout).post(crate::logout::logout),
        )
        .route("/auth/oidc/callback", get(crate::oidc::callback))
        .route("/auth/sso/login/{id}", get(crate::oidc::login))
        .route("/healthz", get(crate::ops::healthz))
        .route("/readyz", get(crate::ops::readyz))
        .route("/metrics", get(crate::ops::metrics))
        .nest_service(
            "/pkg",
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=300"),
                ))
                .service(
                    ServeDir::new(pkg_dir)
                        .precompressed_br()
                        .precompressed_gzip(),
                ),
        )
        .merge(console)
        .route_layer(axum::middleware::from_fn(middleware::track_metrics))
        .layer(axum::middleware::from_fn(crate::nul::refuse_nul))
        .layer(axum::middleware::from_fn(middleware::csrf_guard))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limits::rate_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::resolve_caller,
        ))
        .layer(session_layer)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // Nothing is cached on the way unless a route says so (the console's assets do):
        // answers carry tokens, new API keys, webhook secrets and people's data.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        // Browsers that reached the server over HTTPS stay on it (when cookies are secure,
        // the server is meant to be reached only so).
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            hsts,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(axum::middleware::from_fn(middleware::request_id))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish (up to 30 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let graceful = async move {
        shutdown.await;
        let _ = tx.send(());
    };
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(graceful);
    let server = tokio::spawn(async move { server.await });
    let _ = rx.await;
    match tokio::time::timeout(Duration::from_secs(30), server).await {
        Ok(joined) => joined.context("server task")?.context("server")?,
        Err(_) => tracing::warn!("in-flight requests did not finish within 30 s"),
    }
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
