//! Health, readiness, metrics, request ids, the OpenAPI document, and what a broken
//! database looks like to a caller.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{TestApp, problem};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn().await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ok");
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);

    let token = app.owner_token(&app.acme).await;
    assert_eq!(
        app.get("/v1/identities", Some(&token)).await.status(),
        StatusCode::OK
    );
    let res = app.get("/metrics", None).await;
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains("route=\"/v1/identities\"")
            && l.contains("status=\"200\"")),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "latency histogram"
    );
    assert!(text.contains("db_pool_connections "), "pool gauge");
    assert!(
        !text.contains(&app.acme.owner_id.to_string()),
        "no raw ids in labels"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_and_in_error_bodies() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/v1/me"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-abc-123");
    assert_eq!(problem(res).await["request_id"], "trace-abc-123");

    let res = app.get("/healthz", None).await;
    let generated = res.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(generated).unwrap().get_version_num(),
        7
    );
}

#[tokio::test]
async fn a_broken_database_gives_a_500_with_only_a_request_id() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    // Break the database on purpose: the outbox is gone.
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let count = "select (select count(*) from identities) + (select count(*) from subject_keys)";
    let before: i64 = sqlx::query_scalar(count)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::query("drop table outbox_events")
        .execute(&mut conn)
        .await
        .unwrap();

    let res = app
        .client
        .post(app.url("/v1/identities"))
        .bearer_auth(&token)
        .header("x-request-id", "broken-db-1")
        .json(&json!({"email": "lost@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = res.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], "internal");
    assert_eq!(body["request_id"], "broken-db-1");
    assert_eq!(body["detail"], "An unexpected error occurred.");
    for leak in ["outbox", "relation", "insert", "sqlx", "database"] {
        assert!(
            !text.to_lowercase().contains(leak),
            "the body leaks {leak:?}: {text}"
        );
    }
    // The change rolled back with its missing event: nothing half-written (neither the
    // identity nor its key).
    let after: i64 = sqlx::query_scalar(count)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(after, before);
}

#[tokio::test]
async fn openapi_document_describes_the_api() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .get("/v1/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(doc["info"]["title"], "Tenantry API");
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/identities",
        "/v1/identities/{id}",
        "/v1/identities/{id}/restore",
        "/v1/me",
        "/v1/auth/token",
        "/v1/auth/refresh",
        "/v1/admin/tenants",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn security_headers_are_set() {
    let app = TestApp::spawn().await;
    let res = app.get("/login", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let html = res.text().await.unwrap();
    assert!(html.contains("Sign in to Tenantry"));
    assert_eq!(
        app.get("/no/such/page", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// A second server over `app`'s database with its own settings.
async fn serve_with(app: &TestApp, args: server::config::ServeArgs) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = server::startup::build_state(app.db.clone(), app.master.clone(), args)
        .await
        .unwrap();
    let router = server::startup::build_router(state);
    tokio::spawn(async move {
        server::startup::serve(listener, router, std::future::pending())
            .await
            .unwrap();
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn answers_carrying_secrets_are_never_stored_and_https_is_kept() {
    let app = TestApp::spawn().await;
    // The token, a new API key and a webhook secret: no cache may keep them.
    let res = app
        .token_response("acme", &app.acme.owner_email, crate::helpers::PASSWORD)
        .await;
    assert_eq!(res.headers()["cache-control"], "no-store");
    let token = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for (path, body) in [
        (
            "/v1/api-keys",
            json!({"name": "cached?", "scopes": ["identities:read"]}),
        ),
        (
            "/v1/webhooks",
            json!({"name": "cached?", "url": crate::helpers::receiver().url("nostore"), "event_types": ["identity.*"]}),
        ),
    ] {
        let res = app
            .send(reqwest::Method::POST, path, Some(&token), Some(body))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
    }
    // The console's assets may be cached; the loopback test server sets no HSTS.
    let res = app.get("/healthz", None).await;
    assert!(res.headers().get("strict-transport-security").is_none());

    // With secure cookies (a server reached over HTTPS), browsers are told to stay on it.
    let secure = serve_with(
        &app,
        server::config::ServeArgs {
            cookie_secure: Some(true),
            ..crate::helpers::serve_args()
        },
    )
    .await;
    let res = reqwest::get(format!("{secure}/healthz")).await.unwrap();
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn metrics_ask_for_their_token_when_one_is_set() {
    let app = TestApp::spawn().await;
    let base = serve_with(
        &app,
        server::config::ServeArgs {
            metrics_token: Some("scrape-me-0123456789".into()),
            ..crate::helpers::serve_args()
        },
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{base}/metrics");
    assert_eq!(
        client.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        client
            .get(&url)
            .bearer_auth("wrong-token")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let res = client
        .get(&url)
        .bearer_auth("scrape-me-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("db_pool_connections"));
}

#[tokio::test]
async fn pages_carry_a_content_security_policy_with_a_fresh_nonce() {
    let app = TestApp::spawn().await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let res = app.get("/login", None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let html = res.text().await.unwrap();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a nonce in the policy")
            .to_owned();
        assert!(nonce.len() >= 16, "{csp}");
        for directive in [
            "default-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "'wasm-unsafe-eval'",
        ] {
            assert!(csp.contains(directive), "{directive} missing from {csp}");
        }
        assert!(!csp.contains("'unsafe-eval'") && !csp.contains("script-src 'unsafe-inline'"));
        // Every inline script of the page carries that nonce.
        let scripts = html.matches("<script").count();
        let nonced = html.matches(&format!("nonce=\"{nonce}\"")).count();
        assert!(
            scripts >= 1 && nonced >= scripts,
            "{scripts} scripts, {nonced} with the nonce"
        );
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1], "a nonce is used once");
}

/// Whether a fresh connection to `url` answers a query.
async fn answers(url: &str) -> bool {
    match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sqlx::PgConnection::connect(url),
    )
    .await
    {
        Ok(Ok(mut conn)) => sqlx::query("select 1").execute(&mut conn).await.is_ok(),
        _ => false,
    }
}

#[tokio::test]
async fn an_embedded_cluster_killed_under_the_server_is_started_again_and_a_stop_is_final() {
    use server::embedded_pg::{EmbeddedPostgres, Options};
    let dir = std::env::temp_dir().join(format!("tenantry-test-{}-restart", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start_dir = dir.clone();
    let mut pg = tokio::task::spawn_blocking(move || {
        EmbeddedPostgres::start(&start_dir, Options { ephemeral: true })
    })
    .await
    .unwrap()
    .unwrap();
    let url = pg.url("postgres");
    assert!(answers(&url).await);
    let first = pg.pid().expect("we started it");

    // Killed as the OOM killer or a stray `pkill` would: no shutdown, no warning.
    // SAFETY: a signal to the postmaster this test started.
    assert_eq!(unsafe { libc::kill(first, libc::SIGKILL) }, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if pg.pid() != Some(first) && answers(&url).await {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the cluster did not come back within 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Stopped on purpose, it stays down.
    let mut pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(!answers(&url).await, "a stopped cluster was started again");
    pg.stop();
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
}
