//! The export workers: a request only queues an export; a worker makes it, takes again one
//! whose worker went away (its lease ran out), and gives up after three interruptions.

use std::time::{Duration, Instant};

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::TestApp;
use crate::privacy::superuser;

/// Waits (up to 30 s) until export `id` is `want`; returns its attempts.
async fn until(app: &TestApp, id: Uuid, want: &str) -> i32 {
    let start = Instant::now();
    loop {
        let (status, attempts): (String, i32) =
            sqlx::query_as("select status, attempts from privacy_exports where id = $1")
                .bind(id)
                .fetch_one(&mut superuser(app).await)
                .await
                .unwrap();
        if status == want {
            return attempts;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "export {id} is {status}, not {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Makes export `id` look as a worker that went away leaves it: running, its lease run
/// out, no document; `attempts` claims so far. Then wakes the workers.
async fn interrupt(app: &TestApp, id: Uuid, attempts: i32) {
    let mut conn = superuser(app).await;
    sqlx::query(
        "update privacy_exports
         set status = 'running', document = null, size_bytes = null, progress = 35,
             step = 'API keys and SSO links', finished_at = null,
             lease_until = now() - interval '1 second', attempts = $2
         where id = $1",
    )
    .bind(id)
    .bind(attempts)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("select pg_notify('tenantry_exports', '')")
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_interrupted_export_is_taken_again_and_given_up_after_three_tries() {
    let app = TestApp::spawn().await;
    let owner = crate::helpers::owner_ctx(&app.db, &app.acme).await;
    let (person, _) = app.member(&app.acme, "member").await;
    let id = service::privacy::export::start(&owner, &app.db, person)
        .await
        .unwrap()
        .export
        .id;
    // Made by a worker, on its first claim.
    assert_eq!(until(&app, id, "ready").await, 1);

    // Its worker went away half-way: another claim finishes it.
    interrupt(&app, id, 1).await;
    assert_eq!(until(&app, id, "ready").await, 2);
    let stored: Option<Vec<u8>> =
        sqlx::query_scalar("select document from privacy_exports where id = $1")
            .bind(id)
            .fetch_one(&mut superuser(&app).await)
            .await
            .unwrap();
    assert!(stored.is_some_and(|d| !d.is_empty()));

    // A running export whose lease has not run out is left to its worker.
    let mut conn = superuser(&app).await;
    sqlx::query(
        "update privacy_exports set status = 'running', lease_until = now() + interval '1 hour'
         where id = $1",
    )
    .bind(id)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("select pg_notify('tenantry_exports', '')")
        .execute(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(until(&app, id, "running").await, 2);

    // Interrupted three times: given up, and the requester is told why.
    interrupt(&app, id, 3).await;
    until(&app, id, "failed").await;
    let t = app.token(&app.acme.slug, &app.acme.owner_email).await;
    let status: Value = app
        .get(&format!("/v1/privacy/exports/{id}"), Some(&t))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "failed", "{status}");
    assert!(
        status["error"].as_str().unwrap().contains("interrupted"),
        "{status}"
    );
}
