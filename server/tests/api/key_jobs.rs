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
        json!({"identities": 1, "invitations": 1, "memories": 1, "sso_links": 0}),
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
        json!({"identities": 0, "invitations": 0, "memories": 0, "sso_links": 0})
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
