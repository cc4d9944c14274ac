//! Rules on one object, not only on a whole module: a policy conditioned on an object's id,
//! owner or metadata decides for that object whatever the door, and the same rule that makes
//! `GET /{id}` answer 404 keeps the object out of lists, searches and figures.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::policies::{self, PolicyInput};
use uuid::Uuid;

use crate::helpers::{TestApp, owner_ctx, receiver};

/// A policy of `effect` on `resource:action`, at priority 10 (above roles).
async fn policy(app: &TestApp, name: &str, effect: &str, permission: &str, condition: Value) {
    let owner = owner_ctx(&app.db, &app.acme).await;
    let (resource, action) = permission.split_once(':').unwrap();
    policies::create(
        &owner,
        &app.db,
        PolicyInput {
            name: Some(name.into()),
            effect: Some(effect.into()),
            priority: Some(10),
            resource_pattern: Some(resource.into()),
            action_pattern: Some(action.into()),
            condition: Some(Some(condition)),
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

/// True for object `id` when `who` asks.
fn resource_for(id: &str, who: Uuid) -> Value {
    json!({"and": [
        {"==": [{"var": "resource.id"}, id]},
        {"==": [{"var": "principal.id"}, who.to_string()]},
    ]})
}

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_webhook_denied_by_id_is_hidden_from_every_door_or_kept_from_change() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let mut ids = Vec::new();
    for name in ["Hidden", "Frozen"] {
        let res = app
            .send(
                Method::POST,
                "/v1/webhooks",
                Some(&owner),
                Some(json!({"name": name, "url": receiver().url(&format!("rules-{}", Uuid::now_v7().simple())), "event_types": ["identity.*"]})),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        ids.push(json_of(res).await["id"].as_str().unwrap().to_owned());
    }
    let (hidden, frozen) = (ids[0].clone(), ids[1].clone());
    let (admin_id, email) = app.member(&app.acme, "admin").await;
    let (hide, freeze) = (
        resource_for(&hidden, admin_id),
        resource_for(&frozen, admin_id),
    );
    policy(&app, "hide one webhook", "deny", "webhooks:read", hide).await;
    policy(&app, "freeze one", "deny", "webhooks:update", freeze).await;
    let admin = app.token("acme", &email).await;

    // Hidden: not in the list, and every route about it says it is not there.
    let list = json_of(app.get("/v1/webhooks", Some(&admin)).await).await;
    let listed: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![frozen.as_str()], "{list}");
    for (method, path, body) in [
        (Method::GET, format!("/v1/webhooks/{hidden}"), None),
        (
            Method::PATCH,
            format!("/v1/webhooks/{hidden}"),
            Some(json!({"name": "Renamed"})),
        ),
        (Method::DELETE, format!("/v1/webhooks/{hidden}"), None),
        (
            Method::GET,
            format!("/v1/webhooks/{hidden}/deliveries"),
            None,
        ),
        (Method::POST, format!("/v1/webhooks/{hidden}/test"), None),
        (
            Method::POST,
            format!("/v1/webhooks/{hidden}/rotate-secret"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("/v1/webhooks/stats?webhook_id={hidden}"),
            None,
        ),
    ] {
        let res = app.send(method.clone(), &path, Some(&admin), body).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
    }
    let stats = json_of(app.get("/v1/webhooks/stats", Some(&admin)).await).await;
    let counted: Vec<&str> = stats["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["webhook_id"].as_str().unwrap())
        .collect();
    assert_eq!(counted, vec![frozen.as_str()], "{stats}");

    // Frozen: seen, not changed (403, not 404), and nothing changed.
    let res = app
        .get(&format!("/v1/webhooks/{frozen}"), Some(&admin))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/webhooks/{frozen}"),
            Some(&admin),
            Some(json!({"name": "Thawed"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let still = json_of(
        app.get(&format!("/v1/webhooks/{frozen}"), Some(&owner))
            .await,
    )
    .await;
    assert_eq!(still["name"], "Frozen");
    // Only updates are denied: deleting it is still allowed.
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/webhooks/{frozen}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // The owner, whom the policies do not name, still sees the hidden one.
    let res = app
        .get(&format!("/v1/webhooks/{hidden}"), Some(&owner))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_caller_without_the_right_is_refused_before_the_input_is_read() {
    let app = TestApp::spawn().await;
    let (_, email) = app.member(&app.acme, "viewer").await;
    let viewer = app.token("acme", &email).await;
    // Invalid input and a password to hash: a viewer learns neither, and costs nothing.
    for (path, body) in [
        (
            "/v1/identities",
            json!({"email": "not an address", "password": "x"}),
        ),
        (
            "/v1/invitations",
            json!({"email": "not an address", "expires_in_days": 99}),
        ),
        ("/v1/groups", json!({"name": "", "kind": "tribe"})),
    ] {
        let res = app
            .send(Method::POST, path, Some(&viewer), Some(body))
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
}
