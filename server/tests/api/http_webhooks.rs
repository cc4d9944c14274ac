//! Webhooks over HTTP, delivered to a real receiver that checks every signature with the
//! official Standard Webhooks library (npm `standardwebhooks`): subscriptions and their
//! secrets, matching, signing and rotation, retries and automatic disabling, the SSRF
//! guard, the delivery log, retry, replay, test pings and stats.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::identities::{self, NewIdentity};
use sqlx::Connection;
use uuid::Uuid;

use crate::helpers::{TestApp, owner_ctx, receiver};

/// A unique endpoint name for one test.
fn endpoint(label: &str) -> String {
    format!("{label}-{}", Uuid::now_v7().simple())
}

/// Creates a webhook named `name` posting to the receiver's endpoint `endpoint`, which is
/// told its secret and answers 200.
async fn create_webhook(
    app: &TestApp,
    token: &str,
    name: &str,
    endpoint: &str,
    types: &[&str],
) -> Value {
    let rx = receiver();
    let res = app
        .send(
            Method::POST,
            "/v1/webhooks",
            Some(token),
            Some(json!({"name": name, "url": rx.url(endpoint), "event_types": types})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    rx.configure(endpoint, &[created["secret"].as_str().unwrap()], 200, 0)
        .await;
    created
}

async fn new_identity(app: &TestApp, email: &str) -> Uuid {
    let owner = owner_ctx(&app.db, &app.acme).await;
    identities::create(
        &owner,
        &app.db,
        NewIdentity {
            email: Some(email.into()),
            display_name: Some(email.split('@').next().unwrap().into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.get(path, Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

/// Waits until the webhook's deliveries all left `pending`, and returns them.
async fn settled_deliveries(app: &TestApp, token: &str, id: &str, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let list = get_json(app, token, &format!("/v1/webhooks/{id}/deliveries")).await;
        let items = list["items"].as_array().unwrap().clone();
        let settled = items.len() >= count && items.iter().all(|d| d["status"] != "pending");
        if settled || std::time::Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn matching_events_arrive_signed_and_are_logged() {
    let app = TestApp::spawn().await;
    let _worker = app.start_webhook_worker();
    let token = app.owner_token(&app.acme).await;
    let rx = receiver();
    let name = endpoint("match");
    let created = create_webhook(&app, &token, "CRM sync", &name, &["identity.*"]).await;
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{created}");
    let id = created["id"].as_str().unwrap();

    let ada = new_identity(&app, "ada@acme.test").await;
    // Not an identity event: not delivered.
    service::groups::create(
        &owner_ctx(&app.db, &app.acme).await,
        &app.db,
        service::groups::GroupInput {
            name: Some("Analysts".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let got = rx.wait_for(&name, 1, 60).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let msg = &got[0];
    assert_eq!(
        msg["verified"],
        json!([true]),
        "the library accepts the signature"
    );
    assert_eq!(msg["type"], "identity.created");
    assert_eq!(msg["body"]["data"]["id"], ada.to_string());
    assert_eq!(msg["body"]["data"]["data"]["email"], "ada@acme.test");
    // The body's id is the event's, as /v1/events shows it.
    let event = get_json(
        &app,
        &token,
        &format!("/v1/events/{}", msg["event_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(event["type"], "identity.created");

    let deliveries = settled_deliveries(&app, &token, id, 1).await;
    assert_eq!(
        deliveries.len(),
        1,
        "only the identity event: {deliveries:?}"
    );
    let d = &deliveries[0];
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["last_status"], 200);
    assert_eq!(
        d["id"], msg["webhook_id"],
        "webhook-id is the delivery's id"
    );
    let detail = get_json(
        &app,
        &token,
        &format!("/v1/webhooks/deliveries/{}", d["id"].as_str().unwrap()),
    )
    .await;
    let log = detail["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["succeeded"], true);
    assert_eq!(log[0]["status_code"], 200);
    assert_eq!(log[0]["response_snippet"], r#"{"ok":true}"#);

    // The secret is shown once: never in reads, and sealed at rest.
    let read = get_json(&app, &token, &format!("/v1/webhooks/{id}")).await;
    assert!(read.get("secret").is_none(), "{read}");
    let list = app
        .get("/v1/webhooks", Some(&token))
        .await
        .text()
        .await
        .unwrap();
    assert!(!list.contains(secret));
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let sealed: Vec<u8> = sqlx::query_scalar("select secret_sealed from webhook_subscriptions")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let key = &secret["whsec_".len()..];
    assert!(!String::from_utf8_lossy(&sealed).contains(key));
    assert!(
        !sealed
            .windows(8)
            .any(|w| key.as_bytes().windows(8).any(|k| k == w))
    );
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_during_the_overlap() {
    let app = TestApp::spawn().await;
    let _worker = app.start_webhook_worker();
    let token = app.owner_token(&app.acme).await;
    let rx = receiver();
    let name = endpoint("rotate");
    let created = create_webhook(&app, &token, "Rotating", &name, &["identity.created"]).await;
    let id = created["id"].as_str().unwrap();
    let old = created["secret"].as_str().unwrap().to_owned();

    let res = app
        .send(
            Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            Some(&token),
            Some(json!({"overlap_seconds": 3600})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let rotated: Value = res.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_until"].is_string(), "{rotated}");

    // Both secrets verify a message sent during the overlap.
    rx.configure(&name, &[&old, &new], 200, 0).await;
    new_identity(&app, "during@acme.test").await;
    let got = rx.wait_for(&name, 1, 60).await;
    assert_eq!(got[0]["verified"], json!([true, true]), "{got:?}");
    assert_eq!(
        got[0]["signature"].as_str().unwrap().split(' ').count(),
        2,
        "two signatures"
    );

    // Rotating with no overlap: only the newest secret signs.
    let res = app
        .send(
            Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            Some(&token),
            Some(json!({"overlap_seconds": 0})),
        )
        .await;
    let newest: Value = res.json().await.unwrap();
    let newest = newest["secret"].as_str().unwrap().to_owned();
    rx.configure(&name, &[&new, &newest], 200, 0).await;
    new_identity(&app, "after@acme.test").await;
    let got = rx.wait_for(&name, 2, 60).await;
    assert_eq!(got[1]["verified"], json!([false, true]), "{got:?}");

    // Out-of-range overlaps are refused; rotation is audited without the secret.
    let res = app
        .send(
            Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            Some(&token),
            Some(json!({"overlap_seconds": 30 * 86400})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let events = get_json(&app, &token, "/v1/events?type=webhook.secret_rotated").await;
    assert_eq!(events["items"].as_array().unwrap().len(), 2);
    assert!(!events.to_string().contains("whsec_"));
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_then_disabled_and_the_tenant_told() {
    let app = TestApp::spawn().await;
    let _worker = app.start_webhook_worker();
    let token = app.owner_token(&app.acme).await;
    let rx = receiver();
    let name = endpoint("failing");
    let created = create_webhook(&app, &token, "Flaky", &name, &["identity.*"]).await;
    let id = created["id"].as_str().unwrap();
    rx.configure(&name, &[created["secret"].as_str().unwrap()], 503, 0)
        .await;

    new_identity(&app, "retried@acme.test").await;
    // The test schedule is "1s,1s": three attempts, then the delivery has failed.
    let deliveries = settled_deliveries(&app, &token, id, 1).await;
    let d = &deliveries[0];
    assert_eq!(d["status"], "failed", "{d}");
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["last_status"], 503);
    let got = rx.received(&name).await;
    assert_eq!(got.len(), 3);
    assert!(
        got.iter().all(|m| m["webhook_id"] == d["id"]),
        "every attempt carries the same webhook-id"
    );
    let detail = get_json(
        &app,
        &token,
        &format!("/v1/webhooks/deliveries/{}", d["id"].as_str().unwrap()),
    )
    .await;
    let log = detail["attempt_log"].as_array().unwrap();
    assert_eq!(
        log.iter()
            .map(|a| a["attempt"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        log.iter()
            .all(|a| a["error"] == "HTTP 503 Service Unavailable"),
        "{log:?}"
    );

    // It never succeeded: the server disabled it, and said so. The worker disables it in
    // its own transaction just after recording the last failure: wait for that.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let webhook = loop {
        let webhook = get_json(&app, &token, &format!("/v1/webhooks/{id}")).await;
        if webhook["enabled"] == false || std::time::Instant::now() > deadline {
            break webhook;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(webhook["enabled"], false, "{webhook}");
    assert!(webhook["disabled_reason"].is_string());
    let events = get_json(&app, &token, "/v1/events?type=webhook.disabled").await;
    assert_eq!(events["items"][0]["subject"]["id"], id);
    assert_eq!(events["items"][0]["actor_type"], "system");

    // A disabled webhook's deliveries are not retried until it is enabled again.
    let retry = format!(
        "/v1/webhooks/deliveries/{}/retry",
        d["id"].as_str().unwrap()
    );
    let res = app.send(Method::POST, &retry, Some(&token), None).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    rx.configure(&name, &[created["secret"].as_str().unwrap()], 200, 0)
        .await;
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            Some(&token),
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let enabled: Value = res.json().await.unwrap();
    assert_eq!(enabled["disabled_reason"], Value::Null);
    let res = app.send(Method::POST, &retry, Some(&token), None).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let got = rx.wait_for(&name, 4, 60).await;
    assert_eq!(got.len(), 4);
    assert_eq!(got[3]["webhook_id"], d["id"]);
    let deliveries = settled_deliveries(&app, &token, id, 1).await;
    assert_eq!(deliveries[0]["status"], "succeeded");
    assert_eq!(deliveries[0]["attempts"], 4);
}

#[tokio::test]
async fn urls_reaching_private_addresses_are_refused_unless_allowed() {
    let app = TestApp::spawn().await;
    let guarded = app.spawn_second_guarded().await;
    let token = app.owner_token(&app.acme).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "http://[fd00:ec2::254]/hook",
    ] {
        let res = guarded
            .send(
                Method::POST,
                "/v1/webhooks",
                Some(&token),
                Some(json!({"name": "x", "url": url, "event_types": ["*"]})),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], "url", "{body}");
        assert_eq!(body["errors"][0]["code"], "refused", "{body}");
    }
    // Where the operator allows private addresses (this test server), they are accepted;
    // the guarded instance still refuses to connect to them at delivery time.
    let rx = receiver();
    let name = endpoint("guarded");
    let created = create_webhook(&app, &token, "Local", &name, &["*"]).await;
    let id = created["id"].as_str().unwrap();
    let res = guarded
        .send(
            Method::POST,
            &format!("/v1/webhooks/{id}/test"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let ping: Value = res.json().await.unwrap();
    assert_eq!(ping["attempt"]["succeeded"], false, "{ping}");
    assert!(
        ping["attempt"]["error"]
            .as_str()
            .unwrap()
            .contains("private"),
        "{ping}"
    );
    assert!(rx.received(&name).await.is_empty());
    // Names are unique in the tenant.
    let res = app
        .send(
            Method::POST,
            "/v1/webhooks",
            Some(&token),
            Some(json!({"name": "Local", "url": rx.url(&name), "event_types": ["*"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "name_taken", "{body}");
    // Bad input is named on its field.
    let res = app
        .send(
            Method::POST,
            "/v1/webhooks",
            Some(&token),
            Some(json!({"name": "", "url": "ftp://x", "event_types": ["nothing.*"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "url", "event_types"], "{body}");
}

#[tokio::test]
async fn pings_replays_and_stats() {
    let app = TestApp::spawn().await;
    let _worker = app.start_webhook_worker();
    let token = app.owner_token(&app.acme).await;
    let rx = receiver();
    let name = endpoint("replay");
    let before = time::OffsetDateTime::now_utc();
    // Events from before the webhook existed.
    new_identity(&app, "early1@acme.test").await;
    new_identity(&app, "early2@acme.test").await;
    let created = create_webhook(&app, &token, "Replayed", &name, &["identity.created"]).await;
    let id = created["id"].as_str().unwrap();

    // A test ping: answered at once, logged as a delivery.
    let res = app
        .send(
            Method::POST,
            &format!("/v1/webhooks/{id}/test"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let ping: Value = res.json().await.unwrap();
    assert_eq!(ping["attempt"]["succeeded"], true, "{ping}");
    assert_eq!(ping["delivery"]["event_type"], "webhook.test");
    let got = rx.wait_for(&name, 1, 60).await;
    assert_eq!(got[0]["type"], "webhook.test");
    assert_eq!(got[0]["verified"], json!([true]));

    // Replay the range: both earlier identities arrive; again: the same webhook-ids.
    let after = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let range = json!({
        "from": before.format(&time::format_description::well_known::Rfc3339).unwrap(),
        "to": after.format(&time::format_description::well_known::Rfc3339).unwrap(),
    });
    let replay = format!("/v1/webhooks/{id}/replay");
    let res = app
        .send(Method::POST, &replay, Some(&token), Some(range.clone()))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let queued: Value = res.json().await.unwrap();
    assert_eq!(queued["queued"], 2);
    let got = rx.wait_for(&name, 3, 60).await;
    let first: Vec<Value> = got[1..3].iter().map(|m| m["webhook_id"].clone()).collect();
    let emails: Vec<&str> = got[1..3]
        .iter()
        .map(|m| m["body"]["data"]["data"]["email"].as_str().unwrap())
        .collect();
    assert!(emails.contains(&"early1@acme.test") && emails.contains(&"early2@acme.test"));
    settled_deliveries(&app, &token, id, 3).await;
    let res = app
        .send(Method::POST, &replay, Some(&token), Some(range))
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let got = rx.wait_for(&name, 5, 60).await;
    let mut again: Vec<Value> = got[3..5].iter().map(|m| m["webhook_id"].clone()).collect();
    let mut first = first;
    first.sort_by_key(|v| v.to_string());
    again.sort_by_key(|v| v.to_string());
    assert_eq!(first, again, "a replay keeps each delivery's webhook-id");

    // Stats: every attempt succeeded, with latency percentiles.
    settled_deliveries(&app, &token, id, 3).await;
    let stats = get_json(&app, &token, &format!("/v1/webhooks/stats?webhook_id={id}")).await;
    let s = &stats["webhooks"][0];
    assert_eq!(s["attempts"], 5, "{stats}");
    assert_eq!(s["succeeded"], 5);
    assert_eq!(s["success_rate"], 1.0);
    assert_eq!(stats["total"]["attempts"], 5, "{stats}");
    assert_eq!(stats["total"]["p95_ms"], s["p95_ms"]);
    assert!(s["p50_ms"].as_f64().unwrap() >= 0.0);
    assert!(s["p95_ms"].as_f64().unwrap() >= s["p50_ms"].as_f64().unwrap());
    let series = stats["series"].as_array().unwrap();
    assert_eq!(
        series
            .iter()
            .map(|b| b["succeeded"].as_i64().unwrap())
            .sum::<i64>(),
        5
    );
    // Replays are audited.
    let events = get_json(&app, &token, "/v1/events?type=webhook.replayed").await;
    assert_eq!(events["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_disabled_webhook_pauses_its_deliveries_and_resumes_them() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    let rx = receiver();
    let name = endpoint("paused");
    let created = create_webhook(&app, &token, "Paused", &name, &["identity.created"]).await;
    let id = created["id"].as_str().unwrap();
    // No worker yet: the delivery waits.
    new_identity(&app, "queued@acme.test").await;
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            Some(&token),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let list = get_json(&app, &token, &format!("/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(list["items"][0]["status"], "paused");
    // Disabled: new events make no delivery at all, and the paused one is not sent. A
    // second, enabled webhook shows when the worker has been round: once its message is in,
    // the paused delivery (due earlier) would have gone out too if it could.
    let control = endpoint("control");
    create_webhook(&app, &token, "Control", &control, &["identity.created"]).await;
    new_identity(&app, "ignored@acme.test").await;
    let list = get_json(&app, &token, &format!("/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let _worker = app.start_webhook_worker();
    assert_eq!(rx.wait_for(&control, 1, 60).await.len(), 1);
    assert!(rx.received(&name).await.is_empty());
    app.send(
        Method::PATCH,
        &format!("/v1/webhooks/{id}"),
        Some(&token),
        Some(json!({"enabled": true})),
    )
    .await;
    let got = rx.wait_for(&name, 1, 60).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["body"]["data"]["data"]["email"], "queued@acme.test");
    // Deleting the webhook removes its log.
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/webhooks/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let left: i64 =
        sqlx::query_scalar("select count(*) from webhook_deliveries where subscription_id = $1")
            .bind(Uuid::parse_str(id).unwrap())
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn webhooks_need_their_permissions() {
    let app = TestApp::spawn().await;
    let (_, member) = app.member(&app.acme, "member").await;
    let member_token = app.token(&app.acme.slug, &member).await;
    let res = app
        .send(
            Method::POST,
            "/v1/webhooks",
            Some(&member_token),
            Some(json!({"name": "x", "url": "https://hooks.example.com", "event_types": ["*"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.get("/v1/webhooks", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
