//! Invitations end to end against a real SMTP server (maildev): the mail arrives, its link
//! validates and accepts once; resend kills the old link; revoked and expired links get a
//! clear answer; the outbox retries and, without SMTP, keeps the link for the console.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{PASSWORD, TestApp, invitation_token, maildev, owner_ctx, problem};

fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::now_v7().simple())
}

async fn invite(app: &TestApp, token: &str, body: Value) -> Value {
    let res = app
        .send(Method::POST, "/v1/invitations", Some(token), Some(body))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.send(Method::POST, path, None, Some(body)).await
}

#[tokio::test]
async fn an_invitation_mail_arrives_and_its_link_accepts_once() {
    let app = TestApp::spawn_with_mail().await;
    let owner = app.owner_token(&app.acme).await;
    let group: Value = app
        .send(
            Method::POST,
            "/v1/groups",
            Some(&owner),
            Some(json!({"name": "Support", "kind": "team"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let email = unique_email("grace");
    let created = invite(
        &app,
        &owner,
        json!({"email": email, "roles": ["viewer"], "group_ids": [group["id"]],
               "message": "Welcome to the support team!", "expires_in_days": 3}),
    )
    .await;
    assert_eq!(created["status"], "pending");
    assert_eq!(created["roles"], json!(["viewer"]));
    assert_eq!(created["sent_count"], 1);
    assert!(
        created.get("token").is_none(),
        "the token is only in the mail"
    );

    let mails = maildev().mails_to(&email, 1).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(
        mail["subject"],
        "Owner invited you to acme Inc. on Tenantry"
    );
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("Welcome to the support team!"), "{text}");
    assert!(text.contains(&app.url("/invite/iv1.")), "{text}");
    let token = invitation_token(mail);

    // The token is stored only as a hash.
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let (hash, sealed): (Vec<u8>, Vec<u8>) = sqlx::query_as(
        "select v.token_hash, m.body_sealed from invitations v join mail_outbox m on m.subject_id = v.id",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(hash.len(), 32);
    assert!(!String::from_utf8_lossy(&sealed).contains(&token[4..20]));

    let preview: Value = post(&app, "/v1/invitations/validate", json!({"token": token}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["status"], "pending");
    assert_eq!(preview["tenant"], "acme");
    assert_eq!(preview["email"], email);
    assert_eq!(preview["inviter_name"], "Owner");

    // A weak password is refused and nothing is used up.
    let res = post(
        &app,
        "/v1/invitations/accept",
        json!({"token": token, "display_name": "Grace", "password": "short"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let res = post(
        &app,
        "/v1/invitations/accept",
        json!({"token": token, "display_name": "Grace Hopper", "password": "grace has a long password"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let pair: Value = res.json().await.unwrap();
    let me: Value = app
        .get("/v1/me", pair["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["identity"]["email"], email);
    assert_eq!(me["identity"]["display_name"], "Grace Hopper");
    let id = me["identity"]["id"].as_str().unwrap().to_owned();
    let roles: Value = app
        .get(&format!("/v1/identities/{id}/roles"), Some(&owner))
        .await
        .json()
        .await
        .unwrap();
    assert!(roles.to_string().contains("viewer"), "{roles}");
    let members: Value = app
        .get(
            &format!("/v1/groups/{}/members", group["id"].as_str().unwrap()),
            Some(&owner),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(members.to_string().contains(&id), "{members}");
    // They can sign in with the password they chose.
    assert_eq!(
        app.token_response("acme", &email, "grace has a long password")
            .await
            .status(),
        StatusCode::OK
    );

    // Used once; afterwards the link says so.
    let res = post(
        &app,
        "/v1/invitations/accept",
        json!({"token": token, "display_name": "Again", "password": "another long password"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "invitation_used");
    let shown: Value = app
        .get(
            &format!("/v1/invitations/{}", created["id"].as_str().unwrap()),
            Some(&owner),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["status"], "accepted");
    assert_eq!(shown["accepted_by"], id);
    let audit: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action in ('invitation.created', 'invitation.accepted')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(audit, 2);
}

#[tokio::test]
async fn resend_kills_the_old_link_revoke_and_expiry_close_it() {
    let app = TestApp::spawn_with_mail().await;
    let owner = app.owner_token(&app.acme).await;

    // Resend: a new link, the old one dead.
    let email = unique_email("resend");
    let created = invite(&app, &owner, json!({"email": email})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let first = invitation_token(&maildev().mails_to(&email, 1).await[0]);
    let res = app
        .send(
            Method::POST,
            &format!("/v1/invitations/{id}/resend"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["sent_count"], 2);
    let mails = maildev().mails_to(&email, 2).await;
    assert_eq!(mails.len(), 2);
    let second = mails
        .iter()
        .map(invitation_token)
        .find(|t| *t != first)
        .expect("a new token");
    let res = post(&app, "/v1/invitations/validate", json!({"token": first})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = post(&app, "/v1/invitations/validate", json!({"token": second})).await;
    assert_eq!(res.status(), StatusCode::OK);

    // Revoked: the link says so, and it cannot be resent.
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/invitations/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = post(
        &app,
        "/v1/invitations/accept",
        json!({"token": second, "display_name": "R", "password": "a long enough password"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "invitation_revoked");
    let res = app
        .send(
            Method::POST,
            &format!("/v1/invitations/{id}/resend"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);

    // Expired: refused until resent, which opens it again with a fresh expiry.
    let email = unique_email("late");
    let created = invite(&app, &owner, json!({"email": email})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let token = invitation_token(&maildev().mails_to(&email, 1).await[0]);
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query(
        "update invitations set expires_at = now() - interval '1 minute' where id = $1::uuid",
    )
    .bind(&id)
    .execute(&mut conn)
    .await
    .unwrap();
    let preview: Value = post(&app, "/v1/invitations/validate", json!({"token": token}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(preview["status"], "expired");
    let res = post(
        &app,
        "/v1/invitations/accept",
        json!({"token": token, "display_name": "L", "password": "a long enough password"}),
    )
    .await;
    assert_eq!(problem(res).await["code"], "invitation_expired");
    let listed: Value = app
        .get("/v1/invitations?status=expired", Some(&owner))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let res = app
        .send(
            Method::POST,
            &format!("/v1/invitations/{id}/resend"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "pending");
}

#[tokio::test]
async fn bad_invitations_are_refused_and_leave_nothing_behind() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let email = unique_email("dup");
    invite(&app, &owner, json!({"email": email})).await;

    let cases = [
        (
            json!({"email": email}),
            StatusCode::CONFLICT,
            "already_invited",
        ),
        (
            json!({"email": "owner@acme.test"}),
            StatusCode::CONFLICT,
            "already_member",
        ),
        (
            json!({"email": "not an email"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"email": unique_email("r"), "roles": ["no-such-role"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"email": unique_email("g"), "group_ids": [uuid::Uuid::now_v7()]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"email": unique_email("d"), "expires_in_days": 90}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
    ];
    for (body, status, code) in cases {
        let res = app
            .send(
                Method::POST,
                "/v1/invitations",
                Some(&owner),
                Some(body.clone()),
            )
            .await;
        assert_eq!(res.status(), status, "{body}");
        assert_eq!(problem(res).await["code"], code, "{body}");
    }
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let counts: (i64, i64) = sqlx::query_as(
        "select (select count(*) from invitations), (select count(*) from mail_outbox)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(counts, (1, 1));

    // Nobody hands out more than they hold: an admin cannot invite an owner.
    let (_, admin_email) = app.member(&app.acme, "admin").await;
    let admin = app.token("acme", &admin_email).await;
    let res = app
        .send(
            Method::POST,
            "/v1/invitations",
            Some(&admin),
            Some(json!({"email": unique_email("boss"), "roles": ["owner"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A viewer reads invitations but cannot send one.
    let (_, viewer_email) = app.member(&app.acme, "viewer").await;
    let viewer = app.token("acme", &viewer_email).await;
    assert_eq!(
        app.get("/v1/invitations", Some(&viewer)).await.status(),
        StatusCode::OK
    );
    let res = app
        .send(
            Method::POST,
            "/v1/invitations",
            Some(&viewer),
            Some(json!({"email": unique_email("v")})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Garbage tokens are simply not found.
    for token in ["iv1.bogus", "", "rt1.AAAA"] {
        let res = post(&app, "/v1/invitations/validate", json!({"token": token})).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{token}");
    }
    let _ = PASSWORD;
}

#[tokio::test]
async fn the_outbox_retries_and_without_smtp_keeps_the_link_for_the_console() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let email = unique_email("retry");
    invite(&app, &owner, json!({"email": email})).await;

    // The SMTP server is down: the mail stays queued with its error, nothing is lost.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = server::workers::mail::Mailer::new(
        Some(&format!("smtp://127.0.0.1:{dead_port}")),
        "Tenantry <no-reply@tenantry.test>",
        &app.url(""),
    )
    .unwrap();
    let sent = server::workers::mail::deliver_due(&app.db, &down)
        .await
        .unwrap();
    assert_eq!(sent, 0);
    let ctx = owner_ctx(&app.db, &app.acme).await;
    let outbox = service::mail::outbox(&ctx, &app.db, 50).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].status, "queued");
    assert_eq!(outbox[0].attempts, 1);
    assert!(outbox[0].last_error.as_deref().unwrap().contains("SMTP"));
    assert!(
        outbox[0].link_path.is_none(),
        "a queued mail's link is not shown"
    );

    // Back up: once the retry is due, it goes out.
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query("update mail_outbox set next_attempt_at = now()")
        .execute(&mut conn)
        .await
        .unwrap();
    let up = server::workers::mail::Mailer::new(
        Some(&maildev().smtp_url()),
        "Tenantry <no-reply@tenantry.test>",
        &app.url(""),
    )
    .unwrap();
    assert_eq!(
        server::workers::mail::deliver_due(&app.db, &up)
            .await
            .unwrap(),
        1
    );
    assert_eq!(maildev().mails_to(&email, 1).await.len(), 1);
    let outbox = service::mail::outbox(&ctx, &app.db, 50).await.unwrap();
    assert_eq!(outbox[0].status, "sent");

    // No SMTP at all: the mail goes to the log, and the console can show its link.
    let email = unique_email("local");
    invite(&app, &owner, json!({"email": email})).await;
    let log_only =
        server::workers::mail::Mailer::new(None, "Tenantry <no-reply@tenantry.test>", &app.url(""))
            .unwrap();
    assert_eq!(
        server::workers::mail::deliver_due(&app.db, &log_only)
            .await
            .unwrap(),
        1
    );
    let outbox = service::mail::outbox(&ctx, &app.db, 50).await.unwrap();
    let logged = outbox.iter().find(|m| m.to == email).unwrap();
    assert_eq!(logged.status, "logged");
    let path = logged.link_path.clone().unwrap();
    let token = path.strip_prefix("/invite/").unwrap();
    let res = post(&app, "/v1/invitations/validate", json!({"token": token})).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Only to those who may invite: a viewer (who may read the invitations) sees the mail,
    // never its link.
    let (viewer_id, _) = app.member(&app.acme, "viewer").await;
    let viewer = crate::helpers::member_ctx(&app.db, app.acme.id, viewer_id).await;
    let seen = service::mail::outbox(&viewer, &app.db, 50).await.unwrap();
    let as_viewer = seen.iter().find(|m| m.to == email).unwrap();
    assert_eq!(as_viewer.status, "logged");
    assert_eq!(as_viewer.link_path, None);

    // A password reset link is its owner's alone: logged, but never shown to admins.
    let res = post(
        &app,
        "/v1/auth/password-reset",
        json!({"tenant": "acme", "email": "owner@acme.test"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert_eq!(
        server::workers::mail::deliver_due(&app.db, &log_only)
            .await
            .unwrap(),
        1
    );
    let outbox = service::mail::outbox(&ctx, &app.db, 50).await.unwrap();
    let reset = outbox.iter().find(|m| m.kind == "password_reset").unwrap();
    assert_eq!(reset.status, "logged");
    assert!(reset.link_path.is_none());

    // Another tenant's outbox is its own.
    let globex = owner_ctx(&app.db, &app.globex).await;
    assert!(
        service::mail::outbox(&globex, &app.db, 50)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The first `pr1.` reset token in a mail's text.
fn reset_token(mail: &Value) -> String {
    let text = mail["text"].as_str().unwrap();
    let start = text.find("/reset-password/pr1.").expect("a reset link") + "/reset-password/".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect()
}

#[tokio::test]
async fn a_password_reset_link_arrives_by_mail_and_works_once() {
    let app = TestApp::spawn_with_mail().await;
    let (_, email) = app.member(&app.acme, "member").await;
    let console = app.console_session("acme", &email).await;
    let pair: Value = app
        .token_response("acme", &email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();

    // Unknown accounts get the same answer and no mail.
    let nobody = unique_email("nobody");
    for (tenant, who) in [
        ("acme", nobody.as_str()),
        ("no-such-tenant", email.as_str()),
    ] {
        let res = post(
            &app,
            "/v1/auth/password-reset",
            json!({"tenant": tenant, "email": who}),
        )
        .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let res = post(
        &app,
        "/v1/auth/password-reset",
        json!({"tenant": "ACME", "email": email.to_uppercase()}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    // A second ask within a minute sends nothing more.
    post(
        &app,
        "/v1/auth/password-reset",
        json!({"tenant": "acme", "email": email}),
    )
    .await;
    let mails = maildev().mails_to(&email, 1).await;
    assert_eq!(mails.len(), 1);
    assert!(maildev().mails_to(&nobody, 0).await.is_empty());
    assert_eq!(
        mails[0]["subject"],
        "Reset your acme Inc. password on Tenantry"
    );
    let token = reset_token(&mails[0]);

    let confirm = |t: &str, p: &str| json!({"token": t, "new_password": p});
    let res = post(
        &app,
        "/v1/auth/password-reset/confirm",
        confirm(&token, "short"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let new_password = "a brand new password after reset";
    let res = post(
        &app,
        "/v1/auth/password-reset/confirm",
        confirm(&token, new_password),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // The old password is gone, the new one works, and every session ended.
    assert_eq!(
        app.token_response("acme", &email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.token_response("acme", &email, new_password)
            .await
            .status(),
        StatusCode::OK
    );
    let status = console
        .post(app.url("/api/account/get"))
        .header("origin", app.url(""))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let res = post(
        &app,
        "/v1/auth/refresh",
        json!({"refresh_token": pair["refresh_token"]}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Used once.
    let res = post(
        &app,
        "/v1/auth/password-reset/confirm",
        confirm(&token, "yet another long password"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "reset_link_invalid");

    // Expired links do not work either.
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query("update password_resets set created_at = now() - interval '2 minutes'")
        .execute(&mut conn)
        .await
        .unwrap();
    post(
        &app,
        "/v1/auth/password-reset",
        json!({"tenant": "acme", "email": email}),
    )
    .await;
    let mails = maildev().mails_to(&email, 2).await;
    let second = mails
        .iter()
        .map(reset_token)
        .find(|t| *t != token)
        .expect("a second link");
    sqlx::query(
        "update password_resets set expires_at = now() - interval '1 second' where used_at is null",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let res = post(
        &app,
        "/v1/auth/password-reset/confirm",
        confirm(&second, "yet another long password"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}
