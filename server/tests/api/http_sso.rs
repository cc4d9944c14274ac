//! Single sign-on against a real OpenID provider (`oidc-provider`, started by the harness):
//! a browser (a cookie-keeping HTTP client) goes from the app to the provider's login and
//! consent forms and back to `/auth/oidc/callback`.

use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, oidc_provider, owner_ctx};

/// A browser: keeps cookies for the app and the provider, follows nothing by itself.
struct Browser {
    client: reqwest::Client,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.unwrap()
    }

    /// Starts signing in at the app: the provider's authorization URL it redirects to.
    async fn start(&self, app: &TestApp, path: &str) -> String {
        let res = self.get(&app.url(path)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "start {path}");
        location(&app.url(path), &res)
    }

    /// Goes through the provider's login (as `login`) and consent forms: the callback URL
    /// the provider sends the browser to (not visited yet).
    async fn through_provider(&self, authorize_url: &str, login: &str) -> String {
        let mut url = authorize_url.to_owned();
        for _ in 0..16 {
            if url.contains("/auth/oidc/callback") {
                return url;
            }
            let res = self.get(&url).await;
            if res.status().is_redirection() {
                url = location(&url, &res);
                continue;
            }
            assert_eq!(res.status(), StatusCode::OK, "provider page {url}");
            let html = res.text().await.unwrap();
            let action = between(&html, "action=\"", "\"").expect("a form on the provider's page");
            let prompt = between(&html, "name=\"prompt\" value=\"", "\"").expect("a prompt");
            let target = Url::parse(&url).unwrap().join(&action).unwrap().to_string();
            let form: Vec<(&str, &str)> = match prompt.as_str() {
                "login" => vec![
                    ("prompt", "login"),
                    ("login", login),
                    ("password", "any password"),
                ],
                _ => vec![("prompt", "consent")],
            };
            let res = self.client.post(&target).form(&form).send().await.unwrap();
            assert!(res.status().is_redirection(), "form post: {}", res.status());
            url = location(&target, &res);
        }
        panic!("the provider never sent the browser back");
    }

    /// Visits the callback: where the app sends the browser next.
    async fn finish(&self, callback_url: &str) -> String {
        let res = self.get(callback_url).await;
        assert!(res.status().is_redirection(), "callback: {}", res.status());
        location(callback_url, &res)
    }

    /// The whole sign-in, from the app's login route to where the app sends the browser.
    async fn sign_in(&self, app: &TestApp, path: &str, login: &str) -> String {
        let authorize = self.start(app, path).await;
        let callback = self.through_provider(&authorize, login).await;
        self.finish(&callback).await
    }

    /// The signed-in user as the console sees it (`null` when signed out).
    async fn me(&self, app: &TestApp) -> Value {
        app.server_fn(&self.client, "/api/auth/me").await
    }

    /// The page at `url` (a sign-in or invitation page showing the outcome). A console
    /// that answers 503 (every console runtime busy, as on a loaded test machine) is asked
    /// again, as a browser's user would; any other status than 200 fails the test.
    async fn page(&self, url: &str) -> String {
        for _ in 0..20 {
            let res = self.get(url).await;
            match res.status() {
                reqwest::StatusCode::OK => return res.text().await.unwrap(),
                reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                other => panic!("{url}: {other}: {}", res.text().await.unwrap_or_default()),
            }
        }
        panic!("{url}: the console stayed unavailable for 10 s");
    }
}

/// A connection as the schema's owner, which sees every tenant's rows.
async fn superuser(app: &TestApp) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(&app.db_url).await.unwrap()
}

fn location(base: &str, res: &reqwest::Response) -> String {
    let loc = res
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap();
    Url::parse(base).unwrap().join(loc).unwrap().to_string()
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(text[from..from + len].replace("&amp;", "&"))
}

/// Replaces query parameter `name` of `url` with `value`.
fn with_param(url: &str, name: &str, value: &str) -> String {
    let mut url = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == name {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

/// A provider in acme for the test provider, registered for this app.
async fn provider(app: &TestApp, jit: bool, domains: &[&str], role: &str) -> Uuid {
    let (client_id, secret) = oidc_provider().register(app).await;
    let ctx = owner_ctx(&app.db, &app.acme).await;
    service::sso::create(
        &ctx,
        &app.db,
        service::sso::ProviderInput {
            name: Some("Test IdP".into()),
            issuer: Some(oidc_provider().issuer()),
            client_id: Some(client_id),
            client_secret: Some(secret),
            allowed_domains: Some(domains.iter().map(|d| (*d).to_owned()).collect()),
            default_role: Some(role.into()),
            jit_provisioning: Some(jit),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

async fn identity_by_email(app: &TestApp, email: &str) -> Option<(Uuid, Vec<String>)> {
    let ctx = owner_ctx(&app.db, &app.acme).await;
    let found = service::identities::find_by_email(&ctx, &app.db, email)
        .await
        .ok()?;
    Some((found.id, found.roles))
}

#[tokio::test]
async fn a_first_sign_in_provisions_then_later_ones_follow_the_link() {
    let app = TestApp::spawn().await;
    let id = provider(&app, true, &[], "viewer").await;

    let browser = Browser::new();
    let landed = browser
        .sign_in(&app, &format!("/auth/sso/login/{id}?next=/roles"), "newbie")
        .await;
    assert_eq!(landed, app.url("/roles"), "back to the page asked for");
    let me = browser.me(&app).await;
    assert_eq!(me["email"], "newbie@example.com");
    assert_eq!(me["tenant_slug"], "acme");
    let (identity, roles) = identity_by_email(&app, "newbie@example.com")
        .await
        .expect("provisioned");
    assert_eq!(roles, vec!["viewer".to_owned()]);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where target_id = $1 and action in ('identity.created', 'identity.sso_linked')",
    )
    .bind(identity)
    .fetch_one(&mut superuser(&app).await)
    .await
    .unwrap();
    assert_eq!(audited, 2, "provisioning and linking are audited");

    // Another browser, the same subject: the same identity, nobody new.
    let again = Browser::new();
    again
        .sign_in(&app, &format!("/auth/sso/login/{id}"), "newbie")
        .await;
    assert_eq!(again.me(&app).await["identity_id"], identity.to_string());
    let links: i64 = sqlx::query_scalar("select count(*) from sso_links where provider_id = $1")
        .bind(id)
        .fetch_one(&mut superuser(&app).await)
        .await
        .unwrap();
    assert_eq!(links, 1);
    // The address the provider vouched for is kept sealed under the person's key...
    let (plain, sealed): (Option<String>, Option<Vec<u8>>) =
        sqlx::query_as("select email, email_sealed from sso_links where provider_id = $1")
            .bind(id)
            .fetch_one(&mut superuser(&app).await)
            .await
            .unwrap();
    let sealed = sealed.expect("sealed");
    assert_eq!(plain, None);
    assert_eq!(sealed[..2], [1, 2], "format 1, under the subject's key");
    assert!(!sealed.windows(6).any(|w| w == b"newbie"));
    // ...and handed to the person in their export.
    let owner = app.owner_token(&app.acme).await;
    let started: serde_json::Value = app
        .send(
            reqwest::Method::POST,
            &format!("/v1/identities/{identity}/export"),
            Some(&owner),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let link = started["download_url"].as_str().unwrap().to_owned();
    let start = std::time::Instant::now();
    let document: serde_json::Value = loop {
        let res = app.get(&link, None).await;
        if res.status() == reqwest::StatusCode::OK {
            break res.json().await.unwrap();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "export not ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(
        document["sso_links"][0]["email"], "newbie@example.com",
        "{document}"
    );

    // Disabled in the tenant: the link no longer signs anyone in.
    let ctx = owner_ctx(&app.db, &app.acme).await;
    service::identities::set_disabled(&ctx, &app.db, identity, true)
        .await
        .unwrap();
    let third = Browser::new();
    let back = third
        .sign_in(&app, &format!("/auth/sso/login/{id}"), "newbie")
        .await;
    assert_eq!(back, app.url("/login?tenant=acme"));
    assert!(third.page(&back).await.contains("is disabled or deleted"));
    assert!(third.me(&app).await.is_null());
}

#[tokio::test]
async fn an_existing_identity_is_linked_by_its_verified_email() {
    let app = TestApp::spawn().await;
    let id = provider(&app, false, &[], "member").await;
    let browser = Browser::new();
    let landed = browser
        .sign_in(&app, &format!("/auth/sso/login/{id}"), "owner@acme.test")
        .await;
    assert_eq!(landed, app.url("/identities"));
    assert_eq!(
        browser.me(&app).await["identity_id"],
        app.acme.owner_id.to_string()
    );

    // Without provisioning, someone unknown is told what to do.
    let stranger = Browser::new();
    let back = stranger
        .sign_in(&app, &format!("/auth/sso/login/{id}"), "stranger")
        .await;
    assert_eq!(back, app.url("/login?tenant=acme"));
    let page = stranger.page(&back).await;
    assert!(
        page.contains("There is no account for stranger@example.com"),
        "{page}"
    );
    assert!(stranger.me(&app).await.is_null());
    assert!(
        identity_by_email(&app, "stranger@example.com")
            .await
            .is_none()
    );
    // The trail keeps the refusal with the address masked.
    let count = |pattern: &'static str| {
        let app = &app;
        async move {
            let n: i64 =
                sqlx::query_scalar("select count(*) from audit_log a where a::text like $1")
                    .bind(pattern)
                    .fetch_one(&mut superuser(app).await)
                    .await
                    .unwrap();
            n
        }
    };
    assert_eq!(count("%stranger@example.com%").await, 0);
    assert!(count("%no account for s•••@example.com%").await >= 1);
}

/// Two servers in one process, each on a runtime of its own, as the tests run them: one
/// server's calls to the provider never ride on a connection the other opened. Server A
/// signs someone in, then its runtime stops running (alive, not polled, as a test's
/// runtime is while its thread does other work); server B's sign-in must not wait on A's
/// connection. With one provider client for the whole process, B's code exchange was
/// handed A's idle connection and timed out: `sso_exchange_failed` under load.
#[test]
fn a_server_never_uses_another_servers_provider_connections() {
    let (signed_in, a_signed_in) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let a = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let app = rt.block_on(async {
            let app = TestApp::spawn().await;
            let id = provider(&app, true, &[], "member").await;
            let landed = Browser::new()
                .sign_in(&app, &format!("/auth/sso/login/{id}"), "first-server")
                .await;
            signed_in.send(landed == app.url("/identities")).unwrap();
            app
        });
        // The runtime (and the connections it opened) now stands still until released.
        let _ = released.recv();
        drop(app);
        drop(rt);
    });
    assert!(a_signed_in.recv().unwrap(), "server A signs in");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let app = TestApp::spawn().await;
        let id = provider(&app, true, &[], "member").await;
        let browser = Browser::new();
        let landed = browser
            .sign_in(&app, &format!("/auth/sso/login/{id}"), "second-server")
            .await;
        let page = browser.page(&landed).await;
        assert_eq!(landed, app.url("/identities"), "{page}");
    });
    release.send(()).unwrap();
    a.join().unwrap();
}

#[tokio::test]
async fn wrong_state_nonce_or_issuer_and_replays_are_refused() {
    let app = TestApp::spawn().await;
    let id = provider(&app, true, &[], "member").await;
    let start = format!("/auth/sso/login/{id}");

    // A state that is not the one this browser's attempt made.
    let browser = Browser::new();
    let authorize = browser.start(&app, &start).await;
    let callback = browser.through_provider(&authorize, "mallory").await;
    let back = browser
        .finish(&with_param(&callback, "state", "forged-state"))
        .await;
    assert!(
        browser
            .page(&back)
            .await
            .contains("does not belong to the sign-in this browser started")
    );
    assert!(browser.me(&app).await.is_null());

    // A nonce changed on the way to the provider: the ID token carries the wrong one.
    let browser = Browser::new();
    let authorize = browser.start(&app, &start).await;
    let tampered = with_param(&authorize, "nonce", "another-nonce");
    let callback = browser.through_provider(&tampered, "mallory").await;
    let back = browser.finish(&callback).await;
    assert!(browser.page(&back).await.contains("nonce mismatch"));
    assert!(browser.me(&app).await.is_null());

    // An `iss` that is not the provider the browser was sent to (RFC 9207).
    let browser = Browser::new();
    let authorize = browser.start(&app, &start).await;
    let callback = browser.through_provider(&authorize, "mallory").await;
    assert!(
        callback.contains("iss="),
        "the provider names itself: {callback}"
    );
    let back = browser
        .finish(&with_param(&callback, "iss", "https://evil.example"))
        .await;
    assert!(
        browser
            .page(&back)
            .await
            .contains("came from a different identity provider")
    );
    assert!(browser.me(&app).await.is_null());

    // A finished attempt cannot be finished again, nor by another browser.
    let browser = Browser::new();
    let authorize = browser.start(&app, &start).await;
    let callback = browser.through_provider(&authorize, "mallory").await;
    let thief = Browser::new();
    let back = thief.finish(&callback).await;
    assert!(thief.page(&back).await.contains("No sign-in was started"));
    assert!(thief.me(&app).await.is_null());
    browser.finish(&callback).await;
    assert_eq!(browser.me(&app).await["email"], "mallory@example.com");
    assert_eq!(browser.finish(&callback).await, app.url("/login"));
}

#[tokio::test]
async fn unverified_emails_and_other_domains_are_refused() {
    let app = TestApp::spawn().await;
    let id = provider(&app, true, &["corp.test"], "member").await;
    let start = format!("/auth/sso/login/{id}");

    let browser = Browser::new();
    let back = browser
        .sign_in(&app, &start, "unverified-eve@corp.test")
        .await;
    assert!(browser.page(&back).await.contains("has not verified"));
    assert!(browser.me(&app).await.is_null());

    let browser = Browser::new();
    let back = browser.sign_in(&app, &start, "alice").await;
    let page = browser.page(&back).await;
    assert!(
        page.contains("you signed in as alice@example.com"),
        "{page}"
    );
    assert!(browser.me(&app).await.is_null());
    assert!(identity_by_email(&app, "alice@example.com").await.is_none());

    let browser = Browser::new();
    browser.sign_in(&app, &start, "alice@corp.test").await;
    assert_eq!(browser.me(&app).await["email"], "alice@corp.test");
}

#[tokio::test]
async fn an_invitation_is_accepted_through_sso_by_the_invited_address_only() {
    let app = TestApp::spawn_with_mail().await;
    let id = provider(&app, false, &[], "member").await;
    let ctx = owner_ctx(&app.db, &app.acme).await;
    // maildev is shared by the tests: an address of this test's own.
    let login = format!("invitee-{}", Uuid::now_v7().simple());
    let email = format!("{login}@example.com");
    service::invitations::create(
        &ctx,
        &app.db,
        service::invitations::NewInvitation {
            email: email.clone(),
            roles: Some(vec!["viewer".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mail = &crate::helpers::maildev().mails_to(&email, 1).await[0];
    let token = crate::helpers::invitation_token(mail);

    // Signed in at the provider as someone else: refused, the invitation stays open.
    let browser = Browser::new();
    let back = browser
        .sign_in(
            &app,
            &format!("/auth/sso/login/{id}?invitation={token}"),
            "other",
        )
        .await;
    assert_eq!(back, app.url(&format!("/invite/{token}")));
    assert!(
        browser
            .page(&back)
            .await
            .contains(&format!("This invitation is for {email}"))
    );
    assert!(browser.me(&app).await.is_null());

    let browser = Browser::new();
    browser
        .sign_in(
            &app,
            &format!("/auth/sso/login/{id}?invitation={token}"),
            &login,
        )
        .await;
    assert_eq!(browser.me(&app).await["email"], email.as_str());
    let (_, roles) = identity_by_email(&app, &email).await.unwrap();
    assert_eq!(roles, vec!["viewer".to_owned()]);
    let preview = service::invitations::validate(&app.db, &token)
        .await
        .unwrap();
    assert_eq!(preview.status, service::invitations::Status::Accepted);
}

#[tokio::test]
async fn providers_are_managed_over_rest_and_their_secret_stays_sealed() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let issuer = oidc_provider().issuer();

    // An issuer that serves no discovery document is caught on save.
    let res = app
        .send(
            reqwest::Method::POST,
            "/v1/sso/providers",
            Some(&owner),
            Some(json!({"name": "Broken", "issuer": "http://127.0.0.1:9/", "client_id": "c", "client_secret": "s"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = crate::helpers::problem(res).await;
    assert_eq!(problem["errors"][0]["field"], "issuer");
    let res = app
        .send(
            reqwest::Method::POST,
            "/v1/sso/providers",
            Some(&owner),
            Some(json!({"name": "Plain", "issuer": "http://idp.example.com", "client_id": "c", "client_secret": "s"})),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "http off loopback"
    );

    let secret = "a-client-secret-nobody-may-read";
    let res = app
        .send(
            reqwest::Method::POST,
            "/v1/sso/providers",
            Some(&owner),
            Some(
                json!({"name": "Corp IdP", "issuer": issuer, "client_id": "corp-client",
                        "client_secret": secret, "allowed_domains": ["@Corp.Test"],
                        "default_role": "viewer", "jit_provisioning": true}),
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert!(!created.to_string().contains(secret), "never returned");
    assert_eq!(created["client_secret_set"], true);
    assert_eq!(created["allowed_domains"], json!(["corp.test"]));
    assert_eq!(created["scopes"], json!(["openid", "email", "profile"]));
    let id = created["id"].as_str().unwrap().to_owned();
    let sealed: Vec<u8> =
        sqlx::query_scalar("select client_secret from sso_providers where id = $1")
            .bind(Uuid::parse_str(&id).unwrap())
            .fetch_one(&mut superuser(&app).await)
            .await
            .unwrap();
    assert!(
        !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "sealed at rest"
    );
    let audit: String = sqlx::query_scalar(
        "select coalesce(after::text, '') from audit_log where action = 'sso_provider.created'",
    )
    .fetch_one(&mut superuser(&app).await)
    .await
    .unwrap();
    assert!(!audit.contains(secret), "not in the audit trail either");

    // Owners cannot be handed out at first sign-in.
    let res = app
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/sso/providers/{id}"),
            Some(&owner),
            Some(json!({"default_role": "owner"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let res = app
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/sso/providers/{id}"),
            Some(&owner),
            Some(json!({"name": "Corp SSO", "enabled": false})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let list: Value = app
        .get("/v1/sso/providers", Some(&owner))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["name"], "Corp SSO");
    assert_eq!(list["items"][0]["enabled"], false);
    assert_eq!(list["redirect_uri"], app.url("/auth/oidc/callback"));
    // A disabled provider has no button and starts no sign-in.
    assert!(
        service::sso::sign_in_options(&app.db, "acme")
            .await
            .unwrap()
            .is_empty()
    );
    let browser = Browser::new();
    let res = browser
        .get(&app.url(&format!("/auth/sso/login/{id}")))
        .await;
    assert_eq!(location(&app.url(""), &res), app.url("/login"));
    assert!(
        browser
            .page(&app.url("/login"))
            .await
            .contains("is turned off for this tenant")
    );

    let res = app
        .send(
            reqwest::Method::DELETE,
            &format!("/v1/sso/providers/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .get(&format!("/v1/sso/providers/{id}"), Some(&owner))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_site_cannot_start_a_sign_in_for_the_browser() {
    let app = TestApp::spawn().await;
    let id = provider(&app, true, &[], "member").await;
    let path = app.url(&format!("/auth/sso/login/{id}"));
    let browser = Browser::new();
    // A link or an image on another site: sent back to the sign-in page, nothing started.
    let res = browser
        .client
        .get(&path)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&path, &res), app.url("/login"));
    // From the sign-in page itself (or typed in): on to the provider.
    let res = browser
        .client
        .get(&path)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&path, &res).starts_with(&oidc_provider().issuer()));
}

#[tokio::test]
async fn provider_urls_go_through_the_outbound_guard_and_errors_tell_nothing_inside() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let add = |issuer: String| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.send(
                reqwest::Method::POST,
                "/v1/sso/providers",
                Some(&owner),
                Some(
                    json!({"name": format!("P {}", Uuid::now_v7().simple()), "issuer": issuer,
                            "client_id": "c", "client_secret": "s"}),
                ),
            )
            .await
        }
    };
    // Something inside the network that answers with words of its own: the admin hears
    // what happened, not what it said.
    let res = add(crate::helpers::receiver().url("not-an-idp")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem = crate::helpers::problem(res).await;
    let message = problem["errors"][0]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("HTTP 404"), "{message}");
    assert!(!message.contains("no such endpoint"), "{message}");

    // A server that keeps to the guard (as in production) reaches no loopback provider at
    // all, not even the real one the other tests use.
    let guarded = app.db.clone().with_sso(service::sso::oidc::Settings {
        allow_private: false,
        ..Default::default()
    });
    let owner_ctx = crate::helpers::owner_ctx(&guarded, &app.acme).await;
    let err = service::sso::create(
        &owner_ctx,
        &guarded,
        service::sso::ProviderInput {
            name: Some("Inside".into()),
            issuer: Some(oidc_provider().issuer()),
            client_id: Some("c".into()),
            client_secret: Some("s".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    let message = err.field_errors()[0].message.clone();
    assert!(message.contains("private, loopback"), "{message}");
}
