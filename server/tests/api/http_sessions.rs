//! Sessions and self-service over HTTP: console sessions listed with their device, revoked
//! one by one, all at once or by an admin; a password change or a disabled identity ends
//! them; API clients log out by revoking their refresh token family.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{PASSWORD, TestApp, problem};

/// Whether a console client is still signed in (a server function that needs a member).
async fn signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    let status = client
        .post(app.url("/api/api_keys/list"))
        .header("origin", app.url(""))
        .form(&[("all", "false")])
        .send()
        .await
        .unwrap()
        .status();
    match status {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("unexpected status {other}"),
    }
}

async fn sessions(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let res = app.get(&format!("/v1/sessions{query}"), Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn sessions_are_listed_with_their_device_and_revoked_one_by_one_or_all() {
    let app = TestApp::spawn().await;
    let laptop = app.console_session("acme", "owner@acme.test").await;
    let phone = app.console_session("acme", "owner@acme.test").await;
    let token = app.owner_token(&app.acme).await;

    let listed = sessions(&app, &token, "").await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    for s in &listed {
        assert_eq!(s["ip"], "127.0.0.1");
        assert_eq!(s["current"], false, "an API call has no console session");
        assert!(s["device"].as_str().unwrap().len() > 1);
        assert_eq!(s["identity_id"], app.acme.owner_id.to_string());
    }
    assert!(signed_in(&app, &laptop).await && signed_in(&app, &phone).await);

    // One revoked: that browser is out, the other is not.
    let first = listed[0]["id"].as_str().unwrap().to_owned();
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/sessions/{first}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(sessions(&app, &token, "").await.len(), 1);
    let still = [
        signed_in(&app, &laptop).await,
        signed_in(&app, &phone).await,
    ];
    assert_eq!(still.iter().filter(|s| **s).count(), 1, "{still:?}");

    // Another tenant's owner cannot even see it exists.
    let remaining = sessions(&app, &token, "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let globex = app.owner_token(&app.globex).await;
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/sessions/{remaining}"),
            Some(&globex),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(sessions(&app, &globex, "").await.is_empty());

    // All at once (an API caller has no current session to keep); refresh tokens die too.
    let pair: Value = app
        .token_response("acme", "owner@acme.test", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .send(Method::DELETE, "/v1/sessions", Some(&token), None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["sessions_ended"], 1);
    assert!(!signed_in(&app, &laptop).await && !signed_in(&app, &phone).await);
    let res = app
        .send(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": pair["refresh_token"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admins_end_other_peoples_sessions_and_members_cannot() {
    let app = TestApp::spawn().await;
    let (member_id, member_email) = app.member(&app.acme, "member").await;
    let member_console = app.console_session("acme", &member_email).await;
    let member = app.token("acme", &member_email).await;
    let owner_console = app.console_session("acme", "owner@acme.test").await;
    let owner = app.owner_token(&app.acme).await;

    // A member sees their own sessions but not the owner's, and cannot end the owner's.
    assert_eq!(sessions(&app, &member, "").await.len(), 1);
    let res = app
        .get(
            &format!("/v1/sessions?identity_id={}", app.acme.owner_id),
            Some(&member),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let owners = sessions(&app, &owner, "").await;
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/sessions/{}", owners[0]["id"].as_str().unwrap()),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(signed_in(&app, &owner_console).await);

    // The owner ends every session of the member.
    let listed = sessions(&app, &owner, &format!("?identity_id={member_id}")).await;
    assert_eq!(listed.len(), 1);
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/sessions?identity_id={member_id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!signed_in(&app, &member_console).await);
    assert!(signed_in(&app, &owner_console).await);

    // Disabling an identity ends its sessions and refresh tokens at once.
    let again = app.console_session("acme", &member_email).await;
    let pair: Value = app
        .token_response("acme", &member_email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/identities/{member_id}"),
            Some(&owner),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert!(res.status().is_success());
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let (rows, live): (i64, i64) = sqlx::query_as(
        "select (select count(*) from sessions where identity_id = $1),
                (select count(*) from refresh_tokens where identity_id = $1 and revoked_at is null)",
    )
    .bind(member_id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((rows, live), (0, 0));
    assert!(!signed_in(&app, &again).await);
    let res = app
        .send(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": pair["refresh_token"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn changing_the_password_checks_the_current_one_and_signs_out_elsewhere() {
    let app = TestApp::spawn().await;
    let elsewhere = app.console_session("acme", "owner@acme.test").await;
    let pair: Value = app
        .token_response("acme", "owner@acme.test", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = pair["access_token"].as_str().unwrap();

    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let res = app
        .send(
            Method::POST,
            "/v1/me/password",
            Some(token),
            Some(change("not my password", "a brand new long password")),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "current_password");
    let res = app
        .send(
            Method::POST,
            "/v1/me/password",
            Some(token),
            Some(change(PASSWORD, "short")),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "new_password");
    assert!(
        signed_in(&app, &elsewhere).await,
        "failed attempts change nothing"
    );

    let new_password = "a brand new long password";
    let res = app
        .send(
            Method::POST,
            "/v1/me/password",
            Some(token),
            Some(change(PASSWORD, new_password)),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let done: Value = res.json().await.unwrap();
    assert_eq!(done["sessions_ended"], 1);
    assert!(done["refresh_tokens_revoked"].as_u64().unwrap() >= 1);
    assert!(!signed_in(&app, &elsewhere).await);
    let res = app
        .send(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": pair["refresh_token"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.token_response("acme", "owner@acme.test", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.token_response("acme", "owner@acme.test", new_password)
            .await
            .status(),
        StatusCode::OK
    );

    // The audit record says what happened and holds no password material.
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let after: Value = sqlx::query_scalar(
        "select after from audit_log where action = 'identity.password_changed'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(after["sessions_ended"], 1);
    assert!(!after.to_string().contains("argon2"));
}

#[tokio::test]
async fn profile_changes_and_api_logout() {
    let app = TestApp::spawn().await;
    let pair: Value = app
        .token_response("acme", "owner@acme.test", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let token = pair["access_token"].as_str().unwrap();
    let res = app
        .send(
            Method::PATCH,
            "/v1/me",
            Some(token),
            Some(json!({"display_name": "Ada Owner"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap()["display_name"],
        "Ada Owner"
    );
    let res = app
        .send(
            Method::PATCH,
            "/v1/me",
            Some(token),
            Some(json!({"display_name": " "})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // An API key is not its person: no profile or password changes with one.
    let key: Value = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(token),
            Some(json!({"name": "k", "scopes": ["*:*"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .send(
            Method::PATCH,
            "/v1/me",
            Some(key["secret"].as_str().unwrap()),
            Some(json!({"display_name": "Hijacked"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Logout revokes the refresh token family; doing it twice, or with junk, is fine.
    let logout = |t: &str| json!({"refresh_token": t});
    let rt = pair["refresh_token"].as_str().unwrap();
    for body in [logout(rt), logout(rt), logout("rt1.junk")] {
        let res = app
            .send(Method::POST, "/v1/auth/logout", None, Some(body))
            .await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    let res = app
        .send(Method::POST, "/v1/auth/refresh", None, Some(logout(rt)))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_cleanup_removes_dead_tokens_and_keeps_live_ones() {
    let app = TestApp::spawn().await;
    for _ in 0..2 {
        let res = app
            .token_response("acme", "owner@acme.test", PASSWORD)
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    // One of the two expired two days ago.
    sqlx::query(
        "update refresh_tokens set expires_at = now() - interval '2 days'
         where id = (select id from refresh_tokens order by created_at limit 1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let removed = service::sessions::delete_expired_credentials(&app.db)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let left: i64 = sqlx::query_scalar("select count(*) from refresh_tokens")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 1);
}

async fn console_state(app: &TestApp, client: &reqwest::Client) -> Value {
    app.server_fn(client, "/api/console/state").await
}

#[tokio::test]
async fn one_browser_switches_between_the_tenants_it_signed_in_to() {
    let app = TestApp::spawn().await;
    let browser = app.console_session("acme", "owner@acme.test").await;
    // Adding a tenant keeps the first one.
    let res = browser
        .post(app.url("/api/auth/login"))
        .header("origin", app.url(""))
        .form(&[
            ("tenant", "globex"),
            ("email", "owner@globex.test"),
            ("password", PASSWORD),
            ("add", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success() || res.status().is_redirection());
    let state = console_state(&app, &browser).await;
    assert_eq!(state["user"]["tenant_slug"], "globex");
    assert_eq!(
        state["user"]["other_tenants"],
        json!([[app.acme.id.to_string(), "acme Inc."]])
    );

    let switch = |tenant: String| {
        browser
            .post(app.url("/api/auth/switch_tenant"))
            .header("origin", app.url(""))
            .form(&[("tenant", tenant)])
            .send()
    };
    let res = switch(app.acme.id.to_string()).await.unwrap();
    assert!(res.status().is_success() || res.status().is_redirection());
    let state = console_state(&app, &browser).await;
    assert_eq!(state["user"]["tenant_slug"], "acme");
    // A tenant this browser never signed in to is out of reach.
    let res = switch(uuid::Uuid::now_v7().to_string()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        console_state(&app, &browser).await["user"]["tenant_slug"],
        "acme"
    );

    // A plain sign-in (someone else at the same browser) forgets the other tenants.
    let (_, member_email) = app.member(&app.acme, "member").await;
    browser
        .post(app.url("/api/auth/login"))
        .header("origin", app.url(""))
        .form(&[
            ("tenant", "acme"),
            ("email", member_email.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let state = console_state(&app, &browser).await;
    assert_eq!(state["user"]["email"], member_email);
    assert_eq!(state["user"]["other_tenants"], json!([]));
    let res = switch(app.globex.id.to_string()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// A browser signed in to acme (as `email`) and then to globex (its owner), now acting in
/// globex.
async fn switched_away(app: &TestApp, email: &str) -> reqwest::Client {
    let browser = app.console_session("acme", email).await;
    let res = browser
        .post(app.url("/api/auth/login"))
        .header("origin", app.url(""))
        .form(&[
            ("tenant", "globex"),
            ("email", "owner@globex.test"),
            ("password", PASSWORD),
            ("add", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success() || res.status().is_redirection());
    assert_eq!(
        console_state(app, &browser).await["user"]["tenant_slug"],
        "globex"
    );
    browser
}

#[tokio::test]
async fn every_revocation_ends_a_session_switched_to_another_tenant() {
    let app = TestApp::spawn().await;
    let owner = crate::helpers::owner_ctx(&app.db, &app.acme).await;
    let signed_out = |browser: reqwest::Client| {
        let app = &app;
        async move { console_state(app, &browser).await["user"].is_null() }
    };

    // An admin disables the acme identity: the browser, acting in globex, is signed out.
    let (id, email) = app.member(&app.acme, "member").await;
    let browser = switched_away(&app, &email).await;
    service::identities::set_disabled(&owner, &app.db, id, true)
        .await
        .unwrap();
    assert!(signed_out(browser).await, "disable");

    // An admin ends every session of the acme identity.
    let (id, email) = app.member(&app.acme, "member").await;
    let browser = switched_away(&app, &email).await;
    service::sessions::revoke_all(&owner, &app.db, Some(id))
        .await
        .unwrap();
    assert!(signed_out(browser).await, "an admin's revoke");

    // The person signs out everywhere from another browser.
    let (_, email) = app.member(&app.acme, "member").await;
    let browser = switched_away(&app, &email).await;
    let elsewhere = app.console_session("acme", &email).await;
    let res = elsewhere
        .post(app.url("/api/account/revoke_others"))
        .header("origin", app.url(""))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success() || res.status().is_redirection(),
        "{}",
        res.status()
    );
    assert!(signed_out(browser).await, "sign out everywhere");
    assert!(
        !signed_out(elsewhere).await,
        "the browser that asked stays signed in"
    );
}

#[tokio::test]
async fn a_password_reset_ends_a_session_switched_to_another_tenant() {
    let app = TestApp::spawn_with_mail().await;
    let (_, email) = app.member(&app.acme, "member").await;
    let browser = switched_away(&app, &email).await;
    service::account::request_password_reset(&service::Ctx::system(), &app.db, "acme", &email)
        .await
        .unwrap();
    let mails = crate::helpers::maildev().mails_to(&email, 1).await;
    let text = mails[0]["text"].as_str().unwrap();
    let start = text.find("/reset-password/").unwrap() + "/reset-password/".len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    service::account::reset_password(
        &service::Ctx::system(),
        &app.db,
        &token,
        "a fresh and long password",
    )
    .await
    .unwrap();
    assert!(console_state(&app, &browser).await["user"].is_null());
}
