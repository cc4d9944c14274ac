//! Field-level encryption's constructions checked by a peer (libsodium, through
//! end2end/privacy/envelope-peer.mjs, written from docs/data-protection.md alone), and the
//! key hierarchy on a real database: tenant keys made once and shared by instances, and
//! `tenantry keys rotate-master`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use service::crypto::MasterKey;
use service::privacy::envelope::{self, Key, KeyRef, Place};
use service::privacy::keys::Keyring;
use uuid::Uuid;

use crate::cli::tenantry;
use crate::helpers::TestApp;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Sends `requests` to the peer, one JSON line each, and returns its answers in order.
fn peer(requests: &[Value]) -> Vec<Value> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("end2end/node_modules/libsodium-wrappers")
            .exists(),
        "libsodium-wrappers is not installed: run `make deps` (npm install in end2end/)"
    );
    let mut child = Command::new("node")
        .arg(root.join("end2end/privacy/envelope-peer.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    let mut stdin = child.stdin.take().unwrap();
    for r in requests {
        writeln!(stdin, "{r}").unwrap();
    }
    drop(stdin);
    let answers: Vec<Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success());
    assert_eq!(answers.len(), requests.len(), "{answers:?}");
    answers
}

fn place(tenant: Uuid, row: Uuid) -> Place<'static> {
    Place {
        tenant,
        table: "identities",
        column: "email",
        row,
    }
}

fn place_json(p: Place<'_>) -> Value {
    json!({"tenant": p.tenant, "table": p.table, "column": p.column, "row": p.row})
}

fn with(mut base: Value, more: Value) -> Value {
    base.as_object_mut()
        .unwrap()
        .extend(more.as_object().unwrap().clone());
    base
}

#[test]
fn envelopes_wrapped_keys_and_blind_indexes_agree_with_libsodium_and_hmac() {
    let key = Key::generate();
    let (tenant, row) = (Uuid::now_v7(), Uuid::now_v7());
    let here = place(tenant, row);
    let canary = "canary-ädä@example.com";
    let sealed = envelope::seal(&key, KeyRef::Subject(1), here, canary.as_bytes());
    let elsewhere = place(tenant, Uuid::now_v7());
    let mut other_column = here;
    other_column.column = "display_name";

    let tenant_key = Key::generate();
    let identity = Uuid::now_v7();
    let wrapped = envelope::wrap_subject_key(&tenant_key, 7, tenant, identity, &key);

    let answers = peer(&[
        // What Tenantry sealed, libsodium opens, in its own place only.
        with(
            json!({"op": "open", "key": hex(key.as_bytes()), "envelope": hex(&sealed)}),
            place_json(here),
        ),
        with(
            json!({"op": "open", "key": hex(key.as_bytes()), "envelope": hex(&sealed)}),
            place_json(elsewhere),
        ),
        with(
            json!({"op": "open", "key": hex(key.as_bytes()), "envelope": hex(&sealed)}),
            place_json(other_column),
        ),
        with(
            json!({"op": "open", "key": hex(Key::generate().as_bytes()), "envelope": hex(&sealed)}),
            place_json(here),
        ),
        // What libsodium seals, Tenantry opens.
        with(
            json!({"op": "seal", "key": hex(key.as_bytes()), "kind": "tenant", "version": 3,
                   "plaintext": "sealed by the peer"}),
            place_json(here),
        ),
        // A subject's key wrapped by Tenantry unwraps with libsodium, for its subject only.
        json!({"op": "unwrap", "key": hex(tenant_key.as_bytes()), "wrapped": hex(&wrapped),
               "tenant": tenant, "identity": identity}),
        json!({"op": "unwrap", "key": hex(tenant_key.as_bytes()), "wrapped": hex(&wrapped),
               "tenant": tenant, "identity": Uuid::now_v7()}),
        // A blind index is HMAC-SHA-256 of the domain, a zero byte and the value, cut to 16.
        json!({"op": "blind", "key": hex(key.as_bytes()), "domain": "identities.email",
               "value": "ada@example.com"}),
    ]);
    assert_eq!(answers[0]["plaintext"], canary);
    assert_eq!(answers[1]["refused"], true);
    assert_eq!(answers[2]["refused"], true);
    assert_eq!(answers[3]["refused"], true);
    let theirs = unhex(answers[4]["envelope"].as_str().unwrap());
    assert_eq!(envelope::key_of(&theirs).unwrap(), KeyRef::Tenant(3));
    assert_eq!(
        envelope::open_text(&key, here, &theirs).unwrap(),
        "sealed by the peer"
    );
    assert!(envelope::open(&key, elsewhere, &theirs).is_err());
    assert_eq!(answers[5]["key"], hex(key.as_bytes()));
    assert_eq!(answers[6]["refused"], true);
    assert_eq!(
        answers[7]["index"],
        hex(&envelope::blind_index(
            &key,
            "identities.email",
            "ada@example.com"
        ))
    );
}

/// A connection as the cluster's superuser (past row-level security).
pub(crate) async fn superuser(app: &TestApp) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(&app.db_url).await.unwrap()
}

async fn first_bytes_of_wrapped(app: &TestApp, tenant: Uuid) -> Vec<u8> {
    let mut conn = app.db.pool_for_tests().acquire().await.unwrap();
    sqlx::query("select set_config('tenantry.tenant_id', $1, false)")
        .bind(tenant.to_string())
        .execute(&mut *conn)
        .await
        .unwrap();
    let rows: Vec<Vec<u8>> =
        sqlx::query_scalar("select substr(wrapped, 1, 1) from tenant_keys order by purpose")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    sqlx::query("select set_config('tenantry.tenant_id', '', false)")
        .execute(&mut *conn)
        .await
        .unwrap();
    rows.into_iter().map(|r| r[0]).collect()
}

#[tokio::test]
async fn tenant_keys_are_made_once_shared_by_instances_and_rewrapped_by_rotate_master() {
    let (old, old_spec) = MasterKey::generate();
    let app = TestApp::spawn_with_key(old.clone()).await;
    let other = app.spawn_second().await;
    app.listening().await;
    other.listening().await;
    // Tenants get their keys when they are made; one made before keys existed (here, by
    // hand) gets them the first time they are asked for.
    let acme = Uuid::now_v7();
    sqlx::query(
        "insert into tenants (id, slug, name, plan) values ($1, 'keyless', 'Keyless', 'free')",
    )
    .bind(acme)
    .execute(&mut superuser(&app).await)
    .await
    .unwrap();
    assert!(first_bytes_of_wrapped(&app, acme).await.is_empty());
    assert_eq!(first_bytes_of_wrapped(&app, app.acme.id).await, [1, 1]);

    // Two instances asking at once get the same keys: one pair is made and stored.
    let (a, b) = tokio::join!(
        app.db.keyring().tenant(&app.db, acme),
        other.db.keyring().tenant(&other.db, acme)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let here = place(acme, app.acme.owner_id);
    let sealed = a.seal(here, b"canary");
    assert_eq!(b.open(here, &sealed).unwrap(), b"canary");
    assert_eq!(a.blind_index("d", "v"), b.blind_index("d", "v"));
    assert_eq!(
        first_bytes_of_wrapped(&app, acme).await,
        [1, 1],
        "a blind-index key and a data key, wrapped by master key version 1"
    );
    // Another tenant's keys open nothing of acme's.
    let globex = app
        .db
        .keyring()
        .tenant(&app.db, app.globex.id)
        .await
        .unwrap();
    assert!(globex.open(here, &sealed).is_err());
    assert_ne!(globex.blind_index("d", "v"), a.blind_index("d", "v"));
    // A subject's key wrapped by acme's key unwraps for its subject only.
    let (subject, wrapped) = a.new_subject_key(app.acme.owner_id);
    assert_eq!(
        b.unwrap_subject_key(app.acme.owner_id, &wrapped)
            .unwrap()
            .as_bytes(),
        subject.as_bytes()
    );
    assert!(b.unwrap_subject_key(app.globex.owner_id, &wrapped).is_err());
    // The other instance keeps acme's keys once no change is in flight (a load that
    // overlapped the notification of the keys' making is used, not kept).
    let start = Instant::now();
    while other.db.keyring().held() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "keys are never kept"
        );
        other.db.keyring().tenant(&other.db, acme).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Secrets the master key seals directly: a webhook's and an SSO provider's.
    let owner = crate::helpers::owner_ctx(&app.db, &app.acme).await;
    service::webhooks::create(
        &owner,
        &app.db,
        service::webhooks::Input {
            name: Some("Rotated".into()),
            url: Some(crate::helpers::receiver().url("rotated")),
            event_types: Some(vec!["identity.*".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    service::sso::create(
        &owner,
        &app.db,
        service::sso::ProviderInput {
            name: Some("Rotated IdP".into()),
            issuer: Some(crate::helpers::oidc_provider().issuer()),
            client_id: Some("rotated".into()),
            client_secret: Some("rotated-secret".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // The operator puts a new master key first and runs `keys rotate-master`.
    let new =
        base64::engine::general_purpose::STANDARD.encode(service::crypto::random_bytes::<32>());
    let both = format!("2:{new},{old_spec}");
    let run = || {
        tenantry()
            .args(["keys", "rotate-master"])
            .env("DATABASE_URL", &app.db_url)
            .env("TENANTRY_MASTER_KEY", &both)
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("master key version 2: 6 tenant keys of 3 tenants"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 signing keys, 1 webhook secrets, 1 SSO client secrets"),
        "{stdout}"
    );
    assert_eq!(first_bytes_of_wrapped(&app, acme).await, [2, 2]);
    let signing: Vec<Vec<u8>> =
        sqlx::query_scalar("select substr(private_key_sealed, 1, 1) from signing_keys")
            .fetch_all(app.db.pool_for_tests())
            .await
            .unwrap();
    assert!(!signing.is_empty() && signing.iter().all(|b| b[0] == 2));
    for sql in [
        "select substr(secret_sealed, 1, 1) from webhook_subscriptions",
        "select substr(client_secret, 1, 1) from sso_providers",
    ] {
        let sealed: Vec<Vec<u8>> = sqlx::query_scalar(sql)
            .fetch_all(&mut superuser(&app).await)
            .await
            .unwrap();
        assert_eq!(sealed, [vec![2u8]], "{sql}");
    }

    // The other instance was told, and forgot what it held.
    let start = Instant::now();
    while other.db.keyring().held() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the other instance still holds keys"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // With the new master key alone, what was sealed before still opens; with the old
    // alone, the tenant's keys no longer unwrap.
    let only_new = Keyring::new(MasterKey::parse(&format!("2:{new}")).unwrap().into());
    let keys = only_new.tenant(&app.db, acme).await.unwrap();
    assert_eq!(keys.open(here, &sealed).unwrap(), b"canary");
    assert!(keys.unwrap_subject_key(app.acme.owner_id, &wrapped).is_ok());
    let only_old = Keyring::new(old.into());
    assert!(only_old.tenant(&app.db, acme).await.is_err());

    // A second run finds nothing left to do.
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("0 tenant keys of 3 tenants, 0 signing keys, 0 webhook secrets, 0 SSO"),
        "{stdout}"
    );
}

/// What the superuser sees of identity `id`: its plain columns and its sealed ones.
async fn stored_identity(app: &TestApp, id: &str) -> (Option<String>, String, Vec<u8>, Vec<u8>) {
    sqlx::query_as(
        "select email, display_name, email_sealed, display_name_sealed from identities
         where id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&mut superuser(app).await)
    .await
    .unwrap()
}

/// Names and addresses are stored sealed, and everything that finds a person by them
/// still does: sign-in, the list's substring search, the duplicate check; an identity
/// written before sealing is found too, and sealed when next changed.
#[tokio::test]
async fn identities_are_stored_sealed_and_still_found() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    let t = Some(token.as_str());
    let res = app
        .send(
            reqwest::Method::POST,
            "/v1/identities",
            t,
            Some(
                json!({"email": "Canary.Quill@Example.com", "display_name": "Zephyrine Abcxbcd",
                        "password": crate::helpers::PASSWORD}),
            ),
        )
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["email"], "canary.quill@example.com");
    assert_eq!(created["display_name"], "Zephyrine Abcxbcd");

    // At rest: no plain copy, and neither value inside what is stored.
    let (email, name, email_sealed, name_sealed) = stored_identity(&app, &id).await;
    assert_eq!((email, name.as_str()), (None, ""));
    for (sealed, plain) in [(&email_sealed, "canary"), (&name_sealed, "Zephyrine")] {
        assert_eq!(sealed[..2], [1, 2], "format 1, under the subject's key");
        assert!(!sealed.windows(plain.len()).any(|w| w == plain.as_bytes()));
    }
    let mut su = superuser(&app).await;
    let anywhere: i64 = sqlx::query_scalar(
        "select count(*) from identities i where i::text ilike '%canary%' or i::text ilike '%zephyrine%'",
    )
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert_eq!(anywhere, 0);
    // Nor in the copies: the audit record and the event of its creation hold them sealed
    // under the same key (erasing the person erases these too)...
    for table in ["audit_log", "outbox_events"] {
        let copies: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {table} t where t::text ilike '%canary%' or t::text ilike '%zephyrine%'"
        )))
        .fetch_one(&mut su)
        .await
        .unwrap();
        assert_eq!(copies, 0, "{table}");
    }
    // ...which those who may read them see opened.
    let trail: Value = app
        .get(
            &format!("/v1/audit?target_id={id}&action=identity.created"),
            t,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        trail["items"][0]["after"]["email"],
        "canary.quill@example.com"
    );
    assert_eq!(
        trail["items"][0]["after"]["display_name"],
        "Zephyrine Abcxbcd"
    );
    let events: Value = app
        .get(&format!("/v1/events?subject_id={id}"), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        events["items"][0]["data"]["email"],
        "canary.quill@example.com"
    );
    let export = app
        .get(&format!("/v1/audit/export?format=jsonl&target_id={id}"), t)
        .await
        .text()
        .await
        .unwrap();
    assert!(export.contains("canary.quill@example.com"), "{export}");

    // Read back, signed in with (any case of) the address, found by parts of either.
    let got: Value = app
        .get(&format!("/v1/identities/{id}"), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got, created);
    let res = app
        .token_response(
            &app.acme.slug,
            "CANARY.quill@example.com",
            crate::helpers::PASSWORD,
        )
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let search = |q: &str| {
        let path = format!("/v1/identities?q={q}");
        let app = &app;
        async move {
            let list: Value = app.get(&path, t).await.json().await.unwrap();
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    for q in ["zephyr", "PHYRINE%20ab", "quill@ex", "y", "xbcd"] {
        assert_eq!(search(q).await, std::slice::from_ref(&id), "q={q}");
    }
    // Every three-letter run of "abcd" is in "Abcxbcd", but "abcd" is not: the candidate
    // the grams find is opened and dropped.
    assert!(search("abcd").await.is_empty());
    assert!(search("nobody-has-this").await.is_empty());

    // The address stays unique, whatever its case.
    let res = app
        .send(
            reqwest::Method::POST,
            "/v1/identities",
            t,
            Some(json!({"email": "canary.QUILL@example.com"})),
        )
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::CONFLICT);
    assert_eq!(crate::helpers::problem(res).await["code"], "email_taken");

    // A row written before sealing (plain columns, no key) is read, found and kept
    // unique; a change seals it.
    let legacy = Uuid::now_v7();
    sqlx::query(
        "insert into identities (tenant_id, id, email, display_name, kind)
         values ($1, $2, 'old.timer@example.com', 'Olde Timer', 'user')",
    )
    .bind(app.acme.id)
    .bind(legacy)
    .execute(&mut su)
    .await
    .unwrap();
    let old: Value = app
        .get(&format!("/v1/identities/{legacy}"), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (old["email"].as_str(), old["display_name"].as_str()),
        (Some("old.timer@example.com"), Some("Olde Timer"))
    );
    assert_eq!(search("olde").await, [legacy.to_string()]);
    let res = app
        .send(
            reqwest::Method::POST,
            "/v1/identities",
            t,
            Some(json!({"email": "Old.Timer@example.com"})),
        )
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::CONFLICT);
    let res = app
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/identities/{id}"),
            t,
            Some(json!({"email": "old.timer@EXAMPLE.com"})),
        )
        .await;
    assert_eq!(
        res.status(),
        reqwest::StatusCode::CONFLICT,
        "taken by the plain row"
    );
    let res = app
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/identities/{legacy}"),
            t,
            Some(json!({"display_name": "Olde Timer II"})),
        )
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let (email, name, email_sealed, _) = stored_identity(&app, &legacy.to_string()).await;
    assert_eq!((email, name.as_str()), (None, ""));
    assert!(!email_sealed.is_empty());
    assert_eq!(search("timer ii").await, [legacy.to_string()]);

    // A sealed value copied into another row does not open there.
    sqlx::query(
        "update identities set email_sealed = (select email_sealed from identities where id = $1)
         where id = $2",
    )
    .bind(Uuid::parse_str(&id).unwrap())
    .bind(legacy)
    .execute(&mut su)
    .await
    .unwrap();
    let res = app.get(&format!("/v1/identities/{legacy}"), t).await;
    assert_eq!(res.status(), reqwest::StatusCode::INTERNAL_SERVER_ERROR);
}

/// Everything a superuser's `pg_dump` of the database holds, as text.
pub(crate) fn dump(app: &TestApp) -> String {
    let bin = server::embedded_pg::bindir().unwrap();
    let out = Command::new(bin.join("pg_dump"))
        .args(["--no-owner", "--dbname", &app.db_url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Erasure: a canary in every personal field the person's data went through is gone from
/// a dump of the database, the audit chain verifies, the person can neither sign in nor be
/// found, and everyone else's data is as it was.
#[tokio::test]
async fn an_erased_person_is_gone_from_the_dump_and_the_chain_still_verifies() {
    const CANARY: &str = "qzcanary";
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let t = Some(owner.as_str());
    let post = |path: &str, token: Option<&str>, body: Value| {
        let (app, path, token) = (&app, path.to_owned(), token.map(str::to_owned));
        async move {
            app.send(reqwest::Method::POST, &path, token.as_deref(), Some(body))
                .await
        }
    };

    // The person, invited first, then created; signed in; with a memory and a key.
    let email = "QzCanary.Person@example.com";
    let res = post(
        "/v1/invitations",
        t,
        json!({"email": email, "message": "Welcome, qzcanary friend"}),
    )
    .await;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let res = post(
        "/v1/identities",
        t,
        json!({"email": email, "display_name": "Qzcanary Person", "external_id": "ext-7",
               "personal_metadata": {"phone": "+33 qzcanary"},
               "password": crate::helpers::PASSWORD}),
    )
    .await;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/identities/{id}"),
            t,
            Some(json!({"display_name": "Qzcanary Person II",
                        "personal_metadata": {"phone": "+44 qzcanary"}})),
        )
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let person = app.token(&app.acme.slug, &email.to_lowercase()).await;
    let res = post(
        "/v1/memories",
        Some(&person),
        json!({"text": "qzcanary keeps a diary about gardening", "owner_id": id,
               "metadata": {"topic": "gardening"}}),
    )
    .await;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let res = post(
        "/v1/api-keys",
        Some(&person),
        json!({"name": "qzcanary laptop", "scopes": ["memories:read"]}),
    )
    .await;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    // Someone else, whose data must stay.
    let (bystander, bystander_email) = app.member(&app.acme, "member").await;
    let bystander_token = app.token(&app.acme.slug, &bystander_email).await;
    let res = post(
        "/v1/memories",
        Some(&bystander_token),
        json!({"text": "the bystander's note about tomatoes", "metadata": {"topic": "tomatoes"}}),
    )
    .await;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    // The dump holds what is not sealed (a memory's metadata), never a memory's text.
    let before = dump(&app).to_lowercase();
    assert!(before.contains("gardening") && before.contains("tomatoes"));
    assert!(!before.contains("keeps a diary") && !before.contains("note about"));

    // Who may not erase: a viewer, an admin (not granted it), the person themselves.
    let (_, admin_email) = app.member(&app.acme, "admin").await;
    let admin = app.token(&app.acme.slug, &admin_email).await;
    let erase = format!("/v1/identities/{id}/erase");
    for (who, token) in [("admin", &admin), ("the person", &person)] {
        let res = post(&erase, Some(token), json!({})).await;
        assert_eq!(res.status(), reqwest::StatusCode::FORBIDDEN, "{who}");
    }
    // Another tenant's owner does not see the person at all.
    let globex = app.owner_token(&app.globex).await;
    assert_eq!(
        post(&erase, Some(&globex), json!({})).await.status(),
        reqwest::StatusCode::NOT_FOUND
    );
    // A confirmation that does not match changes nothing.
    let res = post(&erase, t, json!({"confirm": "someone.else@example.com"})).await;
    assert_eq!(res.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get(&format!("/v1/identities/{id}"), t).await.status(),
        reqwest::StatusCode::OK
    );

    let res = post(&erase, t, json!({"confirm": "qzcanary.person@EXAMPLE.com"})).await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let erased: Value = res.json().await.unwrap();
    assert_eq!(erased["identity_id"], id.as_str());
    assert_eq!(erased["erased_by"], app.acme.owner_id.to_string());
    for (kind, n) in [("memories", 1), ("api_keys", 1), ("invitations", 1)] {
        assert_eq!(erased["removed"][kind], n, "{kind}: {erased}");
    }

    // Gone from the dump: profile, invitation, memory, key name, audit and event copies.
    let dumped = dump(&app).to_lowercase();
    assert!(!dumped.contains(CANARY), "the canary is still in the dump");
    assert!(!dumped.contains("gardening"));
    assert!(
        dumped.contains("tomatoes"),
        "the bystander's memory went too"
    );
    assert_eq!(
        app.get("/v1/memories", Some(&bystander_token))
            .await
            .json::<Value>()
            .await
            .unwrap()["items"][0]["text"],
        "the bystander's note about tomatoes"
    );

    // The chain verifies; the records about the person remain, their personal values null.
    let verify: Value = post("/v1/audit/verify", t, json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
    let trail: Value = app
        .get(&format!("/v1/audit?target_id={id}"), t)
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.first(), Some(&"identity.erased"), "{actions:?}");
    assert!(actions.contains(&"identity.created"));
    let created = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "identity.created")
        .unwrap();
    assert_eq!(created["after"]["email"], Value::Null);
    assert_eq!(created["after"]["display_name"], Value::Null);
    assert_eq!(created["after"]["external_id"], "ext-7");

    // Neither signed in nor found; their token no longer works.
    let res = app
        .token_response(
            &app.acme.slug,
            &email.to_lowercase(),
            crate::helpers::PASSWORD,
        )
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/v1/me", Some(&person)).await.status(),
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get(&format!("/v1/identities/{id}"), t).await.status(),
        reqwest::StatusCode::NOT_FOUND
    );
    let list: Value = app
        .get("/v1/identities?status=all&q=qzcanary", t)
        .await
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
    // Erasing again: there is nobody to erase.
    assert_eq!(
        post(&erase, t, json!({})).await.status(),
        reqwest::StatusCode::NOT_FOUND
    );
    // The bystander is untouched.
    assert_eq!(
        app.get(&format!("/v1/identities/{bystander}"), t)
            .await
            .status(),
        reqwest::StatusCode::OK
    );
}

/// An export: asked for by one who may, made in the background with its progress shown,
/// complete, valid against its published schema (checked by the `jsonschema` crate), and
/// downloadable once through its link.
#[tokio::test]
async fn an_export_is_complete_valid_against_its_schema_and_downloads_once() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let t = Some(owner.as_str());
    let (id, email) = app.member(&app.acme, "member").await;
    let person = app.token(&app.acme.slug, &email).await;
    let res = app
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/identities/{id}"),
            t,
            Some(json!({"personal_metadata": {"birthday": "04-12"}})),
        )
        .await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let post = |path: String, token: String, body: Option<Value>| {
        let app = &app;
        async move {
            app.send(reqwest::Method::POST, &path, Some(&token), body)
                .await
        }
    };
    let res = post(
        "/v1/memories".into(),
        person.clone(),
        Some(json!({"text": "the orchid notes, for the export", "owner_id": id})),
    )
    .await;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    let res = post(
        "/v1/api-keys".into(),
        person.clone(),
        Some(json!({"name": "export laptop", "scopes": ["memories:read"]})),
    )
    .await;
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);

    // Who may not ask: the person (a member), a viewer; another tenant does not see them.
    let export = format!("/v1/identities/{id}/export");
    let (_, viewer_email) = app.member(&app.acme, "viewer").await;
    let viewer = app.token(&app.acme.slug, &viewer_email).await;
    for (who, token) in [("the person", &person), ("a viewer", &viewer)] {
        let res = post(export.clone(), token.clone(), None).await;
        assert_eq!(res.status(), reqwest::StatusCode::FORBIDDEN, "{who}");
    }
    let globex = app.owner_token(&app.globex).await;
    assert_eq!(
        post(export.clone(), globex.clone(), None).await.status(),
        reqwest::StatusCode::NOT_FOUND
    );

    let res = post(export.clone(), owner.clone(), None).await;
    assert_eq!(res.status(), reqwest::StatusCode::ACCEPTED);
    let started: Value = res.json().await.unwrap();
    let link = started["download_url"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with("/v1/privacy/exports/download/ex1."),
        "{link}"
    );
    let status_url = started["status_url"].as_str().unwrap().to_owned();
    // Another tenant cannot follow it.
    assert_eq!(
        app.get(&status_url, Some(&globex)).await.status(),
        reqwest::StatusCode::NOT_FOUND
    );
    let start = Instant::now();
    let status = loop {
        let status: Value = app.get(&status_url, t).await.json().await.unwrap();
        if status["status"] == "ready" {
            break status;
        }
        assert!(
            ["queued", "running"].contains(&status["status"].as_str().unwrap()),
            "{status}"
        );
        assert!(start.elapsed() < Duration::from_secs(30), "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status["progress"], 100);
    assert!(status["size_bytes"].as_i64().unwrap() > 0);

    // The link needs no sign-in; the document is valid against the published schema.
    let res = app.get(&link, None).await;
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let doc: Value = res.json().await.unwrap();
    let schema: Value = app
        .get("/v1/privacy/export-schema.json", None)
        .await
        .json()
        .await
        .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(!validator.is_valid(&json!({"format": "tenantry.export/v1"})));

    // Complete: every section holds what the person has.
    assert_eq!(doc["format"], "tenantry.export/v1");
    assert_eq!(doc["tenant"]["slug"], "acme");
    assert_eq!(doc["identity"]["id"], id.to_string());
    assert_eq!(doc["identity"]["email"], email.as_str());
    assert_eq!(doc["identity"]["personal_metadata"]["birthday"], "04-12");
    assert_eq!(doc["identity"]["roles"], json!(["member"]));
    assert_eq!(
        doc["memories"][0]["text"],
        "the orchid notes, for the export"
    );
    assert_eq!(doc["api_keys"][0]["name"], "export laptop");
    assert!(doc["api_keys"][0].get("secret").is_none());
    assert!(!doc["api_sign_ins"].as_array().unwrap().is_empty());
    let actions: Vec<&str> = doc["audit_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    for action in [
        "identity.created",
        "auth.signed_in",
        "memory.created",
        "api_key.created",
    ] {
        assert!(actions.contains(&action), "{action} not in {actions:?}");
    }
    let created = doc["audit_records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "identity.created")
        .unwrap();
    assert_eq!(
        created["after"]["email"],
        email.as_str(),
        "opened, not sealed"
    );
    let events: Vec<&str> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(events.contains(&"identity.created") && events.contains(&"memory.created"));

    // Once: the link is spent, the document deleted, the export marked.
    let again = app.get(&link, None).await;
    assert_eq!(again.status(), reqwest::StatusCode::CONFLICT);
    assert_eq!(crate::helpers::problem(again).await["code"], "export_gone");
    let status: Value = app.get(&status_url, t).await.json().await.unwrap();
    assert_eq!(status["status"], "downloaded");
    let stored: Option<Vec<u8>> =
        sqlx::query_scalar("select document from privacy_exports where id = $1")
            .bind(Uuid::parse_str(status["id"].as_str().unwrap()).unwrap())
            .fetch_one(&mut superuser(&app).await)
            .await
            .unwrap();
    assert!(stored.is_none());
    // A forged link is not found.
    let forged = format!(
        "/v1/privacy/exports/download/ex1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 64])
    );
    assert_eq!(
        app.get(&forged, None).await.status(),
        reqwest::StatusCode::NOT_FOUND
    );
}

/// An export's status is not found for a caller from whom a rule hides its person, though
/// they hold `privacy:read`.
#[tokio::test]
async fn an_export_is_hidden_with_its_person() {
    let app = TestApp::spawn().await;
    let owner = crate::helpers::owner_ctx(&app.db, &app.acme).await;
    let (person, _) = app.member(&app.acme, "member").await;
    let (admin_id, admin_email) = app.member(&app.acme, "admin").await;
    let admin = app.token(&app.acme.slug, &admin_email).await;
    let export = service::privacy::export::start(&owner, &app.db, person)
        .await
        .unwrap()
        .export
        .id;
    let status = format!("/v1/privacy/exports/{export}");
    assert_eq!(
        app.get(&status, Some(&admin)).await.status(),
        reqwest::StatusCode::OK
    );
    service::policies::create(
        &owner,
        &app.db,
        service::policies::PolicyInput {
            name: Some("hide the person".into()),
            effect: Some("deny".into()),
            priority: Some(10),
            resource_pattern: Some("identities".into()),
            action_pattern: Some("read".into()),
            condition: Some(Some(json!({"and": [
                {"==": [{"var": "resource.id"}, person.to_string()]},
                {"==": [{"var": "principal.id"}, admin_id.to_string()]},
            ]}))),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        app.get(&format!("/v1/identities/{person}"), Some(&admin))
            .await
            .status(),
        reqwest::StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&status, Some(&admin)).await.status(),
        reqwest::StatusCode::NOT_FOUND
    );
}
