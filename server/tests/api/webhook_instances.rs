//! Several server instances share the webhook deliveries of one database: in normal
//! operation every event reaches the receiver exactly once; when an instance is killed
//! with SIGKILL mid-run, every event still arrives, and a message that arrives twice
//! carries the same webhook-id both times.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::identities::{self, NewIdentity};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, owner_ctx, receiver};

const EVENTS: usize = 1000;

/// Creates `EVENTS` identities (one `identity.created` event each), four at a time.
async fn make_events(app: &TestApp, label: &str) {
    let owner = owner_ctx(&app.db, &app.acme).await;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..4 {
        let (db, owner, label) = (app.db.clone(), owner.clone(), label.to_owned());
        tasks.spawn(async move {
            for i in (worker..EVENTS).step_by(4) {
                identities::create(
                    &owner,
                    &db,
                    NewIdentity {
                        email: Some(format!("{label}-{i}@acme.test")),
                        display_name: Some(format!("{label} {i}")),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// Waits until endpoint `name` has received `EVENTS` distinct events (up to `secs`).
async fn wait_for_all(name: &str, secs: u64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = receiver().received(name).await;
        let distinct: HashSet<&str> = got.iter().filter_map(|m| m["event_id"].as_str()).collect();
        if distinct.len() >= EVENTS || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the database holds `count` deliveries, all succeeded (up to `secs`).
async fn all_succeeded(db_url: &str, count: usize, secs: u64) {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(db_url)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (all, succeeded): (i64, i64) = sqlx::query_as(
            "select count(*), count(*) filter (where status = 'succeeded') from webhook_deliveries",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if all == count as i64 && succeeded == all {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{succeeded} of {all} deliveries succeeded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every message verified by the library, and each webhook-id always carrying one event.
fn check_messages(got: &[Value]) -> (usize, usize) {
    let mut by_webhook_id: HashMap<&str, &str> = HashMap::new();
    for m in got {
        assert_eq!(m["verified"], json!([true]), "{m}");
        let webhook_id = m["webhook_id"].as_str().unwrap();
        let event_id = m["event_id"].as_str().unwrap();
        let first = by_webhook_id.entry(webhook_id).or_insert(event_id);
        assert_eq!(
            *first, event_id,
            "webhook-id {webhook_id} carried two events"
        );
    }
    let events: HashSet<&str> = by_webhook_id.values().copied().collect();
    (by_webhook_id.len(), events.len())
}

#[tokio::test]
async fn two_instances_deliver_every_event_exactly_once() {
    let a = TestApp::spawn().await;
    let b = a.spawn_second().await;
    let _worker_a = a.start_webhook_worker();
    let _worker_b = b.start_webhook_worker();
    let token = a.owner_token(&a.acme).await;
    let rx = receiver();
    let name = format!("twice-{}", Uuid::now_v7().simple());
    let res = a
        .send(
            Method::POST,
            "/v1/webhooks",
            Some(&token),
            Some(
                json!({"name": "Both", "url": rx.url(&name), "event_types": ["identity.created"]}),
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    rx.configure(&name, &[created["secret"].as_str().unwrap()], 200, 0)
        .await;

    make_events(&a, "once").await;
    let got = wait_for_all(&name, 120).await;
    // Once every delivery is recorded as succeeded, no worker may claim one again, and any
    // attempt already made (a duplicate too) reached the receiver before it was answered:
    // what the receiver holds then is final.
    all_succeeded(&a.db_url, EVENTS, 120).await;
    let got_after = rx.received(&name).await;
    assert_eq!(got_after.len(), got.len(), "nothing arrived late");
    let (ids, events) = check_messages(&got_after);
    assert_eq!(events, EVENTS, "every event arrived");
    assert_eq!(ids, EVENTS, "one delivery per event");
    assert_eq!(got_after.len(), EVENTS, "and each exactly once");

    // Both instances did part of the work? Each attempt is logged once.
    let attempts: i64 = sqlx::query_scalar("select count(*) from webhook_attempts")
        .fetch_one(
            &mut <sqlx::PgConnection as sqlx::Connection>::connect(&a.db_url)
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(attempts, EVENTS as i64);
}

/// A `tenantry serve` process on the test database, delivering webhooks.
struct Instance {
    child: Child,
    port: u16,
}

impl Instance {
    fn start(db_url: &str, master_spec: &str, data_dir: &std::path::Path) -> Instance {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
            .arg("serve")
            .env("DATABASE_URL", db_url)
            .env("TENANTRY_MASTER_KEY", master_spec)
            .env("TENANTRY_DATA_DIR", data_dir)
            .env("TENANTRY_ADDR", format!("127.0.0.1:{port}"))
            .env("TENANTRY_SEED_DEMO", "false")
            .env("TENANTRY_COOKIE_SECURE", "false")
            .env("TENANTRY_WEBHOOKS_ALLOW_PRIVATE", "true")
            .env("TENANTRY_WEBHOOKS_WORKERS", "2")
            .env("TENANTRY_WEBHOOKS_RETRY_SCHEDULE", "1s,1s,1s")
            .env("TENANTRY_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(
                    std::env::temp_dir().join(format!("tenantry-instance-{port}.log")),
                )
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .expect("start tenantry serve");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "tenantry serve did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Instance { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn an_instance_killed_mid_delivery_loses_nothing() {
    let (master, spec) = service::crypto::MasterKey::generate();
    let app = TestApp::spawn_with_key(master).await;
    let dir = std::env::temp_dir().join(format!("tenantry-kill-{}", Uuid::now_v7().simple()));
    let mut doomed = Instance::start(&app.db_url, &spec, &dir);
    let survivor = Instance::start(&app.db_url, &spec, &dir);

    // The webhook is made through the processes (their master key seals its secret).
    let client = reqwest::Client::new();
    let token: Value = client
        .post(survivor.url("/v1/auth/token"))
        .json(&json!({"tenant": "acme", "email": app.acme.owner_email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let rx = receiver();
    let name = format!("killed-{}", Uuid::now_v7().simple());
    let created: Value = client
        .post(survivor.url("/v1/webhooks"))
        .bearer_auth(token)
        .json(
            &json!({"name": "Survives", "url": rx.url(&name), "event_types": ["identity.created"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // A slow receiver keeps many attempts in flight when the instance dies.
    rx.configure(&name, &[created["secret"].as_str().unwrap()], 200, 150)
        .await;

    let events = tokio::spawn({
        let app_db = app.db.clone();
        let acme = app.acme.clone();
        async move {
            let owner = owner_ctx(&app_db, &acme).await;
            for i in 0..EVENTS {
                identities::create(
                    &owner,
                    &app_db,
                    NewIdentity {
                        email: Some(format!("killed-{i}@acme.test")),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            }
        }
    });
    // Kill one instance once deliveries are under way.
    let deadline = Instant::now() + Duration::from_secs(120);
    while rx.received(&name).await.len() < 200 {
        assert!(Instant::now() < deadline, "deliveries did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    doomed.child.kill().unwrap(); // SIGKILL
    doomed.child.wait().unwrap();
    events.await.unwrap();

    let got = wait_for_all(&name, 180).await;
    let (ids, distinct_events) = check_messages(&got);
    assert_eq!(distinct_events, EVENTS, "every event arrived");
    assert_eq!(ids, EVENTS, "one webhook-id per event");
    eprintln!(
        "{} messages for {EVENTS} events: {} redelivered after the kill, each with its webhook-id",
        got.len(),
        got.len() - EVENTS
    );
    let _ = std::fs::remove_dir_all(&dir);
}
