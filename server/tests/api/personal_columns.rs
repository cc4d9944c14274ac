//! Every column holding personal data is encrypted (issue 19): the one list of personal
//! columns (`service::privacy::columns`) matches the schema, and a canary given through
//! every door (the JSON API, the console's forms, the person's own account, mail) is
//! nowhere in a dump of the database, while every door still shows it to whoever may see it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::privacy::columns::{Kept, PERSONAL};

use crate::helpers::{PASSWORD, TestApp};
use crate::privacy::{dump, superuser};

const CANARY: &str = "qzdoorcanary";

#[tokio::test]
async fn the_list_of_personal_columns_matches_the_schema() {
    let app = TestApp::spawn().await;
    let mut su = superuser(&app).await;
    for c in PERSONAL {
        let found: i64 = sqlx::query_scalar(
            "select count(*) from information_schema.columns
             where table_schema = 'public' and table_name = $1 and column_name = $2",
        )
        .bind(c.table)
        .bind(c.column)
        .fetch_one(&mut su)
        .await
        .unwrap();
        assert_eq!(
            found, 1,
            "{}.{} is listed but not in the schema",
            c.table, c.column
        );
    }
}

fn email(door: &str) -> String {
    format!("{CANARY}.{door}@example.com")
}

async fn ok(res: reqwest::Response, what: &str) -> Value {
    let status = res.status();
    let body = res.text().await.unwrap();
    assert!(
        status.is_success() || status.is_redirection(),
        "{what}: {status} {body}"
    );
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_canary_given_through_every_door_is_nowhere_in_the_dump() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let t = Some(owner.as_str());

    // The JSON API: a person with the canary in their address, name and personal
    // metadata...
    let person = ok(
        app.send(
            Method::POST,
            "/v1/identities",
            t,
            Some(json!({
                "email": email("rest"),
                "display_name": "Rest QzDoorCanary",
                "personal_metadata": {"phone": format!("+33 {CANARY}")},
                "password": PASSWORD,
            })),
        )
        .await,
        "create a person",
    )
    .await;
    let person_id = person["id"].as_str().unwrap().to_owned();
    assert_eq!(
        person["personal_metadata"]["phone"],
        format!("+33 {CANARY}")
    );
    // ... changed: name, personal metadata, address (the old address is told by mail)...
    ok(
        app.send(
            Method::PATCH,
            &format!("/v1/identities/{person_id}"),
            t,
            Some(json!({
                "display_name": "Renamed QzDoorCanary",
                "email": email("moved"),
                "personal_metadata": {"phone": format!("+44 {CANARY}"), "city": CANARY},
            })),
        )
        .await,
        "change a person",
    )
    .await;
    // ... who asks for a password reset (a mail to the canary address)...
    let res = app
        .send(
            Method::POST,
            "/v1/auth/password-reset",
            None,
            Some(json!({"tenant": "acme", "email": email("moved")})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    // ... memories, the person's and the tenant's, and an invitation with a message.
    for body in [
        json!({"text": format!("{CANARY} keeps bees on the roof."), "owner_id": person_id}),
        json!({"text": format!("The tenant's note about {CANARY}.")}),
    ] {
        ok(
            app.send(Method::POST, "/v1/memories", t, Some(body)).await,
            "store a memory",
        )
        .await;
    }
    ok(
        app.send(
            Method::POST,
            "/v1/invitations",
            t,
            Some(json!({"email": email("invited"), "roles": ["viewer"],
                        "message": format!("Welcome aboard, {CANARY}!")})),
        )
        .await,
        "invite",
    )
    .await;

    // The console's forms, posted as a browser without JavaScript posts them.
    let console = app.console_session("acme", &app.acme.owner_email).await;
    let form = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let console = &console;
        let app = &app;
        async move {
            console
                .post(app.url(path))
                .header("origin", app.url(""))
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    let personal_box = json!({"city": CANARY}).to_string();
    ok(
        form(
            "/api/identities/create",
            vec![
                ("email", email("console")),
                ("display_name", "Console QzDoorCanary".into()),
                ("external_id", String::new()),
                ("kind", "user".into()),
                ("role", "member".into()),
                ("metadata", "{}".into()),
                ("personal_metadata", personal_box),
                ("password", String::new()),
            ],
        )
        .await,
        "the console's new identity",
    )
    .await;
    ok(
        form(
            "/api/invitations/create",
            vec![
                ("email", email("console-invited")),
                ("message", format!("From the console, {CANARY}.")),
                ("expires_in_days", "7".into()),
            ],
        )
        .await,
        "the console's invitation",
    )
    .await;
    ok(
        form(
            "/api/memories/create",
            vec![
                ("text", format!("The console remembers {CANARY}.")),
                ("tags", String::new()),
                ("source", String::new()),
                ("importance", "0.5".into()),
                ("metadata", "{}".into()),
                ("expiry", "default".into()),
                ("ttl_seconds", String::new()),
                ("owner_id", String::new()),
            ],
        )
        .await,
        "the console's memory",
    )
    .await;

    // A form refused, posted without JavaScript: what was typed is kept for the next view
    // of the form (sealed), and shown there again.
    let refused = console
        .post(app.url("/api/identities/create"))
        .header("origin", app.url(""))
        .header("accept", "text/html")
        .header("referer", app.url("/identities/new"))
        .form(&[
            ("email", email("refused").as_str()),
            ("display_name", "Refused QzDoorCanary"),
            ("external_id", ""),
            ("kind", "user"),
            ("role", "member"),
            ("metadata", "{}"),
            ("personal_metadata", "{}"),
            ("password", "short"),
        ])
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_redirection(), "{}", refused.status());
    let kept = dump(&app).to_lowercase();
    assert!(
        !kept.contains(&email("refused")),
        "a refused form's values are in the dump"
    );
    let page = console
        .get(app.url("/identities/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&email("refused")),
        "the form shows what was typed"
    );

    // The person's own doors: their profile in the console and through the API.
    let own = app.console_session("acme", &email("moved")).await;
    ok(
        own.post(app.url("/api/account/profile"))
            .header("origin", app.url(""))
            .form(&[("display_name", "Self QzDoorCanary")])
            .send()
            .await
            .unwrap(),
        "the person's profile",
    )
    .await;
    let token = app.token("acme", &email("moved")).await;
    ok(
        app.send(
            Method::PATCH,
            "/v1/me",
            Some(&token),
            Some(json!({"display_name": "Me QzDoorCanary"})),
        )
        .await,
        "the person's /v1/me",
    )
    .await;

    // Every door still shows what it was given to whoever may see it...
    let found: Value = app
        .get(&format!("/v1/identities?q={CANARY}"), t)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["display_name"].as_str())
        .collect();
    assert!(names.contains(&"Me QzDoorCanary"), "{found}");
    assert!(names.contains(&"Console QzDoorCanary"), "{found}");
    let got: Value = app
        .get(&format!("/v1/identities/{person_id}"), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["personal_metadata"]["city"], CANARY, "{got}");
    let outbox: i64 = sqlx::query_scalar("select count(*) from mail_outbox where tenant_id = $1")
        .bind(app.acme.id)
        .fetch_one(&mut superuser(&app).await)
        .await
        .unwrap();
    assert!(outbox >= 4, "the mails were queued: {outbox}");

    // ... and nothing of it is in the database in the clear.
    let dumped = dump(&app).to_lowercase();
    let leaks: Vec<&str> = dumped.lines().filter(|l| l.contains(CANARY)).collect();
    assert!(
        leaks.is_empty(),
        "the canary is in the dump:\n{}",
        leaks.join("\n")
    );
    // The plain columns of rows from before encryption are empty.
    let mut su = superuser(&app).await;
    for c in PERSONAL.iter().filter(|c| c.kept == Kept::Legacy) {
        let filled: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {} where {} is not null and {}::text <> ''",
            c.table, c.column, c.column
        )))
        .fetch_one(&mut su)
        .await
        .unwrap();
        assert_eq!(filled, 0, "{}.{} holds plain text", c.table, c.column);
    }
}
