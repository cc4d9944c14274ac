//! The audit trail's hash chain: every change extends its tenant's chain, concurrent
//! writers keep it whole, and editing, removing or cutting off records is found at the
//! record where it happened (the edits are made as the superuser, as an intruder with
//! database access would).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::audit_log::{self, Broken};
use service::identities::{self, NewIdentity};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::helpers::{TestApp, owner_ctx};

fn person(email: &str) -> NewIdentity {
    NewIdentity {
        email: Some(email.into()),
        display_name: Some("Chain Person".into()),
        ..Default::default()
    }
}

async fn superuser(app: &TestApp) -> PgConnection {
    PgConnection::connect(&app.db_url).await.unwrap()
}

/// Runs `sql` (with `$1` the tenant and `$2` a record's id) as the superuser.
async fn tamper(su: &mut PgConnection, sql: &'static str, tenant: Uuid, id: Uuid) {
    sqlx::query(sql)
        .bind(tenant)
        .bind(id)
        .execute(su)
        .await
        .unwrap();
}

/// The first broken link of the whole chain, which must have one.
async fn first_break(ctx: &service::Ctx, app: &TestApp) -> audit_log::BrokenLink {
    audit_log::verify(ctx, &app.db, None, None)
        .await
        .unwrap()
        .broken
        .expect("a broken link")
}

/// The (seq, id) of `tenant`'s records, in chain order, once what was committed is sealed.
async fn chain(app: &TestApp, su: &mut PgConnection, tenant: Uuid) -> Vec<(i64, Uuid)> {
    audit_log::seal(&app.db, tenant).await.unwrap();
    let rows: Vec<(Option<i64>, Uuid)> =
        sqlx::query_as("select seq, id from audit_log where tenant_id = $1 order by seq")
            .bind(tenant)
            .fetch_all(su)
            .await
            .unwrap();
    rows.into_iter()
        .map(|(seq, id)| (seq.expect("a committed record left unsealed"), id))
        .collect()
}

/// Sequence numbers run 1, 2, 3, ... with no gap and no repeat.
fn assert_gapless(records: &[(i64, Uuid)]) {
    assert_eq!(
        records.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=records.len() as i64).collect::<Vec<_>>()
    );
}

/// How many of `tenant`'s records are committed but not (yet) in its chain.
async fn unsealed(su: &mut PgConnection, tenant: Uuid) -> i64 {
    sqlx::query_scalar("select count(*) from audit_log where tenant_id = $1 and seq is null")
        .bind(tenant)
        .fetch_one(su)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_change_extends_the_chain_and_concurrent_writers_keep_it_whole() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let before = audit_log::verify(&owner, &app.db, None, None)
        .await
        .unwrap();
    assert!(before.ok(), "{before:?}");

    // 40 changes from 8 writers at once, in one tenant.
    let mut tasks = Vec::new();
    for w in 0..8 {
        let db = app.db.clone();
        let owner = owner.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..5 {
                identities::create(&owner, &db, person(&format!("w{w}-{i}@acme.test")))
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut su = superuser(&app).await;
    let records = chain(&app, &mut su, app.acme.id).await;
    assert_gapless(&records);
    let v = audit_log::verify(&owner, &app.db, None, None)
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.unsealed, 0);
    assert_eq!(v.checked, records.len() as i64);
    assert_eq!(v.checked, before.checked + 40);
    assert_eq!(v.head_seq, records.len() as i64);
    assert_eq!((v.from_seq, v.to_seq), (Some(1), Some(v.head_seq)));

    // A range is anchored on the record before it.
    let part = audit_log::verify(&owner, &app.db, Some(10), Some(20))
        .await
        .unwrap();
    assert!(part.ok());
    assert_eq!(
        (part.from_seq, part.to_seq, part.checked),
        (Some(10), Some(20), 11)
    );
    let err = audit_log::verify(&owner, &app.db, Some(20), Some(10))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 422);

    // Another tenant has a chain of its own, starting at 1.
    let globex = owner_ctx(&app.db, &app.globex).await;
    identities::create(&globex, &app.db, person("g@globex.test"))
        .await
        .unwrap();
    let g = audit_log::verify(&globex, &app.db, None, None)
        .await
        .unwrap();
    assert!(g.ok());
    assert_eq!(g.from_seq, Some(1));
    assert_eq!(
        g.head_seq,
        chain(&app, &mut su, app.globex.id).await.len() as i64
    );
}

#[tokio::test]
async fn writers_do_not_wait_for_the_chain_and_a_crash_before_sealing_loses_nothing() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let mut su = superuser(&app).await;
    chain(&app, &mut su, app.acme.id).await;

    // Another instance with no sealer: it commits changes and stops before sealing them,
    // as one killed between its commits and its sealer's turn would.
    let doomed = service::Db::connect(&app.db_url, 2)
        .await
        .unwrap()
        .with_master_key(app.master.clone());
    // Meanwhile something holds the chain's head (a sealer, a pruner): writers go on.
    let mut holder = superuser(&app).await;
    sqlx::query("begin").execute(&mut holder).await.unwrap();
    sqlx::query("select 1 from audit_chain_heads where tenant_id = $1 for update")
        .bind(app.acme.id)
        .execute(&mut holder)
        .await
        .unwrap();
    let mut created = Vec::new();
    for i in 0..5 {
        let write = identities::create(&owner, &doomed, person(&format!("d{i}@acme.test")));
        let made = tokio::time::timeout(std::time::Duration::from_secs(60), write)
            .await
            .expect("a write waited for the chain's head")
            .unwrap();
        created.push(made.id);
    }
    doomed.close().await;
    // Committed, each with its record; none in the chain (the sweep leaves records this
    // young to their writer's sealer, which is gone).
    assert_eq!(unsealed(&mut su, app.acme.id).await, 5);
    let recorded: i64 = sqlx::query_scalar(
        "select count(*) from audit_log
         where tenant_id = $1 and action = 'identity.created' and target_id = any($2)",
    )
    .bind(app.acme.id)
    .bind(&created)
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert_eq!(recorded, 5);
    sqlx::query("commit").execute(&mut holder).await.unwrap();

    // The next sweep of any surviving instance links them, in the order they were written.
    // (This instance's own periodic sweep may take the tenant first: then ask again.)
    tokio::time::sleep(audit_log::SWEEP_MIN_AGE).await;
    for _ in 0..50 {
        audit_log::seal_pending(&app.db).await.unwrap();
        if unsealed(&mut su, app.acme.id).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(unsealed(&mut su, app.acme.id).await, 0);
    let in_chain: Vec<Uuid> = sqlx::query_scalar(
        "select target_id from audit_log
         where tenant_id = $1 and action = 'identity.created' and target_id = any($2)
         order by seq",
    )
    .bind(app.acme.id)
    .bind(&created)
    .fetch_all(&mut su)
    .await
    .unwrap();
    assert_eq!(in_chain, created);
    let records = chain(&app, &mut su, app.acme.id).await;
    assert_gapless(&records);
    let v = audit_log::verify(&owner, &app.db, None, None)
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.checked, v.unsealed), (records.len() as i64, 0));

    // A record committed a moment ago is sealed by the next read of the trail, which so
    // sees everything committed before it.
    let late = identities::create(&owner, &app.db, person("late@acme.test"))
        .await
        .unwrap();
    let about = audit_log::for_target(&owner, &app.db, "identity", late.id)
        .await
        .unwrap();
    assert_eq!(about.len(), 1);
    assert_eq!(about[0].seq, records.len() as i64 + 1);
}

#[tokio::test]
async fn an_edited_removed_or_cut_off_record_is_found_where_it_happened() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    // Signed in first: signing in is recorded too, and would extend the chain later.
    let token = app.owner_token(&app.acme).await;
    for i in 0..6 {
        identities::create(&owner, &app.db, person(&format!("p{i}@acme.test")))
            .await
            .unwrap();
    }
    let mut su = superuser(&app).await;
    let records = chain(&app, &mut su, app.acme.id).await;
    let n = records.len();
    assert!(n >= 6);
    let (victim_seq, victim) = records[n - 4];

    // 1. Someone rewrites what a record says.
    tamper(
        &mut su,
        "update audit_log set after = jsonb_set(after, '{display_name}', '\"Mallory\"')
         where tenant_id = $1 and id = $2",
        app.acme.id,
        victim,
    )
    .await;
    let v = audit_log::verify(&owner, &app.db, None, None)
        .await
        .unwrap();
    let broken = v.broken.expect("the edit is found");
    assert_eq!(
        (broken.seq, broken.id, broken.reason),
        (victim_seq, Some(victim), Broken::HashMismatch)
    );
    assert_eq!(
        v.checked,
        victim_seq - 1,
        "every record before it checks out"
    );

    // 2. ... and recomputes its hash: the next record no longer points at it.
    tamper(
        &mut su,
        "update audit_log a set hash = tenantry_audit_digest(a) where tenant_id = $1 and id = $2",
        app.acme.id,
        victim,
    )
    .await;
    let broken = first_break(&owner, &app).await;
    assert_eq!(
        (broken.seq, broken.id, broken.reason),
        (victim_seq + 1, Some(records[n - 3].1), Broken::LinkBroken)
    );
    // A range after the damage still checks out on its own.
    let later = audit_log::verify(&owner, &app.db, Some(victim_seq + 2), None)
        .await
        .unwrap();
    assert!(later.ok(), "{later:?}");

    // 3. Removing a record leaves a gap.
    let (gap_seq, gap) = records[1];
    tamper(
        &mut su,
        "delete from audit_log where tenant_id = $1 and id = $2",
        app.acme.id,
        gap,
    )
    .await;
    let broken = first_break(&owner, &app).await;
    assert_eq!((broken.seq, broken.reason), (gap_seq, Broken::Missing));

    // 4. Removing the newest records is noticed against the chain's head.
    let (last_seq, last) = records[n - 1];
    tamper(
        &mut su,
        "delete from audit_log where tenant_id = $1 and id = $2",
        app.acme.id,
        last,
    )
    .await;
    let tail = audit_log::verify(&owner, &app.db, Some(last_seq - 1), None)
        .await
        .unwrap();
    let broken = tail.broken.unwrap();
    assert_eq!((broken.seq, broken.reason), (last_seq, Broken::Truncated));

    // Over HTTP: the same answers (who may ask is in the isolation table).
    let res = app
        .send(
            Method::POST,
            "/v1/audit/verify",
            Some(&token),
            Some(json!({"from_seq": last_seq - 1})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ok"], false);
    assert_eq!(body["broken"]["reason"], "truncated");
    assert_eq!(body["broken"]["seq"], last_seq);
    let res = app
        .send(
            Method::POST,
            "/v1/audit/verify",
            Some(&token),
            Some(json!({"from_seq": 1, "to_seq": gap_seq - 1})),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["checked"], gap_seq - 1);
}

#[tokio::test]
async fn the_trail_is_filtered_paged_and_exported_in_chunks() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let ada = identities::create(&owner, &app.db, person("ada@acme.test"))
        .await
        .unwrap();
    identities::update(
        &owner,
        &app.db,
        ada.id,
        identities::IdentityPatch {
            display_name: Some("Ada Lovelace".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // 1,500 more records, as a busy tenant would have: more than one export chunk.
    let mut su = superuser(&app).await;
    sqlx::query(
        "insert into audit_log (tenant_id, id, actor_type, action, target_type, after)
         select $1, gen_random_uuid(), 'system', 'bulk.noted', 'note',
                jsonb_build_object('n', n, 'text', 'line, with \"quotes\"')
         from generate_series(1, 1500) n",
    )
    .bind(app.acme.id)
    .execute(&mut su)
    .await
    .unwrap();
    let token = app.owner_token(&app.acme).await;
    let get_json = |path: String| {
        let (app, token) = (&app, token.clone());
        async move {
            let res = app.get(&path, Some(&token)).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            res.json::<Value>().await.unwrap()
        }
    };

    // Filters: a prefix of actions, one target; pages follow the chain backwards.
    let first = get_json("/v1/audit?action=identity.*&limit=1".into()).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    assert_eq!(first["items"][0]["action"], "identity.updated");
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get_json(format!(
        "/v1/audit?action=identity.*&limit=50&cursor={cursor}"
    ))
    .await;
    let rest = second["items"].as_array().unwrap();
    assert!(
        rest.iter()
            .all(|r| r["action"].as_str().unwrap().starts_with("identity."))
    );
    assert!(
        rest.iter()
            .all(|r| r["seq"].as_i64() < first["items"][0]["seq"].as_i64())
    );
    assert!(
        rest.iter()
            .any(|r| r["action"] == "identity.created" && r["target_id"] == ada.id.to_string())
    );
    let about_ada = get_json(format!("/v1/audit?target_id={}", ada.id)).await;
    let actions: Vec<&str> = about_ada["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["identity.updated", "identity.created"]);
    let res = app.get("/v1/audit?outcome=maybe", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // One record, with what changed.
    let id = about_ada["items"][0]["id"].as_str().unwrap();
    let one = get_json(format!("/v1/audit/{id}")).await;
    assert_eq!(one["before"]["display_name"], "Chain Person");
    assert_eq!(one["after"]["display_name"], "Ada Lovelace");
    assert_eq!(one["hash"].as_str().unwrap().len(), 64);
    let res = app
        .get(&format!("/v1/audit/{}", Uuid::now_v7()), Some(&token))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // JSON Lines: every record, oldest first, across chunks.
    let total = chain(&app, &mut su, app.acme.id).await.len();
    let res = app.get("/v1/audit/export?format=jsonl", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    let seqs: Vec<i64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, (1..=total as i64).collect::<Vec<_>>());

    // CSV: a header and one line per record taken by the filter; awkward text is quoted.
    let res = app
        .get(
            "/v1/audit/export?format=csv&action=bulk.noted",
            Some(&token),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("seq,id,occurred_at,actor_type"));
    assert_eq!(lines.len(), 1 + 1500);
    assert!(
        lines[1].contains(r#""{""n"":1,""text"":""line, with \""quotes\""""}""#),
        "{}",
        lines[1]
    );
    let res = app.get("/v1/audit/export?format=xml", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Each export is itself in the trail.
    let exports = get_json("/v1/audit?action=audit.exported".into()).await;
    let formats: Vec<&str> = exports["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["after"]["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["csv", "jsonl"]);
    assert_eq!(exports["items"][0]["after"]["action"], "bulk.noted");
    // And the chain still verifies after all of it.
    assert!(
        audit_log::verify(&owner, &app.db, None, None)
            .await
            .unwrap()
            .ok()
    );
}

#[tokio::test]
async fn pruning_old_records_keeps_the_rest_of_the_chain_verifiable() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let mut su = superuser(&app).await;
    // Five records from 400 days ago (past the pro plan's 365), then a recent change.
    sqlx::query(
        "insert into audit_log (tenant_id, id, actor_type, action, target_type, occurred_at)
         select $1, gen_random_uuid(), 'system', 'old.noted', 'note',
                now() - interval '400 days' + n * interval '1 second'
         from generate_series(1, 5) n",
    )
    .bind(app.acme.id)
    .execute(&mut su)
    .await
    .unwrap();
    audit_log::seal(&app.db, app.acme.id).await.unwrap();
    let last_old: i64 = sqlx::query_scalar(
        "select max(seq) from audit_log where tenant_id = $1 and action = 'old.noted'",
    )
    .bind(app.acme.id)
    .fetch_one(&mut su)
    .await
    .unwrap();
    identities::create(&owner, &app.db, person("recent@acme.test"))
        .await
        .unwrap();

    // Globex keeps everything: nothing of it is old.
    let globex_before = chain(&app, &mut su, app.globex.id).await;
    let removed = audit_log::prune_all(&app.db).await.unwrap();
    assert_eq!(
        removed, last_old,
        "the chain's prefix up to the newest old record"
    );
    assert_eq!(chain(&app, &mut su, app.globex.id).await, globex_before);
    let kept = chain(&app, &mut su, app.acme.id).await;
    assert_eq!(kept[0].0, last_old + 1);
    let (cp_seq, pruned): (i64, i64) =
        sqlx::query_as("select seq, pruned from audit_checkpoints where tenant_id = $1")
            .bind(app.acme.id)
            .fetch_one(&mut su)
            .await
            .unwrap();
    assert_eq!((cp_seq, pruned), (last_old, last_old));

    // What is left verifies from the checkpoint, including the record of the pruning.
    let v = audit_log::verify(&owner, &app.db, None, None)
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!(
        (v.from_seq, v.checked),
        (Some(last_old + 1), kept.len() as i64)
    );
    let note = audit_log::list(
        &owner,
        &app.db,
        &audit_log::AuditQuery {
            action: Some("audit.pruned".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(note.items.len(), 1);
    assert_eq!(note.items[0].after.as_ref().unwrap()["removed"], last_old);
    assert_eq!(
        audit_log::prune_all(&app.db).await.unwrap(),
        0,
        "nothing more is old"
    );

    // The checkpoint anchors the first kept record: repointing it is found.
    sqlx::query("update audit_log set prev_hash = '\\x00' where tenant_id = $1 and seq = $2")
        .bind(app.acme.id)
        .bind(last_old + 1)
        .execute(&mut su)
        .await
        .unwrap();
    let broken = first_break(&owner, &app).await;
    assert_eq!(
        (broken.seq, broken.reason),
        (last_old + 1, Broken::LinkBroken)
    );
}

/// The newest records of `action` in `tenant` (as its owner reads them over HTTP).
async fn records(app: &TestApp, token: &str, action: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/v1/audit?action={action}&limit=100"), Some(token))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn sign_ins_failed_sign_ins_and_denials_are_in_the_trail() {
    let app = TestApp::spawn().await;
    let owner_token = app.owner_token(&app.acme).await;
    let (viewer_id, viewer_email) = app.member(&app.acme, "viewer").await;

    // A wrong password for a known email, an unknown email, then the right password.
    let res = app
        .token_response("acme", &viewer_email, "not the password at all")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .token_response("acme", "nobody@acme.test", "not the password at all")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // An unknown tenant has no trail to write to: the attempt is only logged.
    let res = app
        .token_response("no-such-tenant", &viewer_email, "whatever it is")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let viewer_token = app.token("acme", &viewer_email).await;

    let failed = records(&app, &owner_token, "auth.sign_in_failed").await;
    assert_eq!(failed.len(), 2, "{failed:#?}");
    let unknown = &failed[0];
    assert_eq!(unknown["outcome"], "failure");
    assert_eq!(unknown["actor_type"], "anonymous");
    assert!(unknown["actor_id"].is_null());
    assert!(unknown["target_id"].is_null());
    assert_eq!(unknown["after"]["email"], "nobody@acme.test");
    assert_eq!(unknown["after"]["reason"], "no user with this email");
    let wrong = &failed[1];
    assert_eq!(wrong["target_id"], viewer_id.to_string());
    assert_eq!(wrong["after"]["reason"], "wrong password");
    // A known person's address is not copied into the trail (the target names them).
    assert!(wrong["after"].get("email").is_none(), "{wrong}");
    assert_eq!(wrong["after"]["method"], "password (API token)");
    // The password tried is never recorded, in any form.
    for r in &failed {
        assert!(!r.to_string().contains("not the password"), "{r}");
    }
    let signed_in = records(&app, &owner_token, "auth.signed_in").await;
    let viewer_in: Vec<&Value> = signed_in
        .iter()
        .filter(|r| r["target_id"] == viewer_id.to_string())
        .collect();
    assert_eq!(viewer_in.len(), 1, "{signed_in:#?}");
    assert_eq!(viewer_in[0]["outcome"], "success");
    assert_eq!(viewer_in[0]["actor_type"], "identity");
    assert_eq!(viewer_in[0]["actor_id"], viewer_id.to_string());
    // Globex's trail has none of it.
    let globex_token = app.owner_token(&app.globex).await;
    assert!(
        records(&app, &globex_token, "auth.sign_in_failed")
            .await
            .is_empty()
    );

    // A viewer may read identities but not delete them: the refusal is recorded, with the
    // permission and the reason, although the request's own work was rolled back.
    let path = format!("/v1/identities/{}", app.acme.owner_id);
    let res = app
        .send(Method::DELETE, &path, Some(&viewer_token), None)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The denial is recorded off the request's path: wait for it (a busy machine may take
    // a while).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut denied = Vec::new();
    while std::time::Instant::now() < deadline {
        denied = records(&app, &owner_token, "authz.denied").await;
        if !denied.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(denied.len(), 1, "{denied:#?}");
    let d = &denied[0];
    assert_eq!(d["outcome"], "denied");
    assert_eq!(d["actor_type"], "identity");
    assert_eq!(d["actor_id"], viewer_id.to_string());
    assert_eq!(d["target_type"], "identities");
    // Refused on that identity (a rule on it could have allowed it): the record names it.
    assert_eq!(d["target_id"], app.acme.owner_id.to_string());
    assert_eq!(d["after"]["permission"], "identities:delete");
    assert!(!d["after"]["reason"].as_str().unwrap().is_empty());
    // Records written outside any change still extend the chain.
    let res = app
        .send(
            Method::POST,
            "/v1/audit/verify",
            Some(&owner_token),
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let verification: Value = res.json().await.unwrap();
    assert!(verification["broken"].is_null(), "{verification}");
    assert!(verification["checked"].as_i64().unwrap() >= 4);
}
