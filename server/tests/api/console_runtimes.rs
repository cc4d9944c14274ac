//! The console renders on runtimes of its own: many renders at once all finish, and a console
//! runtime that stops (as a deadlock in the renderer would stop it) neither stops the API nor
//! goes unnoticed.

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{TestApp, serve_args};

/// Waits (up to 30 s) until exactly `names` of the console runtimes count as stalled.
async fn until_stalled(app: &TestApp, names: &[&str]) {
    let start = std::time::Instant::now();
    loop {
        let stalled = app.renderers.stalled();
        if stalled == names {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "stalled: {stalled:?}, waiting for {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn page(client: &reqwest::Client, app: &TestApp) -> (StatusCode, String) {
    let res = client
        .get(app.url("/identities"))
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("the console answers");
    let status = res.status();
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn a_stopped_console_runtime_stops_neither_the_api_nor_the_console() {
    let app = TestApp::spawn_with_args(server::config::ServeArgs {
        console_runtimes: 2,
        console_stall_secs: 2,
        ..serve_args()
    })
    .await;
    let token = app.owner_token(&app.acme).await;
    let browser = app
        .console_session(&app.acme.slug, &app.acme.owner_email)
        .await;
    let (status, html) = page(&browser, &app).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&app.acme.owner_email), "the list renders");
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);

    // One runtime stops.
    let release_first = app.renderers.block_for_tests(0);
    until_stalled(&app, &["console-0"]).await;
    let res = app.get("/readyz", None).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.text().await.unwrap(), "console renderer stalled");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l == "console_runtimes_stalled 1"),
        "{metrics}"
    );
    assert_eq!(
        app.get("/v1/me", Some(&token)).await.status(),
        StatusCode::OK
    );
    // The console keeps rendering, on the other runtime, every time.
    for _ in 0..4 {
        let (status, html) = page(&browser, &app).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(&app.acme.owner_email));
    }

    // Both stop: the console says so at once, the API still answers.
    let release_second = app.renderers.block_for_tests(1);
    until_stalled(&app, &["console-0", "console-1"]).await;
    let res = browser
        .get(app.url("/identities"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("answered at once, not left waiting");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "5");
    let res = browser
        .post(app.url("/api/auth/login"))
        .header("origin", app.url(""))
        .timeout(Duration::from_secs(5))
        .form(&[
            ("tenant", "acme"),
            ("email", "x@acme.test"),
            ("password", "x"),
        ])
        .send()
        .await
        .expect("server functions too are answered at once");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.get("/v1/me", Some(&token)).await.status(),
        StatusCode::OK
    );

    // Back: ready again and rendering.
    drop(release_first);
    drop(release_second);
    until_stalled(&app, &[]).await;
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    let (status, _) = page(&browser, &app).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn many_console_renders_at_once_all_finish_while_the_api_answers() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    let browser = app
        .console_session(&app.acme.slug, &app.acme.owner_email)
        .await;
    let pages = [
        "/identities",
        "/roles",
        "/groups",
        "/policies",
        "/invitations",
        "/audit",
        "/webhooks",
        "/memories",
    ];
    let renders = (0..48).map(|i| {
        let browser = browser.clone();
        let url = app.url(pages[i % pages.len()]);
        tokio::spawn(async move {
            let res = browser
                .get(url.clone())
                .timeout(Duration::from_secs(60))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            (url, res.status())
        })
    });
    let renders: Vec<_> = renders.collect();
    // The API answers while they render.
    for _ in 0..10 {
        assert_eq!(
            app.get("/v1/me", Some(&token)).await.status(),
            StatusCode::OK
        );
    }
    for render in renders {
        let (url, status) = render.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{url}");
    }
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
}
