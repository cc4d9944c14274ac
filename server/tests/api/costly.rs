//! Costly work after cheap checks, with a bound: a bogus token is turned away before any
//! password is hashed, the routes that hash for anonymous callers are throttled per client
//! address, and a request that goes away midway gives its throttle slot back.

use reqwest::{Method, StatusCode};
use serde_json::json;
use service::auth::throttle;

use crate::helpers::{TestApp, problem};

/// A well-formed invitation token that opens nothing.
fn bogus_invitation(app: &TestApp) -> String {
    use base64::Engine;
    let mut raw = Vec::new();
    raw.extend_from_slice(app.acme.id.as_bytes());
    raw.extend_from_slice(uuid::Uuid::now_v7().as_bytes());
    raw.extend_from_slice(&[7u8; 32]);
    format!(
        "iv1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

#[tokio::test]
async fn a_bogus_token_is_refused_before_its_input_is_read() {
    let app = TestApp::spawn().await;
    // A password too short and an empty name: the token is what is looked at first.
    let res = app
        .send(
            Method::POST,
            "/v1/invitations/accept",
            None,
            Some(json!({"token": bogus_invitation(&app), "display_name": "", "password": "short"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .send(
            Method::POST,
            "/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": "pr1.AAAA", "new_password": "short"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "reset_link_invalid");
}

#[tokio::test]
async fn bogus_accepts_from_one_address_are_throttled_like_sign_ins() {
    let app = TestApp::spawn().await;
    let token = bogus_invitation(&app);
    let accept = || {
        app.send(
            Method::POST,
            "/v1/invitations/accept",
            None,
            Some(json!({"token": token, "display_name": "Mallory", "password": "a long enough password"})),
        )
    };
    for i in 0..50 {
        let res = accept().await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "attempt {i}");
    }
    let res = accept().await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    // The address is the same one sign-in counts: it is locked there too.
    let res = app
        .token_response("acme", &app.acme.owner_email, crate::helpers::PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_attempt_dropped_midway_gives_its_slot_back() {
    let app = TestApp::spawn().await;
    let key = throttle::Key::ip("203.0.113.9".parse().unwrap());
    let inflight = || async {
        sqlx::query_scalar::<_, i32>(
            "select inflight from login_throttle where key = 'ip:203.0.113.9'",
        )
        .fetch_one(app.db.pool_for_tests())
        .await
        .unwrap()
    };
    let admitted = throttle::attempt(app.db.pool_for_tests(), std::slice::from_ref(&key))
        .await
        .unwrap();
    assert_eq!(inflight().await, 1);
    drop(admitted); // the request went away before it finished
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while inflight().await != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the slot never came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Nothing was counted as a failure.
    let failures: i32 =
        sqlx::query_scalar("select failures from login_throttle where key = 'ip:203.0.113.9'")
            .fetch_one(app.db.pool_for_tests())
            .await
            .unwrap();
    assert_eq!(failures, 0);
}
