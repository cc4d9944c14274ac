//! Key jobs (issue 19): the sealing job seals what rows written before field-level
//! encryption hold in plain text, and a data key's rotation wraps and seals everything again
//! under a new version and removes the old one; owners start them, others may at most
//! follow them, and a job whose worker went away is taken again and finished.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, problem};
use crate::privacy::{dump, superuser};

/// Waits until the tenant has no key job queued or running (the server queues a sealing
/// job at start-up when it finds plain rows); the newest job.
async fn settled(app: &TestApp, token: &str) -> Value {
    let start = Instant::now();
    loop {
        let shown: Value = app
            .get("/v1/encryption", Some(token))
            .await
            .json()
            .await
            .unwrap();
        let status = shown["job"]["status"].as_str().unwrap_or("none");
        if !matches!(status, "queued" | "running") {
            return shown;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "a key job did not end: {shown}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts a key job of `kind` as `token` and waits for it to end; the job as it ended.
async fn run_job(app: &TestApp, token: &str, kind: &str) -> Value {
    let res = app
        .send(
            Method::POST,
            "/v1/encryption/jobs",
            Some(token),
            Some(json!({ "kind": kind })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.unwrap();
    assert_eq!(job["kind"], kind);
    wait_job(app, token, job["id"].as_str().unwrap()).await
}

async fn wait_job(app: &TestApp, token: &str, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let job: Value = app
            .get(&format!("/v1/encryption/jobs/{id}"), Some(token))
            .await
            .json()
            .await
            .unwrap();
        if matches!(job["status"].as_str(), Some("done" | "failed")) {
            return job;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the key job did not end: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn created(res: reqwest::Response) -> Value {
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_sealing_job_seals_plain_rows_and_they_stay_usable() {
    const CANARY: &str = "qvlegacy";
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let t = Some(owner.as_str());
    settled(&app, &owner).await;
    let mut su = superuser(&app).await;

    // Rows as they were before field-level encryption: an identity, an invitation and a
    // memory holding personal data in plain text (made through the API, then unsealed).
    let (person, _) = app.member(&app.acme, "viewer").await;
    let email = format!("{CANARY}.person@example.com");
    sqlx::query(
        "update identities set email = $2, display_name = $3, email_sealed = null,
                display_name_sealed = null, email_index = null, name_grams = null
         where id = $1",
    )
    .bind(person)
    .bind(&email)
    .bind(format!("Lena {CANARY}"))
    .execute(&mut su)
    .await
    .unwrap();
    let invitation = created(
        app.send(
            Method::POST,
            "/v1/invitations",
            t,
            Some(json!({"email": "placeholder@example.com", "roles": ["viewer"]})),
        )
        .await,
    )
    .await;
    let invitation_id = invitation["id"].as_str().unwrap().to_owned();
    sqlx::query(
        "update invitations set email = $2, message = $3, email_sealed = null,
                message_sealed = null, email_index = null, key_wrapped = null
         where id = $1::uuid",
    )
    .bind(&invitation_id)
    .bind(format!("{CANARY}.invitee@example.com"))
    .bind(format!("Welcome aboard, {CANARY}!"))
    .execute(&mut su)
    .await
    .unwrap();
    let memory = created(
        app.send(
            Method::POST,
            "/v1/memories",
            t,
            Some(json!({"text": "placeholder memory", "owner_id": person})),
        )
        .await,
    )
    .await;
    let memory_id = memory["id"].as_str().unwrap().to_owned();
    let text = format!("The {CANARY} lighthouse keeper logs the fog horns nightly.");
    sqlx::query(
        "update memories set text_sealed = null, text = $2, content_hash = sha256($2::bytea)
         where id = $1::uuid",
    )
    .bind(&memory_id)
    .bind(&text)
    .execute(&mut su)
    .await
    .unwrap();
    let shown: Value = app.get("/v1/encryption", t).await.json().await.unwrap();
    assert_eq!(
        shown["plain"],
        json!({"identities": 1, "invitations": 1, "memories": 1, "sso_links": 0,
               "audit_records": 0, "events": 0}),
        "{shown}"
    );
    assert!(dump(&app).contains(CANARY));

    // Who may not start a job: an admin, a viewer, a key that may only read settings,
    // anyone not signed in. The viewer and the key may follow it; another tenant may not.
    let [admin, viewer, key] = app.settings_outsiders(&owner).await;
    let seal = json!({"kind": "seal"});
    for (who, token) in [("admin", &admin), ("viewer", &viewer), ("key", &key)] {
        let res = app
            .send(
                Method::POST,
                "/v1/encryption/jobs",
                Some(token),
                Some(seal.clone()),
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{who}");
    }
    let res = app
        .send(
            Method::POST,
            "/v1/encryption/jobs",
            None,
            Some(seal.clone()),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .send(
            Method::POST,
            "/v1/encryption/jobs",
            t,
            Some(json!({"kind": "shred-everything"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing was queued by the refusals.
    let none: i64 =
        sqlx::query_scalar("select count(*) from key_jobs where tenant_id = $1 and kind = 'seal' and requested_by is not null")
            .bind(app.acme.id)
            .fetch_one(&mut su)
            .await
            .unwrap();
    assert_eq!(none, 0);

    // One job at a time.
    let busy = Uuid::now_v7();
    sqlx::query(
        "insert into key_jobs (tenant_id, id, kind, status, attempts, lease_until)
         values ($1, $2, 'rotate', 'running', 1, now() + interval '1 hour')",
    )
    .bind(app.acme.id)
    .bind(busy)
    .execute(&mut su)
    .await
    .unwrap();
    let res = app
        .send(Method::POST, "/v1/encryption/jobs", t, Some(seal.clone()))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "key_job_running");
    sqlx::query("delete from key_jobs where id = $1")
        .bind(busy)
        .execute(&mut su)
        .await
        .unwrap();

    // The owner starts it; it seals the three rows and reports them.
    let job = run_job(&app, &owner, "seal").await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(
        (job["done"].as_i64(), job["total"].as_i64()),
        (Some(3), Some(3))
    );
    assert_eq!(job["percent"], 100);
    for token in [&viewer, &key] {
        let res = app
            .get(
                &format!("/v1/encryption/jobs/{}", job["id"].as_str().unwrap()),
                Some(token),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let other = app.owner_token(&app.globex).await;
    let res = app
        .get(
            &format!("/v1/encryption/jobs/{}", job["id"].as_str().unwrap()),
            Some(&other),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let shown: Value = app.get("/v1/encryption", t).await.json().await.unwrap();
    assert_eq!(
        shown["plain"],
        json!({"identities": 0, "invitations": 0, "memories": 0, "sso_links": 0,
               "audit_records": 0, "events": 0})
    );
    assert_eq!(shown["job"]["id"], job["id"]);

    // Nothing of it is left in plain text anywhere in the database...
    assert!(
        !dump(&app).contains(CANARY),
        "a plain value survived sealing"
    );
    // ... and everything reads, signs in and is found as before.
    let got: Value = app
        .get(&format!("/v1/identities/{person}"), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["email"], email.as_str());
    assert_eq!(got["display_name"], format!("Lena {CANARY}"));
    let found: Value = app
        .get(&format!("/v1/identities?q={CANARY}"), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"][0]["id"], person.to_string(), "{found}");
    let res = app.token_response(&app.acme.slug, &email, PASSWORD).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "sign-in by the sealed address"
    );
    let got: Value = app
        .get(&format!("/v1/invitations/{invitation_id}"), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["email"], format!("{CANARY}.invitee@example.com"));
    assert_eq!(got["message"], format!("Welcome aboard, {CANARY}!"));
    let got: Value = app
        .get(&format!("/v1/memories/{memory_id}"), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["text"], text.as_str());
    let hits: Value = app
        .send(
            Method::POST,
            "/v1/memories/search",
            t,
            Some(json!({"query": "lighthouse keepers", "mode": "keyword"})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        hits["items"][0]["memory"]["id"],
        memory_id.as_str(),
        "{hits}"
    );
    // The same text stored again is the same memory (its keyed hash).
    let res = app
        .send(
            Method::POST,
            "/v1/memories",
            t,
            Some(json!({"text": text, "owner_id": person})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["id"], memory_id.as_str());

    // Audited: asked for by the owner, ended by the server.
    let records: Value = app
        .get("/v1/audit?action=tenant.key_job_finished", t)
        .await
        .json()
        .await
        .unwrap();
    let ended = records["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["after"]["job_id"] == job["id"])
        .unwrap_or_else(|| panic!("no record of the job's end: {records}"));
    assert_eq!(ended["after"]["rows"], 3);
    assert_eq!(ended["after"]["status"], "done");
    let records: Value = app
        .get("/v1/audit?action=tenant.key_job_started", t)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        records["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["after"]["job_id"] == job["id"]),
        "{records}"
    );
}

/// The first bytes of an envelope sealed or wrapped under the tenant's data key `version`.
fn header(version: u32) -> Vec<u8> {
    let mut h = vec![1u8, 1];
    h.extend_from_slice(&version.to_be_bytes());
    h
}

/// Every envelope the data key seals or wraps, for the tenant: subjects' and invitations'
/// keys, and memories sealed under the tenant's key.
async fn tenant_envelopes(su: &mut sqlx::PgConnection, tenant: Uuid) -> Vec<Vec<u8>> {
    sqlx::query_scalar(
        "select wrapped from subject_keys where tenant_id = $1
         union all select key_wrapped from invitations where tenant_id = $1 and key_wrapped is not null
         union all select text_sealed from memories where tenant_id = $1
             and substring(text_sealed from 1 for 2) = '\\x0101'::bytea",
    )
    .bind(tenant)
    .fetch_all(su)
    .await
    .unwrap()
}

async fn data_versions(su: &mut sqlx::PgConnection, tenant: Uuid) -> Vec<i32> {
    sqlx::query_scalar(
        "select version from tenant_keys where tenant_id = $1 and purpose = 'data' order by version",
    )
    .bind(tenant)
    .fetch_all(su)
    .await
    .unwrap()
}

#[tokio::test]
async fn rotating_the_data_key_wraps_everything_again_and_removes_the_old_version() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let t = Some(owner.as_str());
    settled(&app, &owner).await;
    let mut su = superuser(&app).await;

    let (person, person_email) = app.member(&app.acme, "viewer").await;
    let note = created(
        app.send(
            Method::POST,
            "/v1/memories",
            t,
            Some(json!({"text": "The tenant's own note about harbour cranes."})),
        )
        .await,
    )
    .await;
    let invitation = created(
        app.send(
            Method::POST,
            "/v1/invitations",
            t,
            Some(
                json!({"email": "rotated.invitee@example.com", "roles": ["viewer"],
                        "message": "Come and see the cranes."}),
            ),
        )
        .await,
    )
    .await;
    // Another tenant with keys of its own, which the rotation leaves alone.
    let other = app.owner_token(&app.globex).await;
    app.member(&app.globex, "viewer").await;
    let globex_before = data_versions(&mut su, app.globex.id).await;
    let globex_envelopes = tenant_envelopes(&mut su, app.globex.id).await;

    let shown: Value = app.get("/v1/encryption", t).await.json().await.unwrap();
    assert_eq!(shown["data_key_version"], 1, "{shown}");
    let before = tenant_envelopes(&mut su, app.acme.id).await;
    assert!(before.len() >= 3);
    assert!(before.iter().all(|e| e.starts_with(&header(1))));

    let job = run_job(&app, &owner, "rotate").await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["data_key_version"], 2);
    assert_eq!(job["done"].as_i64(), Some(before.len() as i64), "{job}");

    // Everything names version 2, and version 1 is gone.
    assert_eq!(data_versions(&mut su, app.acme.id).await, [2]);
    let after = tenant_envelopes(&mut su, app.acme.id).await;
    assert_eq!(after.len(), before.len());
    assert!(after.iter().all(|e| e.starts_with(&header(2))));
    let shown: Value = app.get("/v1/encryption", t).await.json().await.unwrap();
    assert_eq!(shown["data_key_version"], 2);
    assert_eq!(shown["older_versions"], json!([]));

    // Everything still opens.
    let got: Value = app
        .get(&format!("/v1/identities/{person}"), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["email"], person_email.as_str());
    app.token(&app.acme.slug, &person_email).await;
    let got: Value = app
        .get(&format!("/v1/memories/{}", note["id"].as_str().unwrap()), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["text"], "The tenant's own note about harbour cranes.");
    let got: Value = app
        .get(
            &format!("/v1/invitations/{}", invitation["id"].as_str().unwrap()),
            t,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["email"], "rotated.invitee@example.com");
    assert_eq!(got["message"], "Come and see the cranes.");
    // What is made now is sealed under version 2.
    let (late, _) = app.member(&app.acme, "viewer").await;
    let wrapped: Vec<u8> =
        sqlx::query_scalar("select wrapped from subject_keys where identity_id = $1")
            .bind(late)
            .fetch_one(&mut su)
            .await
            .unwrap();
    assert!(wrapped.starts_with(&header(2)));

    // The other tenant's keys and envelopes are as they were.
    assert_eq!(data_versions(&mut su, app.globex.id).await, globex_before);
    assert_eq!(
        tenant_envelopes(&mut su, app.globex.id).await,
        globex_envelopes
    );
    let res = app
        .get(
            &format!("/v1/encryption/jobs/{}", job["id"].as_str().unwrap()),
            Some(&other),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // A rotation whose worker went away before it made its key (claimed once, its lease
    // run out) is taken again and finished.
    let stranded = Uuid::now_v7();
    sqlx::query(
        "insert into key_jobs (tenant_id, id, kind, status, attempts, lease_until, started_at)
         values ($1, $2, 'rotate', 'running', 1, now() - interval '1 second', now())",
    )
    .bind(app.acme.id)
    .bind(stranded)
    .execute(&mut su)
    .await
    .unwrap();
    let job = wait_job(&app, &owner, &stranded.to_string()).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["data_key_version"], 3);
    let attempts: i32 = sqlx::query_scalar("select attempts from key_jobs where id = $1")
        .bind(stranded)
        .fetch_one(&mut su)
        .await
        .unwrap();
    assert_eq!(attempts, 2);
    assert_eq!(data_versions(&mut su, app.acme.id).await, [3]);
    assert!(
        tenant_envelopes(&mut su, app.acme.id)
            .await
            .iter()
            .all(|e| e.starts_with(&header(3)))
    );
    let got: Value = app
        .get(&format!("/v1/identities/{person}"), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["email"], person_email.as_str());
}

/// Writes an audit record as one written before field-level encryption (unsealed: the
/// sealer links it like any other); its id.
async fn legacy_record(
    su: &mut sqlx::PgConnection,
    tenant: Uuid,
    target: (&str, Option<Uuid>),
    before: Option<Value>,
    after: Value,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into audit_log (tenant_id, id, actor_type, action, target_type, target_id, before, after)
         values ($1, $2, 'system', $3, $4, $5, $6, $7)",
    )
    .bind(tenant)
    .bind(id)
    .bind(format!("{}.updated", target.0))
    .bind(target.0)
    .bind(target.1)
    .bind(before)
    .bind(after)
    .execute(su)
    .await
    .unwrap();
    id
}

/// Seals now as the owner: the job the owner starts, or the one a server queued by itself
/// meanwhile (each server queues one as it starts, for every tenant with plain rows).
async fn seal_now(app: &TestApp, token: &str) -> Value {
    let res = app
        .send(
            Method::POST,
            "/v1/encryption/jobs",
            Some(token),
            Some(json!({ "kind": "seal" })),
        )
        .await;
    if res.status() == StatusCode::CONFLICT {
        return settled(app, token).await["job"].clone();
    }
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let job: Value = res.json().await.unwrap();
    wait_job(app, token, job["id"].as_str().unwrap()).await
}

/// Runs `query` as the application's database role, in a transaction scoped to `tenant`
/// that is rolled back.
async fn as_app(
    app: &TestApp,
    tenant: Uuid,
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    let mut tx = app.db.pool_for_tests().begin().await.unwrap();
    sqlx::query("select set_config('tenantry.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    query.execute(&mut *tx).await
}

async fn verify(app: &TestApp, token: &str) -> Value {
    let res = app
        .send(
            Method::POST,
            "/v1/audit/verify",
            Some(token),
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn record(app: &TestApp, token: &str, id: Uuid) -> Value {
    let res = app.get(&format!("/v1/audit/{id}"), Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_sealing_job_seals_the_trail_written_before_encryption_and_the_chain_still_verifies() {
    const CANARY: &str = "qvtrailold";
    const KEPT: &str = "qvguesser";
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let t = Some(owner.as_str());
    settled(&app, &owner).await;
    let mut su = superuser(&app).await;
    let tenant = app.acme.id;

    // Records and an event as they were written before encryption: a person's address,
    // name and metadata, an invitation's address and message, an API key's name, someone
    // deleted for good, and an address tried that names nobody (kept on purpose).
    let (person, _) = app.member(&app.acme, "viewer").await;
    let email = format!("{CANARY}.person@example.com");
    let updated = legacy_record(
        &mut su,
        tenant,
        ("identity", Some(person)),
        Some(json!({"id": person, "email": "old@example.com", "display_name": format!("Old {CANARY}"), "roles": ["viewer"]})),
        json!({"id": person, "email": email, "display_name": format!("Lena {CANARY}"),
               "personal_metadata": {"phone": format!("{CANARY}-555")}, "roles": ["viewer"]}),
    )
    .await;
    let invitation = created(
        app.send(
            Method::POST,
            "/v1/invitations",
            t,
            Some(json!({"email": "invitee@example.com", "roles": ["viewer"]})),
        )
        .await,
    )
    .await;
    let invitation_id: Uuid = invitation["id"].as_str().unwrap().parse().unwrap();
    let invited = legacy_record(
        &mut su,
        tenant,
        ("invitation", Some(invitation_id)),
        None,
        json!({"id": invitation_id, "email": format!("{CANARY}.invitee@example.com"),
               "message": format!("Welcome, {CANARY}"), "roles": ["viewer"]}),
    )
    .await;
    let key_id = Uuid::now_v7();
    let keyed = legacy_record(
        &mut su,
        tenant,
        ("api_key", Some(key_id)),
        None,
        json!({"id": key_id, "identity_id": person, "name": format!("{CANARY} laptop"), "scopes": []}),
    )
    .await;
    let gone = Uuid::now_v7();
    let forgotten = legacy_record(
        &mut su,
        tenant,
        ("identity", Some(gone)),
        None,
        json!({"id": gone, "email": format!("{CANARY}.gone@example.com"), "display_name": "Gone"}),
    )
    .await;
    let guessed = legacy_record(
        &mut su,
        tenant,
        ("identity", None),
        None,
        json!({"email": format!("{KEPT}@example.com"), "reason": "no user with this email"}),
    )
    .await;
    let event = Uuid::now_v7();
    sqlx::query(
        "insert into outbox_events (tenant_id, id, event_type, subject_type, subject_id, payload)
         values ($1, $2, 'identity.updated', 'identity', $3, $4)",
    )
    .bind(tenant)
    .bind(event)
    .bind(person)
    .bind(json!({"id": person, "data": {"id": person, "email": email, "display_name": format!("Lena {CANARY}")}}))
    .execute(&mut su)
    .await
    .unwrap();
    // Written after the records above: the chain is relinked past them.
    app.member(&app.acme, "viewer").await;

    let shown: Value = app.get("/v1/encryption", t).await.json().await.unwrap();
    assert_eq!(
        (&shown["plain"]["audit_records"], &shown["plain"]["events"]),
        (&json!(4), &json!(1)),
        "{shown}"
    );
    assert_eq!(verify(&app, &owner).await["ok"], true);
    assert!(dump(&app).contains(CANARY));

    // The application's role may not use the reseal to change anything but a plain
    // personal value into its own person's marker: not a name into another name, not a
    // value that is not personal, not a marker for someone else.
    let stranger = Uuid::now_v7();
    for (what, after) in [
        (
            "another name",
            json!({"id": person, "email": null, "display_name": "Someone else",
                   "personal_metadata": null, "roles": ["viewer"]}),
        ),
        (
            "roles",
            json!({"id": person, "email": email, "display_name": format!("Lena {CANARY}"),
                   "personal_metadata": {"phone": format!("{CANARY}-555")}, "roles": null}),
        ),
        (
            "someone else's marker",
            json!({"id": person, "email": {"$sealed": "AAAA", "$for": stranger},
                   "display_name": format!("Lena {CANARY}"),
                   "personal_metadata": {"phone": format!("{CANARY}-555")}, "roles": ["viewer"]}),
        ),
    ] {
        let before = json!({"id": person, "email": "old@example.com",
                            "display_name": format!("Old {CANARY}"), "roles": ["viewer"]});
        let forged = json!({ updated.to_string(): {"before": before, "after": after} });
        let refused = as_app(
            &app,
            tenant,
            sqlx::query("select * from tenantry_audit_reseal($1, $2)")
                .bind(tenant)
                .bind(&forged),
        )
        .await
        .unwrap_err();
        assert_eq!(
            refused
                .as_database_error()
                .and_then(|e| e.code())
                .as_deref(),
            Some("42501"),
            "{what}: {refused}"
        );
    }
    // Nor edit the trail itself.
    let denied = as_app(
        &app,
        tenant,
        sqlx::query("update audit_log set after = '{}' where id = $1").bind(updated),
    )
    .await;
    assert!(denied.is_err(), "the application updated an audit record");

    // The sealing job seals them, and the chain verifies afterwards.
    let job = seal_now(&app, &owner).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["done"], 5, "{job}");
    let dumped = dump(&app);
    assert!(
        !dumped.contains(CANARY),
        "a plain value survived in the trail"
    );
    assert!(
        dumped.contains(KEPT),
        "an address that names nobody is kept"
    );
    let verified = verify(&app, &owner).await;
    assert_eq!(verified["ok"], true, "{verified}");
    let shown: Value = app.get("/v1/encryption", t).await.json().await.unwrap();
    assert_eq!(shown["plain"]["audit_records"], 0, "{shown}");
    assert_eq!(shown["plain"]["events"], 0, "{shown}");

    // They read as before, through the person's key...
    let r = record(&app, &owner, updated).await;
    assert_eq!(r["after"]["email"], email.as_str(), "{r}");
    assert_eq!(r["after"]["display_name"], format!("Lena {CANARY}"));
    assert_eq!(
        r["after"]["personal_metadata"]["phone"],
        format!("{CANARY}-555")
    );
    assert_eq!(r["before"]["display_name"], format!("Old {CANARY}"));
    assert_eq!(r["after"]["roles"], json!(["viewer"]));
    let r = record(&app, &owner, invited).await;
    assert_eq!(r["after"]["message"], format!("Welcome, {CANARY}"), "{r}");
    let r = record(&app, &owner, keyed).await;
    assert_eq!(r["after"]["name"], format!("{CANARY} laptop"), "{r}");
    // ... except the person deleted for good, whose values are gone.
    let r = record(&app, &owner, forgotten).await;
    assert_eq!(r["after"]["email"], Value::Null, "{r}");
    assert_eq!(r["after"]["display_name"], Value::Null);
    let r = record(&app, &owner, guessed).await;
    assert_eq!(r["after"]["email"], format!("{KEPT}@example.com"));
    let events: Value = app
        .get(&format!("/v1/events?identity_id={person}"), t)
        .await
        .json()
        .await
        .unwrap();
    let old = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == event.to_string())
        .unwrap_or_else(|| panic!("the event is listed: {events}"));
    assert_eq!(old["data"]["email"], email.as_str(), "{old}");

    // The chain's relinking is on record.
    let resealed: Value = app
        .get("/v1/audit?target_type=audit", t)
        .await
        .json()
        .await
        .unwrap();
    let resealed = resealed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "audit.resealed")
        .unwrap_or_else(|| panic!("no audit.resealed record: {resealed}"))
        .clone();
    assert_eq!(resealed["actor_type"], "system");
    assert_eq!(resealed["after"]["records"], 4, "{resealed}");
    assert_ne!(
        resealed["after"]["head_before"],
        resealed["after"]["head_after"]
    );

    // Erasing the person now reaches what was written before encryption too.
    let res = app
        .send(
            Method::POST,
            &format!("/v1/identities/{person}/erase"),
            t,
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let r = record(&app, &owner, updated).await;
    assert_eq!(r["after"]["email"], Value::Null, "{r}");
    assert_eq!(verify(&app, &owner).await["ok"], true);
}

#[tokio::test]
async fn a_trail_that_does_not_verify_is_not_resealed_and_the_trail_cannot_be_rewritten() {
    const CANARY: &str = "qvtampered";
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let t = Some(owner.as_str());
    settled(&app, &owner).await;
    let mut su = superuser(&app).await;
    let tenant = app.acme.id;
    let (person, _) = app.member(&app.acme, "viewer").await;
    // Someone edits a record behind the server's back (before any plain one exists, so
    // that no sealing job can run in between): the chain no longer verifies.
    let edited: Uuid = sqlx::query_scalar(
        "update audit_log set after = jsonb_set(after, '{display_name}', '\"Edited\"')
         where tenant_id = $1 and target_id = $2 and action = 'identity.created'
         returning id",
    )
    .bind(tenant)
    .bind(person)
    .fetch_one(&mut su)
    .await
    .unwrap();
    let broken = verify(&app, &owner).await;
    assert_eq!(broken["ok"], false);
    let plain = legacy_record(
        &mut su,
        tenant,
        ("identity", Some(person)),
        None,
        json!({"id": person, "email": format!("{CANARY}@example.com"), "display_name": "Lena"}),
    )
    .await;
    let event = Uuid::now_v7();
    sqlx::query(
        "insert into outbox_events (tenant_id, id, event_type, subject_type, subject_id, payload)
         values ($1, $2, 'identity.updated', 'identity', $3, $4)",
    )
    .bind(tenant)
    .bind(event)
    .bind(person)
    .bind(json!({"id": person, "data": {"id": person, "email": format!("{CANARY}.event@example.com")}}))
    .execute(&mut su)
    .await
    .unwrap();
    app.member(&app.acme, "viewer").await;

    // The sealing job leaves the trail as it is rather than hide the edit by relinking;
    // the rest (the event here) is sealed.
    let job = seal_now(&app, &owner).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["error"].as_str().unwrap().contains("does not verify"),
        "{job}"
    );
    let after = verify(&app, &owner).await;
    assert_eq!(
        after["broken"], broken["broken"],
        "the break is still found where it was"
    );
    assert_eq!(
        record(&app, &owner, edited).await["after"]["display_name"],
        "Edited"
    );
    assert_eq!(
        record(&app, &owner, plain).await["after"]["email"],
        format!("{CANARY}@example.com")
    );
    assert!(dump(&app).contains(CANARY));
    let shown: Value = app.get("/v1/encryption", t).await.json().await.unwrap();
    // The edited value and the plain one.
    assert_eq!(shown["plain"]["audit_records"], 2, "{shown}");
    assert_eq!(shown["plain"]["events"], 0, "{shown}");
    assert!(!dump(&app).contains(&format!("{CANARY}.event")));
}

#[tokio::test]
async fn erasing_a_person_seals_away_what_the_trail_held_of_them_before_encryption() {
    const CANARY: &str = "qverasedold";
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let t = Some(owner.as_str());
    settled(&app, &owner).await;
    let mut su = superuser(&app).await;
    let (person, _) = app.member(&app.acme, "viewer").await;
    let (bystander, _) = app.member(&app.acme, "viewer").await;
    let theirs = legacy_record(
        &mut su,
        app.acme.id,
        ("identity", Some(person)),
        None,
        json!({"id": person, "email": format!("{CANARY}@example.com"), "display_name": "Lena"}),
    )
    .await;
    let other = legacy_record(
        &mut su,
        app.acme.id,
        ("identity", Some(bystander)),
        None,
        json!({"id": bystander, "email": "bystander@example.com", "display_name": "Bo"}),
    )
    .await;
    let res = app
        .send(
            Method::POST,
            &format!("/v1/identities/{person}/erase"),
            t,
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The erasure queued the sealing job, which the workers take at once.
    let shown = settled(&app, &owner).await;
    assert_eq!(shown["job"]["kind"], "seal", "{shown}");
    assert_eq!(shown["job"]["status"], "done", "{shown}");
    assert_eq!(shown["job"]["requested_by"], Value::Null);
    assert!(
        !dump(&app).contains(CANARY),
        "the erased person's old values survived"
    );
    let r = record(&app, &owner, theirs).await;
    assert_eq!(r["after"]["email"], Value::Null, "{r}");
    let r = record(&app, &owner, other).await;
    assert_eq!(r["after"]["email"], "bystander@example.com", "{r}");
    assert_eq!(verify(&app, &owner).await["ok"], true);
    // The server's job is on record from its start.
    let started: Value = app
        .get("/v1/audit?action=tenant.key_job_started", t)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        started["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["after"]["job_id"] == shown["job"]["id"] && r["actor_type"] == "system"),
        "{started}"
    );
}
