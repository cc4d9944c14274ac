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
    // Nor does the viewer learn which objects exist: one there and one not are both 403.
    for id in [app.acme.owner_id, Uuid::now_v7()] {
        let res = app
            .send(
                Method::PATCH,
                &format!("/v1/identities/{id}"),
                Some(&viewer),
                Some(json!({"display_name": "x"})),
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{id}");
    }
}

/// One row of the agreement table: who asks, what, about which object (its id, owner and
/// metadata as the decision point is told them), and the request that does it for real.
struct Row {
    who: &'static str,
    action: &'static str,
    id: Uuid,
    owner: Option<Uuid>,
    metadata: Option<Value>,
    method: Method,
    path: String,
    body: Option<Value>,
}

#[tokio::test]
async fn the_decision_point_and_enforcement_never_disagree() {
    let app = TestApp::spawn().await;
    let owner_ctx = owner_ctx(&app.db, &app.acme).await;
    let person = |meta: Value| service::identities::NewIdentity {
        email: Some(format!("p-{}@acme.test", Uuid::now_v7().simple())),
        display_name: Some("Table person".into()),
        metadata: Some(meta),
        ..Default::default()
    };
    let locked = service::identities::create(&owner_ctx, &app.db, person(json!({"locked": true})))
        .await
        .unwrap();
    let open = service::identities::create(&owner_ctx, &app.db, person(json!({})))
        .await
        .unwrap();
    let group = |name: &str| service::groups::GroupInput {
        name: Some(name.into()),
        kind: Some("team".into()),
        ..Default::default()
    };
    let frozen = service::groups::create(&owner_ctx, &app.db, group("Frozen"))
        .await
        .unwrap();
    let free = service::groups::create(&owner_ctx, &app.db, group("Free"))
        .await
        .unwrap();
    let owner_token = app.owner_token(&app.acme).await;
    let mut hooks = Vec::new();
    for name in ["Hidden", "Shown"] {
        let res = app
            .send(
                Method::POST,
                "/v1/webhooks",
                Some(&owner_token),
                Some(json!({"name": name, "url": receiver().url("agreement"), "event_types": ["identity.*"]})),
            )
            .await;
        hooks.push(Uuid::parse_str(json_of(res).await["id"].as_str().unwrap()).unwrap());
    }
    policy(
        &app,
        "locked people stay as they are",
        "deny",
        "identities:update",
        json!({"==": [{"var": "resource.metadata.locked"}, true]}),
    )
    .await;
    policy(
        &app,
        "everyone edits themselves",
        "allow",
        "identities:update",
        json!({"==": [{"var": "resource.owner"}, {"var": "principal.id"}]}),
    )
    .await;
    policy(
        &app,
        "one webhook is hidden",
        "deny",
        "webhooks:read",
        json!({"==": [{"var": "resource.id"}, hooks[0].to_string()]}),
    )
    .await;
    policy(
        &app,
        "one group is frozen",
        "deny",
        "groups:update",
        json!({"==": [{"var": "resource.id"}, frozen.id.to_string()]}),
    )
    .await;
    let (_, admin_email) = app.member(&app.acme, "admin").await;
    let (member_id, member_email) = app.member(&app.acme, "member").await;
    let tokens = [
        ("admin", app.token("acme", &admin_email).await),
        ("member", app.token("acme", &member_email).await),
    ];
    let rename = || Some(json!({"display_name": "Renamed by the table"}));
    let regroup = || Some(json!({"description": "changed by the table"}));
    let rows = vec![
        Row {
            who: "admin",
            action: "identities:update",
            id: locked.id,
            owner: Some(locked.id),
            metadata: Some(locked.metadata.clone()),
            method: Method::PATCH,
            path: format!("/v1/identities/{}", locked.id),
            body: rename(),
        },
        Row {
            who: "admin",
            action: "identities:update",
            id: open.id,
            owner: Some(open.id),
            metadata: Some(open.metadata.clone()),
            method: Method::PATCH,
            path: format!("/v1/identities/{}", open.id),
            body: rename(),
        },
        Row {
            who: "member",
            action: "identities:update",
            id: member_id,
            owner: Some(member_id),
            metadata: Some(json!({})),
            method: Method::PATCH,
            path: format!("/v1/identities/{member_id}"),
            body: rename(),
        },
        Row {
            who: "member",
            action: "identities:update",
            id: open.id,
            owner: Some(open.id),
            metadata: Some(open.metadata.clone()),
            method: Method::PATCH,
            path: format!("/v1/identities/{}", open.id),
            body: rename(),
        },
        Row {
            who: "admin",
            action: "webhooks:read",
            id: hooks[0],
            owner: None,
            metadata: None,
            method: Method::GET,
            path: format!("/v1/webhooks/{}", hooks[0]),
            body: None,
        },
        Row {
            who: "admin",
            action: "webhooks:read",
            id: hooks[1],
            owner: None,
            metadata: None,
            method: Method::GET,
            path: format!("/v1/webhooks/{}", hooks[1]),
            body: None,
        },
        Row {
            who: "admin",
            action: "groups:update",
            id: frozen.id,
            owner: None,
            metadata: None,
            method: Method::PATCH,
            path: format!("/v1/groups/{}", frozen.id),
            body: regroup(),
        },
        Row {
            who: "admin",
            action: "groups:update",
            id: free.id,
            owner: None,
            metadata: None,
            method: Method::PATCH,
            path: format!("/v1/groups/{}", free.id),
            body: regroup(),
        },
        Row {
            who: "member",
            action: "groups:update",
            id: free.id,
            owner: None,
            metadata: None,
            method: Method::PATCH,
            path: format!("/v1/groups/{}", free.id),
            body: regroup(),
        },
    ];
    let mut disagreements = Vec::new();
    let mut allowed_count = 0;
    for row in rows {
        let token = &tokens.iter().find(|(w, _)| *w == row.who).unwrap().1;
        let asked = app
            .send(
                Method::POST,
                "/v1/authz/check",
                Some(token),
                Some(json!({"action": row.action, "resource":
                    {"id": row.id, "owner": row.owner, "metadata": row.metadata}})),
            )
            .await;
        assert_eq!(asked.status(), StatusCode::OK);
        let answer = json_of(asked).await;
        let allowed = answer["allowed"].as_bool().unwrap();
        allowed_count += usize::from(allowed);
        let done = app
            .send(row.method.clone(), &row.path, Some(token), row.body.clone())
            .await
            .status();
        if allowed != done.is_success() {
            disagreements.push(format!(
                "{} {} on {}: the decision point says {allowed}, the route answered {done} ({})",
                row.who, row.action, row.path, answer["explanation"]
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // Both answers occur: the table is not trivially all yes or all no.
    assert!((2..=7).contains(&allowed_count), "{allowed_count} allowed");
}

#[tokio::test]
async fn the_decision_point_keeps_a_keys_scopes_and_the_policies_to_itself() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    policy(
        &app,
        "no deleting memories on weekends",
        "deny",
        "memories:delete",
        json!(true),
    )
    .await;
    // A member, who may not read policies, learns that a policy decided, not which.
    let (_, email) = app.member(&app.acme, "member").await;
    let member = app.token("acme", &email).await;
    let ask = |token: String, body: Value| {
        let app = &app;
        async move {
            json_of(
                app.send(Method::POST, "/v1/authz/check", Some(&token), Some(body))
                    .await,
            )
            .await
        }
    };
    let seen = ask(member.clone(), json!({"action": "memories:delete"})).await;
    assert_eq!(seen["allowed"], false);
    assert_eq!(seen["reason"]["kind"], "undisclosed_policy", "{seen}");
    assert_eq!(seen["trace"], json!([]));
    assert!(!seen.to_string().contains("weekends"), "{seen}");
    let seen = ask(owner.clone(), json!({"action": "memories:delete"})).await;
    assert_eq!(seen["reason"]["kind"], "policy");
    assert_eq!(seen["reason"]["name"], "no deleting memories on weekends");

    // A key asking about itself is answered within its scopes, as it is when it acts.
    let res = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&owner),
            Some(json!({"name": "reader", "scopes": ["identities:read", "policies:read"]})),
        )
        .await;
    let key = json_of(res).await["secret"].as_str().unwrap().to_owned();
    let seen = ask(key.clone(), json!({"action": "identities:create"})).await;
    assert_eq!(seen["allowed"], false, "{seen}");
    assert_eq!(seen["reason"]["kind"], "outside_key_scopes");
    let res = app
        .send(
            Method::POST,
            "/v1/identities",
            Some(&key),
            Some(json!({"email": "by-key@acme.test"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        ask(key, json!({"action": "identities:read"})).await["allowed"],
        true
    );
}
