//! Sign-in over HTTP: tokens, refresh rotation with reuse detection, the JWKS, key
//! rotation, throttling, and console sessions.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::auth::tokens::Claims;

use crate::helpers::{PASSWORD, TestApp, problem};

async fn jwks(app: &TestApp) -> Vec<Value> {
    let body: Value = app
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    body["keys"].as_array().unwrap().clone()
}

fn verify_with_jwks(token: &str, keys: &[Value]) -> Claims {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    let kid = header.kid.expect("kid");
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the token's key is published");
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["crv"].as_str(),
            jwk["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let key = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&["tenantry-api"]);
    validation.set_issuer(&["tenantry"]);
    jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .unwrap()
        .claims
}

#[tokio::test]
async fn token_is_a_jwt_that_the_published_jwks_verifies() {
    let app = TestApp::spawn().await;
    let res = app
        .token_response("acme", "OWNER@acme.test", PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let claims = verify_with_jwks(body["access_token"].as_str().unwrap(), &jwks(&app).await);
    assert_eq!(claims.sub, app.acme.owner_id);
    assert_eq!(claims.tid, app.acme.id);
    assert_eq!(
        (
            claims.roles.join(",").as_str(),
            claims.plan.as_str(),
            claims.scope.as_str()
        ),
        ("owner", "pro", "api")
    );
    assert_eq!(claims.exp - claims.iat, 900);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("rt1."));

    let me: Value = app
        .get("/v1/me", body["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["identity"]["email"], "owner@acme.test");
    assert_eq!(me["tenant"]["slug"], "acme");
}

#[tokio::test]
async fn wrong_credentials_look_the_same_whatever_was_wrong() {
    let app = TestApp::spawn().await;
    for (tenant, email, password) in [
        ("acme", "owner@acme.test", "wrong password here"),
        ("acme", "nobody@acme.test", PASSWORD),
        ("nosuchtenant", "owner@acme.test", PASSWORD),
        ("globex", "owner@acme.test", PASSWORD),
    ] {
        let res = app.token_response(tenant, email, password).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{tenant}/{email}");
        let body = problem(res).await;
        assert_eq!(body["code"], "invalid_credentials");
        assert_eq!(body["detail"], "Invalid credentials");
    }
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        let res = app
            .token_response("acme", "owner@acme.test", "not the password")
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked now, even with the right password.
    let res = app
        .token_response("acme", "owner@acme.test", PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "retry-after {retry}");
    let body = problem(res).await;
    assert_eq!(body["code"], "rate_limited");
    // Another account is not affected.
    assert_eq!(
        app.token_response("globex", "owner@globex.test", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_cannot_outrun_the_throttle() {
    let app = TestApp::spawn().await;
    let mut guesses = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (client, url) = (app.client.clone(), app.url("/v1/auth/token"));
        guesses.spawn(async move {
            let body = json!({"tenant": "acme", "email": "owner@acme.test", "password": format!("guess number {i:02}")});
            client.post(url).json(&body).send().await.unwrap().status()
        });
    }
    let statuses = guesses.join_all().await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + refused, 20, "{statuses:?}");
    assert!(
        checked <= 5,
        "only 5 guesses may reach the password check, {checked} did"
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    let first: Value = app
        .token_response("acme", "owner@acme.test", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let r1 = first["refresh_token"].as_str().unwrap();
    let refresh = |token: &str| {
        app.send(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": token})),
        )
    };

    let res = refresh(r1).await;
    assert_eq!(res.status(), StatusCode::OK);
    let second: Value = res.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(
        app.get("/v1/me", second["access_token"].as_str())
            .await
            .status(),
        StatusCode::OK
    );

    // r1 was spent: presenting it again is theft, and the whole family dies, r2 included.
    assert_eq!(refresh(r1).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&r2).await.status(), StatusCode::UNAUTHORIZED);

    let ctx = crate::helpers::owner_ctx(&app.db, &app.acme).await;
    let actions: Vec<String> =
        service::audit_log::for_target(&ctx, &app.db, "identity", app.acme.owner_id)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.action)
            .collect();
    assert!(
        actions.contains(&"auth.refresh_token_reused".to_owned()),
        "{actions:?}"
    );

    for garbage in ["", "rt1.", "rt1.AAAA", "not-a-token"] {
        assert_eq!(refresh(garbage).await.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn disabled_identities_lose_access_at_once() {
    let app = TestApp::spawn().await;
    let (id, email) = app.member(&app.acme, "admin").await;
    let token = app.token("acme", &email).await;
    assert_eq!(
        app.get("/v1/me", Some(&token)).await.status(),
        StatusCode::OK
    );
    let ctx = crate::helpers::owner_ctx(&app.db, &app.acme).await;
    service::identities::set_disabled(&ctx, &app.db, id, true)
        .await
        .unwrap();
    assert_eq!(
        app.get("/v1/me", Some(&token)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.token_response("acme", &email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn rotated_keys_keep_verifying_and_instances_pick_up_new_keys() {
    let first = TestApp::spawn().await;
    let old_token = first.owner_token(&first.acme).await;
    let old_kid = jsonwebtoken::decode_header(&old_token)
        .unwrap()
        .kid
        .unwrap();

    let new_kid = service::auth::keys::KeyRing::rotate(&first.db, &first.master)
        .await
        .unwrap();
    assert_ne!(new_kid, old_kid);

    let second = first.spawn_second().await;
    let new_token = second.token("acme", "owner@acme.test").await;
    assert_eq!(
        jsonwebtoken::decode_header(&new_token)
            .unwrap()
            .kid
            .unwrap(),
        new_kid
    );

    // Both tokens work on both instances; the first reloads its keys on the unknown kid.
    for app in [&first, &second] {
        assert_eq!(
            app.get("/v1/me", Some(&old_token)).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            app.get("/v1/me", Some(&new_token)).await.status(),
            StatusCode::OK
        );
    }
    let kids: Vec<String> = jwks(&second)
        .await
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        kids.contains(&old_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );
}

#[tokio::test]
async fn garbage_and_missing_tokens_get_401_problems() {
    let app = TestApp::spawn().await;
    for token in [None, Some("garbage"), Some("eyJhbGciOiJIUzI1NiJ9.e30.x")] {
        let res = app.get("/v1/identities", token).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()["www-authenticate"],
            "Bearer realm=\"tenantry\""
        );
        let body = problem(res).await;
        assert_eq!(body["code"], "unauthenticated");
        assert_eq!(body["status"], 401);
    }
}

#[tokio::test]
async fn console_session_signs_in_rotates_the_id_and_signs_out() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let origin = app.url("");
    let login = |password: &'static str| {
        client
            .post(app.url("/api/auth/login"))
            .header("origin", &origin)
            .header("accept", "text/html")
            .header("referer", app.url("/login"))
            .form(&[
                ("tenant", "acme"),
                ("email", "owner@acme.test"),
                ("password", password),
            ])
            .send()
    };
    let session_cookie = |res: &reqwest::Response| {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("tenantry_session="))
    };

    // A failed plain-form sign-in goes back to the form, with the error kept for it.
    let failed = login("wrong password!!").await.unwrap();
    assert_eq!(failed.status(), StatusCode::FOUND);
    let back = failed.headers()["location"].to_str().unwrap();
    assert_eq!(back, "/login", "back to the form, with no error in the URL");
    let before = session_cookie(&failed).expect("the flash needs a session");
    assert!(
        before.contains("HttpOnly") && before.contains("SameSite=Lax"),
        "{before}"
    );

    let ok = login(PASSWORD).await.unwrap();
    assert_eq!(ok.status(), StatusCode::FOUND);
    assert_eq!(ok.headers()["location"], "/identities");
    let after = session_cookie(&ok).expect("a new session id");
    assert_ne!(
        before.split(';').next(),
        after.split(';').next(),
        "the session id is rotated at sign-in"
    );

    let me: Value = client
        .post(app.url("/api/auth/me"))
        .header("origin", &origin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "owner@acme.test");
    assert_eq!(me["tenant_slug"], "acme");

    // The console page renders for the signed-in admin.
    let page = client.get(app.url("/identities")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("acme Inc."), "the shell shows the tenant");

    let out = client
        .post(app.url("/api/auth/logout"))
        .header("origin", &origin)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success() || out.status().is_redirection());
    let me: Value = client
        .post(app.url("/api/auth/me"))
        .header("origin", &origin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(me.is_null());
    let page = client
        .get(app.url("/identities"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::FOUND);
    assert!(
        page.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
}

#[tokio::test]
async fn cross_origin_server_function_calls_are_refused() {
    let app = TestApp::spawn().await;
    let client = app.console_session("acme", "owner@acme.test").await;
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let res = client
            .post(app.url("/api/identities/create"))
            .header(header, value)
            .form(&[
                ("email", "csrf@example.com"),
                ("display_name", ""),
                ("external_id", ""),
                ("kind", "user"),
                ("role", "member"),
                ("metadata", "{}"),
                ("password", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert_eq!(problem(res).await["code"], "cross_origin_request");
    }
    let ctx = crate::helpers::owner_ctx(&app.db, &app.acme).await;
    let page = service::identities::list(&ctx, &app.db, Default::default())
        .await
        .unwrap();
    assert!(
        page.items
            .iter()
            .all(|i| i.email.as_deref() != Some("csrf@example.com"))
    );
}
