//! API keys over HTTP: created once with their secret, used in either header, narrowed by
//! their scopes and by their identity, dead at once on every instance when revoked or
//! expired.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{TestApp, problem};

async fn create_key(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app
        .send(Method::POST, "/v1/api-keys", Some(token), Some(body))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn with_x_api_key(app: &TestApp, method: Method, path: &str, key: &str) -> StatusCode {
    app.client
        .request(method, app.url(path))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_key_is_shown_once_and_acts_within_its_scopes() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let created = create_key(
        &app,
        &owner,
        json!({"name": "directory sync", "scopes": ["identities:read"], "expires_in_days": 30}),
    )
    .await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tnr_"), "{secret}");
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["status"], "active");
    assert_eq!(created["scopes"], json!(["identities:read"]));
    assert!(created["expires_at"].is_string());

    // Never shown again, and not stored.
    let listed: Value = app
        .get("/v1/api-keys", Some(&owner))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(listed["items"][0].get("secret").is_none());
    assert!(!listed.to_string().contains(&secret[20..]));
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let stored: Vec<u8> = sqlx::query_scalar("select secret_hash from api_keys")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored.len(), 32);
    let audit: String =
        sqlx::query_scalar("select string_agg(coalesce(after::text, ''), ' ') from audit_log")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(
        !audit.contains(&secret[37..]),
        "the secret leaked into the audit log"
    );

    // Both headers work; what the scopes cover is allowed, the rest refused.
    assert_eq!(
        app.get("/v1/identities", Some(&secret)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        with_x_api_key(&app, Method::GET, "/v1/identities", &secret).await,
        StatusCode::OK
    );
    let refused = app
        .send(
            Method::POST,
            "/v1/identities",
            Some(&secret),
            Some(json!({"email": "new@acme.test"})),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body = problem(refused).await;
    assert!(
        body["detail"].as_str().unwrap().contains("scopes"),
        "{body}"
    );
    assert_eq!(
        app.get("/v1/groups", Some(&secret)).await.status(),
        StatusCode::FORBIDDEN
    );

    // The test route echoes the caller and the scopes.
    let echo: Value = app
        .send(Method::POST, "/v1/api-keys/test", Some(&secret), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(echo["via"], "api_key");
    assert_eq!(echo["tenant"], "acme");
    assert_eq!(echo["identity_id"], app.acme.owner_id.to_string());
    assert_eq!(echo["api_key"]["id"], id);
    assert_eq!(echo["api_key"]["scopes"], json!(["identities:read"]));
    assert_eq!(echo["permissions"], json!(["identities:read"]));
    let me: Value = app.get("/v1/me", Some(&secret)).await.json().await.unwrap();
    assert_eq!(me["via"], "api_key");
    assert_eq!(me["scopes"], json!(["identities:read"]));
    assert_eq!(me["tenant"]["plan"], "pro");
    assert!(me["roles"].as_array().unwrap().contains(&json!("owner")));

    // Last use is recorded.
    let one: Value = app
        .get(&format!("/v1/api-keys/{id}"), Some(&owner))
        .await
        .json()
        .await
        .unwrap();
    assert!(one["last_used_at"].is_string(), "{one}");
    assert_eq!(one["last_used_ip"], "127.0.0.1");

    // Any key can ask who it is, whatever its scopes.
    let narrow = create_key(
        &app,
        &owner,
        json!({"name": "narrow", "scopes": ["memories:read"]}),
    )
    .await;
    let res = app.get("/v1/me", narrow["secret"].as_str()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap()["permissions"],
        json!(["memories:read"])
    );

    // A key cannot mint keys.
    let res = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&secret),
            Some(json!({"name": "child", "scopes": ["*:*"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_key_never_outgrows_its_identity_and_actions_are_audited_as_the_key() {
    let app = TestApp::spawn().await;
    let (_, viewer_email) = app.member(&app.acme, "viewer").await;
    let viewer = app.token("acme", &viewer_email).await;
    // A viewer has no api_keys permission at all.
    let res = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&viewer),
            Some(json!({"name": "k", "scopes": ["*:*"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A member may make keys; a `*:*` key still only does what a member may.
    let (member_id, member_email) = app.member(&app.acme, "member").await;
    let member = app.token("acme", &member_email).await;
    let key = create_key(
        &app,
        &member,
        json!({"name": "everything", "scopes": ["*:*"]}),
    )
    .await;
    let secret = key["secret"].as_str().unwrap();
    assert_eq!(
        app.get("/v1/identities", Some(secret)).await.status(),
        StatusCode::OK
    );
    let res = app
        .send(
            Method::POST,
            "/v1/identities",
            Some(secret),
            Some(json!({"email": "x@acme.test"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The owner's key with identities:create acts, and the audit trail names the key.
    let owner = app.owner_token(&app.acme).await;
    let key = create_key(
        &app,
        &owner,
        json!({"name": "provisioner", "scopes": ["identities:*", "roles:manage"]}),
    )
    .await;
    let res = app
        .send(
            Method::POST,
            "/v1/identities",
            Some(key["secret"].as_str().unwrap()),
            Some(json!({"email": "made-by-key@acme.test"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let (actor_type, actor_id): (String, uuid::Uuid) = sqlx::query_as(
        "select actor_type, actor_id from audit_log where action = 'identity.created'
         order by id desc limit 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(actor_type, "api_key");
    assert_eq!(actor_id.to_string(), key["id"].as_str().unwrap());

    // Keys for someone else: only for agents, and only with `api_keys:manage`.
    let res = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&owner),
            Some(json!({"name": "not yours", "scopes": ["*:read"], "identity_id": member_id})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let agent: Value = app
        .send(
            Method::POST,
            "/v1/identities",
            Some(&owner),
            Some(json!({"kind": "agent", "display_name": "Indexer"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let agent_id = agent["id"].as_str().unwrap();
    let res = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&member),
            Some(
                json!({"name": "agent key", "scopes": ["memories:read"], "identity_id": agent_id}),
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let agent_key = create_key(
        &app,
        &owner,
        json!({"name": "agent key", "scopes": ["memories:read"], "identity_id": agent_id}),
    )
    .await;
    assert_eq!(agent_key["identity_id"], agent_id);
    assert_eq!(agent_key["identity_name"], "Indexer");
    let all: Value = app
        .get("/v1/api-keys?all=true", Some(&owner))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        app.get("/v1/api-keys?all=true", Some(&member))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

/// `GET /v1/me` with `key` on `app` until it is refused (401), which must happen within a
/// second (the other instances hear of a change by notification).
async fn until_refused(app: &TestApp, key: &str) -> reqwest::Response {
    let start = std::time::Instant::now();
    loop {
        let res = app.get("/v1/me", Some(key)).await;
        if res.status() == StatusCode::UNAUTHORIZED {
            return res;
        }
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(1),
            "still accepted after a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn revoked_expired_and_forged_keys_get_401_here_at_once_and_everywhere_within_a_second() {
    let app = TestApp::spawn().await;
    let other = app.spawn_second().await;
    let owner = app.owner_token(&app.acme).await;
    let key = create_key(&app, &owner, json!({"name": "k", "scopes": ["*:read"]})).await;
    let secret = key["secret"].as_str().unwrap().to_owned();
    let id = key["id"].as_str().unwrap().to_owned();
    assert_eq!(
        other.get("/v1/me", Some(&secret)).await.status(),
        StatusCode::OK
    );

    // Forged: right id, wrong secret; a mangled key; the same key one character short.
    let mut forged = secret.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [forged.as_str(), "tnr_nonsense", &secret[..secret.len() - 1]] {
        assert_eq!(
            app.get("/v1/me", Some(bad)).await.status(),
            StatusCode::UNAUTHORIZED,
            "{bad}"
        );
        assert_eq!(
            with_x_api_key(&app, Method::GET, "/v1/me", bad).await,
            StatusCode::UNAUTHORIZED
        );
    }

    // Revoked on one instance: refused there at the very next request, and on the other
    // (which keeps the key in memory) within a second.
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/v1/me", Some(&secret)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = until_refused(&other, &secret).await;
    assert_eq!(problem(res).await["code"], "unauthenticated");
    let shown: Value = app
        .get(&format!("/v1/api-keys/{id}"), Some(&owner))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["status"], "revoked");
    // A revoked key cannot be edited back to life.
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/api-keys/{id}"),
            Some(&owner),
            Some(json!({"scopes": ["*:*"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // Expired: the clock passes its expiry.
    let key = create_key(
        &app,
        &owner,
        json!({"name": "short", "scopes": ["*:read"], "expires_in_days": 1}),
    )
    .await;
    let secret = key["secret"].as_str().unwrap();
    assert_eq!(
        other.get("/v1/me", Some(secret)).await.status(),
        StatusCode::OK
    );
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query(
        "update api_keys set expires_at = now() - interval '1 second' where name = 'short'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    until_refused(&other, secret).await;

    // A disabled identity's keys die with it.
    let (member_id, member_email) = app.member(&app.acme, "member").await;
    let member = app.token("acme", &member_email).await;
    let key = create_key(&app, &member, json!({"name": "m", "scopes": ["*:read"]})).await;
    let secret = key["secret"].as_str().unwrap();
    assert_eq!(
        app.get("/v1/me", Some(secret)).await.status(),
        StatusCode::OK
    );
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/identities/{member_id}"),
            Some(&owner),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        app.get("/v1/me", Some(secret)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bad_input_is_named_field_by_field() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let res = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&owner),
            Some(json!({"name": "", "scopes": ["memories:write"], "expires_in_days": 0})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = problem(res).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "scopes", "expires_in_days"], "{body}");
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let n: i64 = sqlx::query_scalar("select count(*) from api_keys")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 0);

    // Another tenant's key does not exist.
    let key = create_key(&app, &owner, json!({"name": "k", "scopes": ["*:read"]})).await;
    let globex = app.owner_token(&app.globex).await;
    let path = format!("/v1/api-keys/{}", key["id"].as_str().unwrap());
    assert_eq!(
        app.get(&path, Some(&globex)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(Method::DELETE, &path, Some(&globex), None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

/// The console's "revoke its keys" (hole 3): every working key of one identity ends at
/// once, for whoever may revoke them; a viewer may not, and another tenant's identity has
/// none to revoke here.
#[tokio::test]
async fn every_key_of_an_identity_is_revoked_in_one_step() {
    let app = TestApp::spawn().await;
    let (member_id, member_email) = app.member(&app.acme, "member").await;
    let member = app.token("acme", &member_email).await;
    let mut secrets = Vec::new();
    for name in ["laptop script", "ci job"] {
        let key = create_key(
            &app,
            &member,
            json!({"name": name, "scopes": ["identities:read"]}),
        )
        .await;
        secrets.push(key["secret"].as_str().unwrap().to_owned());
    }
    for s in &secrets {
        assert_eq!(app.get("/v1/me", Some(s)).await.status(), StatusCode::OK);
    }
    let (viewer_id, _) = app.member(&app.acme, "viewer").await;
    let viewer = crate::helpers::member_ctx(&app.db, app.acme.id, viewer_id).await;
    let err = service::api_keys::revoke_all_of(&viewer, &app.db, member_id)
        .await
        .unwrap_err();
    assert_eq!(err.status(), 403);
    for s in &secrets {
        assert_eq!(app.get("/v1/me", Some(s)).await.status(), StatusCode::OK);
    }
    // From another tenant: 404, and nothing of acme's is touched.
    let globex = crate::helpers::owner_ctx(&app.db, &app.globex).await;
    let err = service::api_keys::revoke_all_of(&globex, &app.db, member_id)
        .await
        .unwrap_err();
    assert_eq!(err.status(), 404);
    assert_eq!(
        app.get("/v1/me", Some(&secrets[0])).await.status(),
        StatusCode::OK
    );

    let (admin_id, _) = app.member(&app.acme, "admin").await;
    let admin = crate::helpers::member_ctx(&app.db, app.acme.id, admin_id).await;
    let revoked = service::api_keys::revoke_all_of(&admin, &app.db, member_id)
        .await
        .unwrap();
    assert_eq!(revoked.len(), 2);
    for s in &secrets {
        assert_eq!(
            app.get("/v1/me", Some(s)).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Each revocation is in the audit trail.
    let trail = app
        .get(
            "/v1/audit?action=api_key.revoked",
            Some(&app.owner_token(&app.acme).await),
        )
        .await;
    let trail: Value = trail.json().await.unwrap();
    assert_eq!(trail["items"].as_array().unwrap().len(), 2, "{trail}");
    // Nothing left: a second call revokes nothing.
    assert!(
        service::api_keys::revoke_all_of(&admin, &app.db, member_id)
            .await
            .unwrap()
            .is_empty()
    );
}
