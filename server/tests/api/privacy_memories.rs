//! Memories sealed at rest (issue 19, step 3): the text is an envelope under its owner's
//! key (the tenant's for a memory without an owner), the keyword index and the dedupe hash
//! are keyed; every door still reads, finds, highlights and deduplicates them, and a row
//! written before sealing is still found.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::privacy::superuser;

const CANARY: &str = "Quillfeather zebrawings";

/// How many rows of `memories` hold `needle` anywhere (text, index, anything).
async fn rows_holding(app: &TestApp, needle: &str) -> i64 {
    sqlx::query_scalar("select count(*) from memories m where m::text ilike '%' || $1 || '%'")
        .bind(needle)
        .fetch_one(&mut superuser(app).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn memories_are_stored_sealed_and_still_found() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    let t = Some(token.as_str());
    let (person, _) = app.member(&app.acme, "member").await;
    let send = |method: Method, path: String, body: Option<Value>| {
        let app = &app;
        async move { app.send(method, &path, t, body).await }
    };

    let text = format!("{CANARY} sang at the deployment of the harbour crane.");
    let res = send(
        Method::POST,
        "/v1/memories".into(),
        Some(json!({"text": text, "owner_id": person})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let mine: Value = res.json().await.unwrap();
    let mine_id = mine["id"].as_str().unwrap().to_owned();
    assert_eq!(mine["text"], text.as_str());
    let res = send(
        Method::POST,
        "/v1/memories".into(),
        Some(json!({"text": "The tenant's own note: quillfeathers deploy cranes."})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let shared_id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // At rest: no plain text, and neither the words nor their stems anywhere in the rows
    // (the keyword index holds keyed lexemes only); the envelope names its key's kind.
    for needle in ["quillfeather", "zebrawing", "harbour", "crane", "deploy"] {
        assert_eq!(rows_holding(&app, needle).await, 0, "{needle}");
    }
    let mut su = superuser(&app).await;
    let stored: Vec<(String, Option<String>, Vec<u8>)> = sqlx::query_as(
        "select id::text, text, text_sealed from memories where id = any($1::text[]::uuid[])
         order by (owner_id is null)",
    )
    .bind(vec![mine_id.clone(), shared_id.clone()])
    .fetch_all(&mut su)
    .await
    .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|(_, plain, _)| plain.is_none()));
    assert_eq!(stored[0].2[..2], [1, 2], "the owner's key");
    assert_eq!(stored[1].2[..2], [1, 1], "the tenant's data key");
    // Audit records and events never held a memory's text.
    for table in ["audit_log", "outbox_events"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from {table} t where t::text ilike '%quillfeather%'"
        )))
        .fetch_one(&mut su)
        .await
        .unwrap();
        assert_eq!(n, 0, "{table}");
    }

    // Read back, listed, and found by words (stemmed: "deploy" finds "deployment") in
    // every mode, with the words marked.
    let got: Value = send(Method::GET, format!("/v1/memories/{mine_id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["text"], text.as_str());
    let list: Value = send(Method::GET, format!("/v1/memories?owner_id={person}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["text"], text.as_str());
    for mode in ["keyword", "hybrid", "semantic"] {
        let found: Value = send(
            Method::POST,
            "/v1/memories/search".into(),
            Some(json!({"query": "quillfeather deploying", "mode": mode, "top_k": 5})),
        )
        .await
        .json()
        .await
        .unwrap();
        let items = found["items"].as_array().unwrap();
        let hit = items
            .iter()
            .find(|h| h["memory"]["id"] == mine_id.as_str())
            .unwrap_or_else(|| panic!("{mode}: {found}"));
        assert_eq!(hit["memory"]["text"], text.as_str());
        let marked: Vec<String> = hit["highlights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let (a, b) = (
                    r[0].as_u64().unwrap() as usize,
                    r[1].as_u64().unwrap() as usize,
                );
                text.chars().skip(a).take(b - a).collect()
            })
            .collect();
        assert_eq!(marked, ["Quillfeather", "deployment"], "{mode}");
        if mode == "keyword" {
            // Both words are needed: the tenant's note has "quillfeathers" and "deploy".
            assert_eq!(items.len(), 2, "{found}");
        }
    }
    let phrase: Value = send(
        Method::POST,
        "/v1/memories/search".into(),
        Some(json!({"query": "\"harbour crane\" -zebrawings", "mode": "keyword"})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(phrase["items"].as_array().unwrap().len(), 0, "{phrase}");
    let phrase: Value = send(
        Method::POST,
        "/v1/memories/search".into(),
        Some(json!({"query": "\"harbour crane\"", "mode": "keyword"})),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        phrase["items"][0]["memory"]["id"],
        mine_id.as_str(),
        "{phrase}"
    );

    // The same text for the same owner is stored once (the keyed hash matches).
    let res = send(
        Method::POST,
        "/v1/memories".into(),
        Some(json!({"text": format!("  {text} "), "owner_id": person})),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a duplicate answers the memory kept"
    );
    assert_eq!(res.json::<Value>().await.unwrap()["id"], mine_id.as_str());

    // Given to the tenant, it is sealed again under the tenant's key and still reads.
    let res = send(
        Method::PATCH,
        format!("/v1/memories/{mine_id}"),
        Some(json!({"owner_id": null})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let sealed: Vec<u8> =
        sqlx::query_scalar("select text_sealed from memories where id = $1::uuid")
            .bind(&mine_id)
            .fetch_one(&mut su)
            .await
            .unwrap();
    assert_eq!(sealed[..2], [1, 1]);
    let got: Value = send(Method::GET, format!("/v1/memories/{mine_id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["text"], text.as_str());

    // A ciphertext copied to another row does not open there.
    sqlx::query(
        "update memories set text_sealed = (select text_sealed from memories where id = $1::uuid)
         where id = $2::uuid",
    )
    .bind(&mine_id)
    .bind(&shared_id)
    .execute(&mut su)
    .await
    .unwrap();
    let res = send(Method::GET, format!("/v1/memories/{shared_id}"), None).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = res.text().await.unwrap();
    assert!(!body.to_lowercase().contains("quillfeather"), "{body}");
}

/// The id of the best keyword match of `query`.
async fn first_keyword_hit(app: &TestApp, token: &str, query: &str) -> String {
    let found: Value = app
        .send(
            Method::POST,
            "/v1/memories/search",
            Some(token),
            Some(json!({"query": query, "mode": "keyword"})),
        )
        .await
        .json()
        .await
        .unwrap();
    found["items"][0]["memory"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no hit: {found}"))
        .to_owned()
}

#[tokio::test]
async fn a_memory_written_before_sealing_is_still_read_and_found() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    let t = Some(token.as_str());
    let res = app
        .send(
            Method::POST,
            "/v1/memories",
            t,
            Some(json!({"text": "placeholder that becomes a plain row"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // As a row from before migration 033 is: plain text, a plain index (kept by the
    // trigger), the SHA-256 dedupe hash.
    let plain = "Lighthouse keepers log the fog horns nightly.";
    sqlx::query(
        "update memories set text_sealed = null, text = $2, content_hash = sha256($2::bytea)
         where id = $1::uuid",
    )
    .bind(&id)
    .bind(plain)
    .execute(&mut superuser(&app).await)
    .await
    .unwrap();
    let got: Value = app
        .get(&format!("/v1/memories/{id}"), t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["text"], plain);
    assert_eq!(
        first_keyword_hit(&app, &token, "lighthouse keeper").await,
        id
    );
    // Stored again, it is the same memory (found by its old hash).
    let res = app
        .send(
            Method::POST,
            "/v1/memories",
            t,
            Some(json!({"text": plain})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["id"], id.as_str());
    // Changed, it is sealed.
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/memories/{id}"),
            t,
            Some(json!({"tags": ["coast"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (text, sealed): (Option<String>, Option<Vec<u8>>) =
        sqlx::query_as("select text, text_sealed from memories where id = $1::uuid")
            .bind(&id)
            .fetch_one(&mut superuser(&app).await)
            .await
            .unwrap();
    assert!(text.is_none() && sealed.is_some());
    assert_eq!(
        first_keyword_hit(&app, &token, "lighthouse keeper").await,
        id
    );
}
