//! The export workers: a request only queues an export; a worker makes it, takes again one
//! whose worker went away (its lease ran out), gives up after three interruptions, and a
//! worker whose export was taken from it writes nothing more. What becomes of an export is
//! audited as the server's own work.

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

/// Wakes the export workers (as asking for an export does).
async fn wake(conn: &mut sqlx::PgConnection) {
    sqlx::query("select pg_notify('tenantry_exports', '')")
        .execute(conn)
        .await
        .unwrap();
}

/// The actor type and data of the audit records of `action` about export `id`.
async fn audited(app: &TestApp, action: &str, id: Uuid) -> Vec<(String, Value)> {
    sqlx::query_as(
        "select actor_type, after from audit_log
         where action = $1 and after ->> 'export_id' = $2 order by id",
    )
    .bind(action)
    .bind(id.to_string())
    .fetch_all(&mut superuser(app).await)
    .await
    .unwrap()
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
    wake(&mut conn).await;
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
    // Made by a worker, on its first claim, and audited as the server's work.
    assert_eq!(until(&app, id, "ready").await, 1);
    let ready = audited(&app, "identity.export_ready", id).await;
    assert_eq!(ready.len(), 1, "{ready:?}");
    assert_eq!(ready[0].0, "system");
    assert!(ready[0].1["size_bytes"].as_i64().unwrap() > 0, "{ready:?}");

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
    wake(&mut conn).await;
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
    let failed = audited(&app, "identity.export_failed", id).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].1["reason"], "interrupted", "{failed:?}");
    assert_eq!(audited(&app, "identity.export_ready", id).await.len(), 2);
}

#[tokio::test]
async fn a_worker_whose_export_was_taken_from_it_writes_nothing_more() {
    use sqlx::Connection;
    let app = TestApp::spawn().await;
    let owner = crate::helpers::owner_ctx(&app.db, &app.acme).await;
    let (person, _) = app.member(&app.acme, "member").await;
    // The worker is held up as it reads the person's groups: the table is locked.
    let mut holder = superuser(&app).await;
    let mut lock = holder.begin().await.unwrap();
    sqlx::query("lock table group_members in access exclusive mode")
        .execute(&mut *lock)
        .await
        .unwrap();
    let id = service::privacy::export::start(&owner, &app.db, person)
        .await
        .unwrap()
        .export
        .id;
    let start = Instant::now();
    loop {
        let step: String = sqlx::query_scalar("select step from privacy_exports where id = $1")
            .bind(id)
            .fetch_one(&mut superuser(&app).await)
            .await
            .unwrap();
        if step == "groups" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "step {step}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Meanwhile another worker took the export (as after this one's lease ran out).
    sqlx::query(
        "update privacy_exports set attempts = attempts + 1, step = 'taken',
                lease_until = now() + interval '1 hour'
         where id = $1",
    )
    .bind(id)
    .execute(&mut superuser(&app).await)
    .await
    .unwrap();
    lock.rollback().await.unwrap();
    // The first worker goes on reading, and at its next report learns it lost the export.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, step, progress, document): (String, String, i32, Option<Vec<u8>>) =
        sqlx::query_as(
            "select status, step, progress, document from privacy_exports where id = $1",
        )
        .bind(id)
        .fetch_one(&mut superuser(&app).await)
        .await
        .unwrap();
    assert_eq!(
        (status.as_str(), step.as_str(), progress, document),
        ("running", "taken", 15, None)
    );
    assert!(audited(&app, "identity.export_ready", id).await.is_empty());
    assert!(audited(&app, "identity.export_failed", id).await.is_empty());
}
