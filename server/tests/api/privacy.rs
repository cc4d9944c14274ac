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
async fn superuser(app: &TestApp) -> sqlx::PgConnection {
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
    let acme = app.acme.id;

    // Two instances asking at once get the same keys: one pair is made and stored.
    let (a, b) = tokio::join!(
        app.db.keyring().unwrap().tenant(&app.db, acme),
        other.db.keyring().unwrap().tenant(&other.db, acme)
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
        .unwrap()
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
    while other.db.keyring().unwrap().held() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "keys are never kept"
        );
        other
            .db
            .keyring()
            .unwrap()
            .tenant(&other.db, acme)
            .await
            .unwrap();
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
        stdout.contains("master key version 2: 4 tenant keys of 2 tenants"),
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
    while other.db.keyring().unwrap().held() > 0 {
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
        stdout.contains("0 tenant keys of 2 tenants, 0 signing keys, 0 webhook secrets, 0 SSO"),
        "{stdout}"
    );
}
