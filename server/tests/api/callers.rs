//! Each instance keeps the callers it has met in memory (`service::auth::callers`). What
//! takes access away (a disable, a role or a group membership removed, a change made
//! straight in the database) is enforced by the instance that made it at the very next
//! request, and by every other instance within a second; and a cache whose notifications
//! stopped is emptied rather than trusted.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::*;

const WITHIN: Duration = Duration::from_secs(1);

/// Polls `done` until it holds, and returns how long that took; fails past `limit`.
async fn within(limit: Duration, what: &str, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if done().await {
            let took = start.elapsed();
            eprintln!("{what}: {took:?}");
            return took;
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn status(app: &TestApp, path: &str, token: &str) -> StatusCode {
    app.get(path, Some(token)).await.status()
}

/// Two instances over one database, both listening, and a viewer of acme whose token each
/// instance has already resolved once (so each keeps them).
async fn two_instances_and_a_known_viewer() -> (TestApp, TestApp, uuid::Uuid, String) {
    let app = TestApp::spawn().await;
    let other = app.spawn_second().await;
    app.listening().await;
    other.listening().await;
    let (id, email) = app.member(&app.acme, "viewer").await;
    let token = app.token("acme", &email).await;
    for instance in [&app, &other] {
        for _ in 0..2 {
            assert_eq!(
                status(instance, "/v1/identities", &token).await,
                StatusCode::OK
            );
        }
        assert!(instance.db.callers().len().0 >= 1, "the caller is kept");
    }
    (app, other, id, token)
}

#[tokio::test]
async fn a_disable_ends_access_at_once_here_and_within_a_second_everywhere() {
    let (app, other, id, token) = two_instances_and_a_known_viewer().await;
    let owner = app.owner_token(&app.acme).await;
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/identities/{id}"),
            Some(&owner),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        status(&app, "/v1/me", &token).await,
        StatusCode::UNAUTHORIZED
    );
    let took = within(WITHIN, "disable seen by the other instance", async || {
        status(&other, "/v1/me", &token).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(took < WITHIN);
}

#[tokio::test]
async fn roles_and_group_memberships_take_effect_everywhere_within_a_second() {
    let (app, other, id, token) = two_instances_and_a_known_viewer().await;
    let owner = app.owner_token(&app.acme).await;

    // The role taken away: refused here at once, there within a second.
    let res = app
        .send(
            Method::PUT,
            &format!("/v1/identities/{id}/roles"),
            Some(&owner),
            Some(json!({"roles": []})),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        status(&app, "/v1/identities", &token).await,
        StatusCode::FORBIDDEN
    );
    within(
        WITHIN,
        "role removal seen by the other instance",
        async || status(&other, "/v1/identities", &token).await == StatusCode::FORBIDDEN,
    )
    .await;

    // Joining a group that grants the role gives it back; leaving takes it away again.
    let res = app
        .send(
            Method::POST,
            "/v1/groups",
            Some(&owner),
            Some(json!({"name": "Readers", "kind": "team"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let group: Value = res.json().await.unwrap();
    let group = group["id"].as_str().unwrap().to_owned();
    let res = app
        .send(
            Method::PUT,
            &format!("/v1/groups/{group}/roles"),
            Some(&owner),
            Some(json!({"roles": ["viewer"]})),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let res = app
        .send(
            Method::POST,
            &format!("/v1/groups/{group}/members"),
            Some(&owner),
            Some(json!({"identity_ids": [id]})),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(status(&app, "/v1/identities", &token).await, StatusCode::OK);
    within(
        WITHIN,
        "group membership seen by the other instance",
        async || status(&other, "/v1/identities", &token).await == StatusCode::OK,
    )
    .await;
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/groups/{group}/members/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        status(&app, "/v1/identities", &token).await,
        StatusCode::FORBIDDEN
    );
    within(
        WITHIN,
        "leaving the group seen by the other instance",
        async || status(&other, "/v1/identities", &token).await == StatusCode::FORBIDDEN,
    )
    .await;
}

#[tokio::test]
async fn a_change_made_straight_in_the_database_reaches_every_instance() {
    let (app, other, id, token) = two_instances_and_a_known_viewer().await;
    let mut su = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query("delete from identity_roles where identity_id = $1")
        .bind(id)
        .execute(&mut su)
        .await
        .unwrap();
    for (name, instance) in [("this", &app), ("the other", &other)] {
        within(
            WITHIN,
            &format!("a database change seen by {name} instance"),
            async || status(instance, "/v1/identities", &token).await == StatusCode::FORBIDDEN,
        )
        .await;
    }
}

#[tokio::test]
async fn a_lost_listener_empties_the_cache_until_it_listens_again() {
    let (app, other, id, token) = two_instances_and_a_known_viewer().await;
    let mut su = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let killed: i64 = sqlx::query_scalar(
        "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and query ilike 'listen%') k",
    )
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert!(killed >= 2, "both listeners were found ({killed})");
    // Nothing kept survives the loss (no request runs meanwhile to fill it again) ...
    within(Duration::from_secs(5), "the cache emptied", async || {
        other.db.callers().len() == (0, 0) && app.db.callers().len() == (0, 0)
    })
    .await;
    // ... and once listening again, changes are heard as before.
    other.listening().await;
    assert_eq!(
        status(&other, "/v1/identities", &token).await,
        StatusCode::OK
    );
    assert!(other.db.callers().len().0 >= 1);
    sqlx::query("delete from identity_roles where identity_id = $1")
        .bind(id)
        .execute(&mut su)
        .await
        .unwrap();
    within(WITHIN, "a change after reconnecting", async || {
        status(&other, "/v1/identities", &token).await == StatusCode::FORBIDDEN
    })
    .await;
}

/// `/v1/me` answers from the caller the request resolved (no read of its own), and says
/// what the stored identity and tenant say, after every kind of change, on every instance.
#[tokio::test]
async fn me_says_what_is_stored_after_every_change_on_every_instance() {
    let (app, other, id, token) = two_instances_and_a_known_viewer().await;
    let owner = app.owner_token(&app.acme).await;
    // Every field but the personal metadata, which `/v1/me` leaves out (the caller it
    // resolved does not carry it).
    let stored = async || -> Value {
        let res = app.get(&format!("/v1/identities/{id}"), Some(&owner)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let mut stored: Value = res.json().await.unwrap();
        assert!(stored["personal_metadata"].is_object());
        stored.as_object_mut().unwrap().remove("personal_metadata");
        stored
    };
    let me = async |instance: &TestApp| -> Value {
        let res = instance.get("/v1/me", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    };
    let agree =
        async |instance: &TestApp, stored: &Value| me(instance).await["identity"] == *stored;
    let now = stored().await;
    assert_eq!(now["roles"], json!(["viewer"]));
    for instance in [&app, &other] {
        let body = me(instance).await;
        assert_eq!(body["identity"], now, "every field of the stored identity");
        assert_eq!(body["tenant"]["slug"], "acme");
    }

    // Their own profile change: at once here, within a second there.
    let res = app
        .send(
            Method::PATCH,
            "/v1/me",
            Some(&token),
            Some(json!({"display_name": "Renamed Viewer"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let now = stored().await;
    assert_eq!(now["display_name"], "Renamed Viewer");
    assert_eq!(me(&app).await["identity"], now);
    within(WITHIN, "a profile change in /v1/me elsewhere", async || {
        agree(&other, &now).await
    })
    .await;

    // A role granted by an admin, and metadata changed straight in the database.
    let res = app
        .send(
            Method::PUT,
            &format!("/v1/identities/{id}/roles"),
            Some(&owner),
            Some(json!({"roles": ["viewer", "member"]})),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let mut su = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query(
        "update identities set metadata = '{\"team\": \"night\"}', updated_at = now() where id = $1",
    )
    .bind(id)
    .execute(&mut su)
    .await
    .unwrap();
    let now = stored().await;
    assert_eq!(now["roles"], json!(["member", "viewer"]));
    assert_eq!(now["metadata"], json!({"team": "night"}));
    for (name, instance) in [("this", &app), ("the other", &other)] {
        within(WITHIN, &format!("/v1/me on {name} instance"), async || {
            agree(instance, &now).await
        })
        .await;
    }

    // The tenant's name.
    sqlx::query("update tenants set name = 'Acme Renamed' where id = $1")
        .bind(app.acme.id)
        .execute(&mut su)
        .await
        .unwrap();
    for (name, instance) in [("this", &app), ("the other", &other)] {
        within(
            WITHIN,
            &format!("the tenant's new name on {name} instance"),
            async || me(instance).await["tenant"]["name"] == "Acme Renamed",
        )
        .await;
    }
}
