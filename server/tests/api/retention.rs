//! Retention (issue 19): owners set how long the tenant keeps people it disabled, its
//! Trash and idle sign-ins; the worker erases and removes what is older, records what it
//! removed, and leaves everything else (other tenants included) alone.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::TestApp;
use crate::privacy::superuser;

/// Moves a timestamp column of one row `days` into the past.
async fn age(app: &TestApp, table: &str, column: &str, id: Uuid, days: i32) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update {table} set {column} = now() - make_interval(days => $2) where id = $1"
    )))
    .bind(id)
    .bind(days)
    .execute(&mut superuser(app).await)
    .await
    .unwrap();
}

async fn status_of(app: &TestApp, path: &str, token: &str) -> StatusCode {
    app.get(path, Some(token)).await.status()
}

#[tokio::test]
async fn owners_set_retention_and_the_worker_applies_it() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let t = Some(owner.as_str());

    // Nothing is set at first: everything is kept; audit records by the plan's default.
    let shown: Value = app.get("/v1/retention", t).await.json().await.unwrap();
    assert_eq!(shown["disabled_identities_days"], Value::Null);
    assert_eq!(shown["trash_days"], Value::Null);
    assert_eq!(shown["idle_sessions_days"], Value::Null);
    assert!(
        shown["audit_records_days"].as_i64().unwrap() >= 30,
        "{shown}"
    );
    assert_eq!(shown["next_run_at"], Value::Null);

    // Who may not set it: an admin, a viewer, a key that may only read settings, anyone
    // not signed in. The viewer and the key may read it.
    let wanted =
        json!({"disabled_identities_days": 30, "trash_days": 30, "idle_sessions_days": 30});
    let [admin, viewer, key] = app.settings_outsiders(&owner).await;
    for (who, token) in [("admin", &admin), ("viewer", &viewer), ("key", &key)] {
        let res = app
            .send(
                Method::PUT,
                "/v1/retention",
                Some(token),
                Some(wanted.clone()),
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{who}");
    }
    assert_eq!(
        status_of(&app, "/v1/retention", &viewer).await,
        StatusCode::OK
    );
    assert_eq!(status_of(&app, "/v1/retention", &key).await, StatusCode::OK);
    let res = app
        .send(Method::PUT, "/v1/retention", None, Some(wanted.clone()))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Out of range: refused, field by field, and nothing stored.
    let res = app
        .send(
            Method::PUT,
            "/v1/retention",
            t,
            Some(json!({"disabled_identities_days": 0, "trash_days": 36501, "idle_sessions_days": 7})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = res.json().await.unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["disabled_identities_days", "trash_days"],
        "{problem}"
    );
    let shown: Value = app.get("/v1/retention", t).await.json().await.unwrap();
    assert_eq!(shown["idle_sessions_days"], Value::Null);

    // What there is: people disabled long ago and lately, one long in the Trash, one
    // active for long; memories in the Trash long and lately; an API sign-in long unused
    // and a fresh one. Another tenant holds an old disabled person too.
    let person = |status: &'static str| {
        let app = &app;
        async move {
            let (id, email) = app.member(&app.acme, "member").await;
            if status == "disabled" {
                let res = app
                    .send(
                        Method::PATCH,
                        &format!("/v1/identities/{id}"),
                        t,
                        Some(json!({"status": "disabled"})),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::OK);
            } else if status == "deleted" {
                let res = app
                    .send(Method::DELETE, &format!("/v1/identities/{id}"), t, None)
                    .await;
                assert_eq!(res.status(), StatusCode::NO_CONTENT);
            }
            (id, email)
        }
    };
    let (old_disabled, _) = person("disabled").await;
    age(&app, "identities", "disabled_at", old_disabled, 40).await;
    let (new_disabled, _) = person("disabled").await;
    age(&app, "identities", "disabled_at", new_disabled, 10).await;
    let (old_trashed, _) = person("deleted").await;
    age(&app, "identities", "deleted_at", old_trashed, 31).await;
    let (old_active, active_email) = person("active").await;
    age(&app, "identities", "created_at", old_active, 400).await;
    let active_token = app.token(&app.acme.slug, &active_email).await;
    let mut memories = Vec::new();
    for text in ["trashed long ago", "trashed lately", "kept"] {
        let m: Value = app
            .send(Method::POST, "/v1/memories", t, Some(json!({"text": text})))
            .await
            .json()
            .await
            .unwrap();
        let id: Uuid = m["id"].as_str().unwrap().parse().unwrap();
        if text != "kept" {
            let res = app
                .send(Method::DELETE, &format!("/v1/memories/{id}"), t, None)
                .await;
            assert_eq!(res.status(), StatusCode::NO_CONTENT);
        }
        memories.push(id);
    }
    sqlx::query("update memories set deleted_at = now() - interval '31 days' where id = $1")
        .bind(memories[0])
        .execute(&mut superuser(&app).await)
        .await
        .unwrap();
    // The active person's first sign-in, unused for 40 days; the owner's is fresh.
    sqlx::query(
        "update refresh_tokens set created_at = now() - interval '40 days'
         where identity_id = $1",
    )
    .bind(old_active)
    .execute(&mut superuser(&app).await)
    .await
    .unwrap();
    let (globex_disabled, _) = app.member(&app.globex, "member").await;
    let globex_owner = app.owner_token(&app.globex).await;
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/identities/{globex_disabled}"),
            Some(&globex_owner),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    age(&app, "identities", "disabled_at", globex_disabled, 400).await;

    // The owner sets it; the worker applies it at once (woken) and records the run.
    let res = app
        .send(Method::PUT, "/v1/retention", t, Some(wanted.clone()))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let set: Value = res.json().await.unwrap();
    assert_eq!(set["trash_days"], 30);
    assert!(set["next_run_at"].is_string(), "{set}");
    let start = Instant::now();
    let shown = loop {
        let shown: Value = app.get("/v1/retention", t).await.json().await.unwrap();
        if !shown["runs"].as_array().unwrap().is_empty() {
            break shown;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no run: {shown}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        shown["runs"][0]["removed"],
        json!({"disabled_identities": 1, "deleted_identities": 1, "deleted_memories": 1,
               "sessions": 0, "api_sign_ins": 1}),
        "{shown}"
    );
    assert!(shown["last_run_at"].is_string());
    let next = time::OffsetDateTime::parse(
        shown["next_run_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let last = time::OffsetDateTime::parse(
        shown["last_run_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!((next - last).whole_minutes(), 60);

    // Erased: gone for the API and for sign-in, a tombstone left; the rest untouched.
    for (id, want) in [
        (old_disabled, StatusCode::NOT_FOUND),
        (old_trashed, StatusCode::NOT_FOUND),
        (new_disabled, StatusCode::OK),
        (old_active, StatusCode::OK),
    ] {
        assert_eq!(
            status_of(&app, &format!("/v1/identities/{id}"), &owner).await,
            want,
            "{id}"
        );
    }
    let tombstones: i64 = sqlx::query_scalar(
        "select count(*) from erasures where identity_id = any($1) and erased_by is null",
    )
    .bind(vec![old_disabled, old_trashed])
    .fetch_one(&mut superuser(&app).await)
    .await
    .unwrap();
    assert_eq!(tombstones, 2);
    let trash: Value = app
        .get("/v1/memories?state=deleted", t)
        .await
        .json()
        .await
        .unwrap();
    let in_trash: Vec<&str> = trash["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(in_trash, ["trashed lately"]);
    assert_eq!(
        status_of(&app, &format!("/v1/memories/{}", memories[2]), &owner).await,
        StatusCode::OK
    );
    // The idle sign-in is gone: its refresh token no longer refreshes. The owner's works.
    let families: i64 =
        sqlx::query_scalar("select count(*) from refresh_tokens where identity_id = $1")
            .bind(old_active)
            .fetch_one(&mut superuser(&app).await)
            .await
            .unwrap();
    assert_eq!(families, 0);
    assert_eq!(status_of(&app, "/v1/me", &owner).await, StatusCode::OK);
    let _ = active_token;
    // Another tenant's old disabled person is its own business.
    assert_eq!(
        status_of(
            &app,
            &format!("/v1/identities/{globex_disabled}"),
            &globex_owner
        )
        .await,
        StatusCode::OK
    );

    // In the trail: the change by the owner, what the server removed, each erasure.
    let trail: Value = app
        .get("/v1/audit?action=tenant.retention_changed", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(trail["items"][0]["after"], wanted, "{trail}");
    assert_eq!(trail["items"][0]["actor_type"], "identity");
    let trail: Value = app
        .get("/v1/audit?action=tenant.retention_applied", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(trail["items"][0]["actor_type"], "system", "{trail}");
    assert_eq!(trail["items"][0]["after"]["disabled_identities"], 1);
    let erased: Value = app
        .get(
            &format!("/v1/audit?action=identity.erased&target_id={old_disabled}"),
            t,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(erased["items"][0]["actor_type"], "system", "{erased}");

    // Run again within the hour: nothing more happens.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let again: Value = app.get("/v1/retention", t).await.json().await.unwrap();
    assert_eq!(again["runs"].as_array().unwrap().len(), 1);
    assert_eq!(again["last_run_at"], shown["last_run_at"]);
}
