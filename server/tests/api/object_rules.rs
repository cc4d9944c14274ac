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

/// A deny on a memory's metadata or its owner takes those memories out of the list (pages
/// still whole, in order, none repeated), out of every search mode (the top k are the
/// caller's top k), out of a bulk delete, and answers 404 for them by id.
#[tokio::test]
async fn memories_a_rule_hides_are_missing_from_lists_searches_and_bulk_deletes() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let (_, admin_email) = app.member(&app.acme, "admin").await;
    let admin = app.token("acme", &admin_email).await;
    let (writer, _) = app.member(&app.acme, "member").await;
    // Twelve notes: every third classified, and two more kept by `writer`.
    let mut items: Vec<Value> = (0..12)
        .map(|i| {
            json!({"text": format!("Harbour report number {i}: cranes and containers"),
                   "tags": ["harbour"], "metadata": {"classified": i % 3 == 0}})
        })
        .collect();
    for i in 0..2 {
        items.push(
            json!({"text": format!("Harbour report kept by the writer, part {i}"),
                          "tags": ["harbour"], "owner_id": writer}),
        );
    }
    let res = app
        .send(
            Method::POST,
            "/v1/memories/bulk",
            Some(&owner),
            Some(json!({ "items": items })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    policy(
        &app,
        "classified notes stay hidden",
        "deny",
        "memories:read",
        json!({"==": [{"var": "resource.metadata.classified"}, true]}),
    )
    .await;
    policy(
        &app,
        "the writer's notes are the writer's",
        "deny",
        "memories:read",
        json!({"==": [{"var": "resource.owner"}, writer.to_string()]}),
    )
    .await;
    // The cluster's superuser, past row-level security, to see what the database holds.
    let superuser = sqlx::PgPool::connect(&app.db_url).await.unwrap();
    let all: Vec<Value> = {
        // What the database holds, newest first, to compare with what the admin sees.
        let rows: Vec<(Uuid, Value, Option<Uuid>)> = sqlx::query_as(
            "select id, metadata, owner_id from memories where tenant_id = $1 order by id desc",
        )
        .bind(app.acme.id)
        .fetch_all(&superuser)
        .await
        .unwrap();
        rows.into_iter()
            .map(|(id, meta, owner)| json!({"id": id, "metadata": meta, "owner_id": owner}))
            .collect()
    };
    assert_eq!(all.len(), 14);
    let shown: Vec<String> = all
        .iter()
        .filter(|m| m["metadata"]["classified"] != json!(true) && m["owner_id"].is_null())
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shown.len(), 8);
    let hidden: Vec<String> = all
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .filter(|id| !shown.contains(id))
        .collect();

    // Paged three at a time: exactly the shown ones, in order, each once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/v1/memories?limit=3&cursor={c}"),
            None => "/v1/memories?limit=3".to_owned(),
        };
        let page = json_of(app.get(&path, Some(&admin)).await).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, shown, "the list is the shown memories, newest first");

    for id in &hidden {
        let res = app.get(&format!("/v1/memories/{id}"), Some(&admin)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    for (mode, top_k) in [
        ("keyword", 5),
        ("semantic", 20),
        ("hybrid", 20),
        ("keyword", 20),
    ] {
        let res = app
            .send(
                Method::POST,
                "/v1/memories/search",
                Some(&admin),
                Some(json!({"query": "harbour report cranes", "mode": mode, "top_k": top_k})),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let hits: Vec<String> = json_of(res).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["memory"]["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            hits.len(),
            top_k.min(shown.len()),
            "{mode} top {top_k}: {hits:?}"
        );
        assert!(
            hits.iter().all(|h| shown.contains(h)),
            "{mode}: a hidden memory was found"
        );
    }

    // A bulk delete takes only what the caller sees.
    let res = app
        .send(
            Method::DELETE,
            "/v1/memories/bulk",
            Some(&admin),
            Some(json!({"filter": {"tags": ["harbour"]}})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json_of(res).await["deleted"], 8);
    let live: i64 = sqlx::query_scalar(
        "select count(*) from memories where tenant_id = $1 and deleted_at is null",
    )
    .bind(app.acme.id)
    .fetch_one(&superuser)
    .await
    .unwrap();
    assert_eq!(live, 6, "the hidden ones are untouched");
}

/// One kind of object for [`every_kind_a_rule_hides_is_404_and_missing_from_its_list`]: how
/// the owner makes one, where its list is, and a change that needs `change` on it.
struct Kind {
    module: &'static str,
    list: &'static str,
    path: &'static str,
    create: fn(usize, &str) -> Value,
    change: (&'static str, Method, &'static str, Option<Value>),
}

#[tokio::test]
async fn every_kind_a_rule_hides_is_404_and_missing_from_its_list() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    // Someone who may do everything with these kinds, short of what the rules below take.
    let mut permissions = Vec::new();
    for module in ["roles", "policies", "invitations", "settings"] {
        for action in ["read", "create", "update", "delete"] {
            permissions.push((
                format!("{module}:{action}"),
                service::authz::engine::Effect::Allow,
            ));
        }
    }
    for p in [
        "api_keys:read",
        "api_keys:manage",
        "api_keys:update",
        "api_keys:delete",
    ] {
        permissions.push((p.to_owned(), service::authz::engine::Effect::Allow));
    }
    service::roles::create(
        &owner_ctx(&app.db, &app.acme).await,
        &app.db,
        service::roles::RoleInput {
            name: "keeper".into(),
            description: String::new(),
            permissions,
        },
    )
    .await
    .unwrap();
    let (admin_id, email) = app.member(&app.acme, "keeper").await;
    let kinds = [
        Kind {
            module: "roles",
            list: "/v1/roles",
            path: "/v1/roles",
            create: |n, _| json!({"name": format!("rule-role-{n}"), "permissions": {"memories:read": "allow"}}),
            change: (
                "update",
                Method::PATCH,
                "",
                Some(json!({"description": "changed"})),
            ),
        },
        Kind {
            module: "policies",
            list: "/v1/policies",
            path: "/v1/policies",
            create: |n, _| json!({"name": format!("rule-policy-{n}"), "effect": "deny", "resource_pattern": "memories", "action_pattern": "delete"}),
            change: (
                "update",
                Method::PATCH,
                "",
                Some(json!({"description": "changed"})),
            ),
        },
        Kind {
            module: "invitations",
            list: "/v1/invitations",
            path: "/v1/invitations",
            create: |n, _| json!({"email": format!("rule-invitee-{n}-{}@acme.test", Uuid::now_v7().simple()), "roles": ["viewer"]}),
            change: ("update", Method::POST, "/resend", None),
        },
        Kind {
            module: "settings",
            list: "/v1/sso/providers",
            path: "/v1/sso/providers",
            create: |n, issuer| json!({"name": format!("Rule IdP {n}"), "issuer": issuer, "client_id": "c", "client_secret": "s"}),
            change: (
                "update",
                Method::PATCH,
                "",
                Some(json!({"name": "Renamed IdP"})),
            ),
        },
    ];
    let issuer = crate::helpers::oidc_provider().issuer();
    for (k, kind) in kinds.iter().enumerate() {
        let mut ids = Vec::new();
        for n in 0..2 {
            let res = app
                .send(
                    Method::POST,
                    kind.path,
                    Some(&owner),
                    Some((kind.create)(k * 10 + n, &issuer)),
                )
                .await;
            assert_eq!(res.status(), StatusCode::CREATED, "{}", kind.module);
            ids.push(json_of(res).await["id"].as_str().unwrap().to_owned());
        }
        let (hidden, frozen) = (ids[0].clone(), ids[1].clone());
        let (action, method, suffix, body) = &kind.change;
        policy(
            &app,
            &format!("hide a {}", kind.module),
            "deny",
            &format!("{}:read", kind.module),
            resource_for(&hidden, admin_id),
        )
        .await;
        policy(
            &app,
            &format!("freeze a {}", kind.module),
            "deny",
            &format!("{}:{action}", kind.module),
            resource_for(&frozen, admin_id),
        )
        .await;
        let admin = app.token("acme", &email).await;

        let list = json_of(app.get(kind.list, Some(&admin)).await).await;
        let listed: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect();
        assert!(
            !listed.contains(&hidden.as_str()),
            "{}: {list}",
            kind.module
        );
        assert!(listed.contains(&frozen.as_str()), "{}: {list}", kind.module);
        let path = |id: &str| format!("{}/{id}", kind.path);
        for (m, p, b) in [
            (Method::GET, path(&hidden), None),
            (
                method.clone(),
                format!("{}{suffix}", path(&hidden)),
                body.clone(),
            ),
            (Method::DELETE, path(&hidden), None),
        ] {
            let res = app.send(m.clone(), &p, Some(&admin), b).await;
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{m} {p}");
        }
        let res = app.get(&path(&frozen), Some(&admin)).await;
        assert_eq!(res.status(), StatusCode::OK, "{}", kind.module);
        let res = app
            .send(
                method.clone(),
                &format!("{}{suffix}", path(&frozen)),
                Some(&admin),
                body.clone(),
            )
            .await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{} {action}",
            kind.module
        );
        // The owner, whom the policies do not name, still sees the hidden one.
        let res = app.get(&path(&hidden), Some(&owner)).await;
        assert_eq!(res.status(), StatusCode::OK, "{}", kind.module);
    }

    // Another identity's API key is read and changed with api_keys:manage: a rule on its id
    // hides it from the list of every key and from each route about it.
    let res = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&owner),
            Some(json!({"name": "hidden key", "scopes": ["memories:read"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let key = json_of(res).await["id"].as_str().unwrap().to_owned();
    let admin = app.token("acme", &email).await;
    let res = app.get(&format!("/v1/api-keys/{key}"), Some(&admin)).await;
    assert_eq!(res.status(), StatusCode::OK, "visible before the rule");
    policy(
        &app,
        "hide a key",
        "deny",
        "api_keys:manage",
        resource_for(&key, admin_id),
    )
    .await;
    let list = json_of(app.get("/v1/api-keys?all=true", Some(&admin)).await).await;
    assert!(
        !list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == key.as_str()),
        "{list}"
    );
    for (m, b) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"name": "renamed"}))),
        (Method::DELETE, None),
    ] {
        let res = app
            .send(m.clone(), &format!("/v1/api-keys/{key}"), Some(&admin), b)
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{m} key");
    }
    let res = app.get(&format!("/v1/api-keys/{key}"), Some(&owner)).await;
    assert_eq!(json_of(res).await["status"], "active");
}

#[tokio::test]
async fn input_that_cannot_be_read_is_not_explained_to_a_caller_without_the_right() {
    let app = TestApp::spawn().await;
    let (_, email) = app.member(&app.acme, "viewer").await;
    let viewer = app.token("acme", &email).await;
    let (_, email) = app.member(&app.acme, "admin").await;
    let admin = app.token("acme", &email).await;
    let id = app.acme.owner_id;
    // Bodies that do not parse (a field missing, a wrong type, an unknown field), a body that
    // is not JSON, a query that does not parse, and an id that is not one.
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, "/v1/roles".into(), Some(json!({}))),
        (
            Method::POST,
            "/v1/policies".into(),
            Some(json!({"priority": "high"})),
        ),
        (
            Method::POST,
            "/v1/webhooks".into(),
            Some(json!({"name": "x", "colour": "red"})),
        ),
        (
            Method::PATCH,
            format!("/v1/identities/{id}"),
            Some(json!({"display_name": 7})),
        ),
        (
            Method::PUT,
            format!("/v1/identities/{id}/roles"),
            Some(json!({"roles": "owner"})),
        ),
        (Method::DELETE, "/v1/identities/not-an-id".into(), None),
        (Method::GET, "/v1/audit?limit=lots".into(), None),
    ];
    for (method, path, body) in &cases {
        let res = app
            .send(method.clone(), path, Some(&viewer), body.clone())
            .await;
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "viewer: {method} {path}"
        );
    }
    let res = app
        .client
        .post(app.url("/v1/identities"))
        .bearer_auth(&viewer)
        .header("content-type", "text/plain")
        .body("email=x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "viewer: a body that is not JSON"
    );

    // Someone who may make such changes is told what is wrong with the input.
    for (method, path, expect) in [
        (
            Method::POST,
            "/v1/webhooks",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (Method::GET, "/v1/audit?limit=lots", StatusCode::BAD_REQUEST),
    ] {
        let body = (method == Method::POST).then(|| json!({"name": "x", "colour": "red"}));
        let res = app.send(method.clone(), path, Some(&admin), body).await;
        assert_eq!(res.status(), expect, "admin: {method} {path}");
    }
    // Verifying the chain is a read sent as POST: a reader of the trail who may change
    // nothing is told what is wrong with the input.
    service::roles::create(
        &owner_ctx(&app.db, &app.acme).await,
        &app.db,
        service::roles::RoleInput {
            name: "trail-reader".into(),
            description: String::new(),
            permissions: vec![("audit:read".into(), service::authz::engine::Effect::Allow)],
        },
    )
    .await
    .unwrap();
    let (_, email) = app.member(&app.acme, "trail-reader").await;
    let reader = app.token("acme", &email).await;
    let res = app
        .send(
            Method::POST,
            "/v1/audit/verify",
            Some(&reader),
            Some(json!({"from_seq": "first"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn owner_labels_for_a_list_leave_out_whom_a_rule_hides() {
    let app = TestApp::spawn().await;
    let (admin_id, _) = app.member(&app.acme, "admin").await;
    let (hidden, _) = app.member(&app.acme, "member").await;
    policy(
        &app,
        "hide one person",
        "deny",
        "identities:read",
        resource_for(&hidden.to_string(), admin_id),
    )
    .await;
    let admin = crate::helpers::member_ctx(&app.db, app.acme.id, admin_id).await;
    let other_tenants = app.globex.owner_id;
    let labels = service::identities::labels(
        &admin,
        &app.db,
        &[app.acme.owner_id, hidden, other_tenants, Uuid::now_v7()],
    )
    .await
    .unwrap();
    assert_eq!(labels.len(), 1, "{labels:?}");
    assert_eq!(labels[&app.acme.owner_id], "Owner");
    // A caller who may not read identities at all gets no names, and no error.
    let (agent, _) = app.member(&app.acme, "member").await;
    let mut without = service::roles::RoleInput {
        name: "no-directory".into(),
        ..Default::default()
    };
    without.permissions = vec![(
        "memories:read".into(),
        service::authz::engine::Effect::Allow,
    )];
    let owner = owner_ctx(&app.db, &app.acme).await;
    service::roles::create(&owner, &app.db, without)
        .await
        .unwrap();
    service::roles::set_identity_roles(&owner, &app.db, agent, vec!["no-directory".into()])
        .await
        .unwrap();
    let blind = crate::helpers::member_ctx(&app.db, app.acme.id, agent).await;
    let labels = service::identities::labels(&blind, &app.db, &[app.acme.owner_id])
        .await
        .unwrap();
    assert!(labels.is_empty());
}

/// The console's door answers as the REST door: a form or a list's filters that do not read
/// are explained only to a caller with some right on the module (to change it for a form,
/// to read it for filters); anyone else gets 403 and learns nothing from the input.
#[tokio::test]
async fn console_input_that_cannot_be_read_is_not_explained_to_a_caller_without_the_right() {
    let app = TestApp::spawn().await;
    let (_, email) = app.member(&app.acme, "viewer").await;
    let viewer = app.console_session("acme", &email).await;
    // The owner: admins may not write policies.
    let owner = app.console_session("acme", &app.acme.owner_email).await;
    let post = |client: &reqwest::Client, path: &str, form: &[(&str, &str)]| {
        client
            .post(app.url(path))
            .header("origin", app.url(""))
            .header("accept", "application/json")
            .form(form)
            .send()
    };
    // (path, a form that does not read, the field its error names)
    type Form<'a> = &'a [(&'a str, &'a str)];
    let forms: [(&str, Form, &str); 4] = [
        (
            "/api/identities/create",
            &[("email", "x@acme.test"), ("kind", "robot")],
            "kind",
        ),
        (
            "/api/policies/save",
            &[("name", "p"), ("effect", "allow"), ("priority", "high")],
            "priority",
        ),
        (
            "/api/webhooks/replay",
            &[
                ("id", "0190e0c4-0000-7000-8000-000000000001"),
                ("from", "soon"),
            ],
            "from",
        ),
        // Filters of a module the viewer may not read.
        ("/api/audit/list", &[("from", "last week")], "from"),
    ];
    for (path, form, field) in forms {
        let res = post(&viewer, path, form).await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "viewer: {path}");
        let body = res.text().await.unwrap();
        assert!(!body.contains(field), "viewer: {path} explained: {body}");
        let res = post(&owner, path, form).await.unwrap();
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "owner: {path}"
        );
        let body = res.text().await.unwrap();
        assert!(body.contains(field), "owner: {path}: {body}");
    }
    // Filters of a module the viewer may read are explained to them.
    let res = post(&viewer, "/api/memories/list", &[("state", "lost")])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("state must be live"));
}
