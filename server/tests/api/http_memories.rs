//! `/v1/memories` over HTTP, and the OpenAI-compatible embedding provider against a real
//! HTTP peer: retries, the circuit breaker's fast 503, timeouts, and re-embedding every
//! memory when the model changes.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::memories::openai::OpenAi;
use service::memories::search::{self, Mode, SearchInput};
use service::memories::{self, NewMemory, upkeep};

use crate::helpers::{EmbeddingPeer, TestApp, owner_ctx, problem};

#[tokio::test]
async fn memories_over_http() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    let send = |method: Method, path: &str, body: Option<Value>| {
        let (app, token, path) = (&app, token.clone(), path.to_owned());
        async move { app.send(method, &path, Some(&token), body).await }
    };

    let body = json!({"text": "The support hotline moved to +49 30 1234.", "tags": ["support"],
                      "metadata": {"region": "eu"}, "ttl_seconds": 3600});
    let res = send(Method::POST, "/v1/memories", Some(body.clone())).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["duplicate"], false);
    assert_eq!(created["embedding_model"], "all-MiniLM-L6-v2");
    assert!(created["expires_at"].is_string());
    let id = created["id"].as_str().unwrap().to_owned();
    // The same text again: 200, the memory already kept.
    let res = send(Method::POST, "/v1/memories", Some(body)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let dup: Value = res.json().await.unwrap();
    assert_eq!(
        (dup["id"].as_str(), &dup["duplicate"]),
        (Some(id.as_str()), &json!(true))
    );

    let res = send(
        Method::POST,
        "/v1/memories",
        Some(json!({"text": "", "importance": 3})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p = problem(res).await;
    assert_eq!(p["errors"].as_array().unwrap().len(), 2);

    // Bulk: per-item answers; one bad item stores nothing.
    let res = send(
        Method::POST,
        "/v1/memories/bulk",
        Some(json!({"items": [{"text": "Office closes at 6pm on Fridays.", "tags": ["office"]},
                              {"text": "The support hotline moved to +49 30 1234.", "tags": ["support"]}]})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let bulk: Value = res.json().await.unwrap();
    assert_eq!(
        (bulk["created"].as_u64(), bulk["duplicates"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(bulk["items"][1]["status"], "duplicate");
    let res = send(
        Method::POST,
        "/v1/memories/bulk",
        Some(json!({"items": [{"text": "fine"}, {"text": " "}]})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "items.1.text");

    // List with filters.
    let list: Value = send(
        Method::GET,
        "/v1/memories?tags=support&metadata=%7B%22region%22%3A%22eu%22%7D",
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    let res = send(Method::GET, "/v1/memories?metadata=not-json", None).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Search: the paraphrase finds the hotline first, with scores and highlights.
    let res = send(
        Method::POST,
        "/v1/memories/search",
        Some(json!({"query": "what number do I call for support?", "mode": "hybrid", "top_k": 5})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let found: Value = res.json().await.unwrap();
    assert_eq!(found["mode"], "hybrid");
    assert_eq!(found["items"][0]["memory"]["id"], id.as_str());
    assert!(found["items"][0]["score"].as_f64().unwrap() > 0.0);
    let text = found["items"][0]["memory"]["text"].as_str().unwrap();
    let [a, b] = [0, 1].map(|i| found["items"][0]["highlights"][0][i].as_u64().unwrap() as usize);
    assert_eq!(
        &text.chars().skip(a).take(b - a).collect::<String>(),
        "support"
    );
    let res = send(
        Method::POST,
        "/v1/memories/search",
        Some(json!({"query": "x", "mode": "fuzzy"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Edit, Trash, restore, delete for good.
    let res = send(
        Method::PATCH,
        &format!("/v1/memories/{id}"),
        Some(json!({"text": "The support hotline is +49 30 9999.", "expires_at": null})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let edited: Value = res.json().await.unwrap();
    assert!(edited["expires_at"].is_null());
    let res = send(Method::DELETE, &format!("/v1/memories/{id}"), None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let trash: Value = send(Method::GET, "/v1/memories?state=deleted", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(trash["items"][0]["id"], id.as_str());
    let res = send(Method::POST, &format!("/v1/memories/{id}/restore"), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = send(
        Method::DELETE,
        &format!("/v1/memories/{id}?hard=true"),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = send(Method::GET, &format!("/v1/memories/{id}"), None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Bulk delete by filter, then the tenant's settings and the model status.
    let res = send(
        Method::DELETE,
        "/v1/memories/bulk",
        Some(json!({"filter": {"tags": ["office"]}})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["deleted"], 1);
    let res = send(Method::DELETE, "/v1/memories/bulk", Some(json!({}))).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = send(
        Method::PUT,
        "/v1/memories/settings",
        Some(json!({"default_ttl_seconds": 86400})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let status: Value = res.json().await.unwrap();
    assert_eq!(status["default_ttl_seconds"], 86400);
    assert_eq!(status["model"], "all-MiniLM-L6-v2");
    assert_eq!(status["total"], status["current"]);
    // With a default lifetime, a memory that names none gets it; `expires_at: null` opts out.
    let res = send(
        Method::POST,
        "/v1/memories",
        Some(json!({"text": "Parking is behind the building."})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(res.json::<Value>().await.unwrap()["expires_at"].is_string());
    let res = send(
        Method::POST,
        "/v1/memories",
        Some(json!({"text": "The office cat is called Miso.", "expires_at": null})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(res.json::<Value>().await.unwrap()["expires_at"].is_null());
}

fn provider(peer: &EmbeddingPeer, timeout: Duration) -> OpenAi {
    OpenAi::new(
        &peer.url,
        "peer-bow-8",
        Some("sk-test-secret".into()),
        timeout,
    )
    .unwrap()
}

#[tokio::test]
async fn a_failing_embedding_provider_is_retried_then_cut_off_with_a_fast_503() {
    let app = TestApp::spawn().await;
    let peer = EmbeddingPeer::start().await;
    peer.failing.store(true, Ordering::SeqCst);
    let mut p = provider(&peer, Duration::from_secs(5));
    p.trip_after = 2;
    p.cool_down = Duration::from_millis(500);
    let second = app.spawn_second_with_embedder(Arc::new(p)).await;
    let token = second.owner_token(&second.acme).await;
    let store = |text: &str| {
        let (second, token) = (&second, token.clone());
        let body = json!({"text": text});
        async move {
            second
                .send(Method::POST, "/v1/memories", Some(&token), Some(body))
                .await
        }
    };

    // Each request tries three times (two retries), then answers 503.
    for expected_requests in [3, 6] {
        let res = store("Anything").await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let p = problem(res).await;
        assert_eq!(p["code"], "embeddings_unavailable");
        let detail = p["detail"].as_str().unwrap_or_default().to_owned()
            + p["title"].as_str().unwrap_or_default();
        assert!(
            !detail.contains("127.0.0.1") && !detail.contains("sk-test"),
            "{detail}"
        );
        assert_eq!(peer.requests.load(Ordering::SeqCst), expected_requests);
    }
    // The circuit is open: the provider is not called at all.
    let res = store("Anything").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(peer.requests.load(Ordering::SeqCst), 6);
    // Search fails the same way; keyword search needs no embedding and still works.
    let res = second
        .send(
            Method::POST,
            "/v1/memories/search",
            Some(&token),
            Some(json!({"query": "x", "mode": "semantic"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let res = second
        .send(
            Method::POST,
            "/v1/memories/search",
            Some(&token),
            Some(json!({"query": "x", "mode": "keyword"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // Once the provider is back, the first call after the cool-down closes the circuit.
    peer.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let res = store("Back in business").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (
            body["embedding_model"].as_str(),
            body["embedding_dim"].as_i64()
        ),
        (Some("peer-bow-8"), Some(8))
    );
}

#[tokio::test]
async fn a_slow_embedding_provider_times_out() {
    let app = TestApp::spawn().await;
    let peer = EmbeddingPeer::start().await;
    peer.delay_ms.store(3_000, Ordering::SeqCst);
    let mut p = provider(&peer, Duration::from_millis(200));
    p.retries = 1;
    let db = service::Db::connect(&app.db_url, 2)
        .await
        .unwrap()
        .with_master_key(app.master.clone())
        .with_embedder(Arc::new(p));
    let owner = owner_ctx(&db, &app.acme).await;
    let err = memories::create(
        &owner,
        &db,
        NewMemory {
            text: "slow".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "embeddings_unavailable");
    assert!(
        err.public_message().contains("did not answer in time"),
        "{}",
        err.public_message()
    );
    assert_eq!(peer.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn changing_the_model_re_embeds_every_memory_with_progress() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    for text in [
        "Red apples are sweet.",
        "Green apples are sour.",
        "The train leaves at nine.",
    ] {
        memories::create(
            &owner,
            &app.db,
            NewMemory {
                text: text.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let globex = owner_ctx(&app.db, &app.globex).await;
    memories::create(
        &globex,
        &app.db,
        NewMemory {
            text: "Globex's own.".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let peer = EmbeddingPeer::start().await;
    let db = service::Db::connect(&app.db_url, 2)
        .await
        .unwrap()
        .with_master_key(app.master.clone())
        .with_embedder(Arc::new(provider(&peer, Duration::from_secs(5))));
    let owner = owner_ctx(&db, &app.acme).await;
    let status = upkeep::status(&owner, &db).await.unwrap();
    assert_eq!(
        (status.model.as_str(), status.total, status.current),
        ("peer-bow-8", 3, 0)
    );
    // Searching by meaning with the new model finds nothing yet; words still work.
    let hits = search::search(
        &owner,
        &db,
        SearchInput {
            query: "apples".into(),
            mode: Mode::Semantic,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(hits.is_empty());

    assert_eq!(upkeep::reembed_batch(&db, app.acme.id, 2).await.unwrap(), 2);
    assert_eq!(upkeep::status(&owner, &db).await.unwrap().current, 2);
    assert_eq!(
        upkeep::reembed_all(&db, 2).await.unwrap(),
        2,
        "acme's last one and globex's"
    );
    let status = upkeep::status(&owner, &db).await.unwrap();
    assert_eq!((status.total, status.current), (3, 3));

    // The new vectors have the new model's size, and searching by meaning works again
    // (8 dimensions have no HNSW index: the search is exact).
    let hits = search::search(
        &owner,
        &db,
        SearchInput {
            query: "sweet red apples".into(),
            mode: Mode::Semantic,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].memory.text, "Red apples are sweet.");
    assert!(
        hits.iter()
            .all(|h| h.memory.embedding_dim == 8 && h.memory.embedding_model == "peer-bow-8")
    );
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&app.db_url)
        .await
        .unwrap();
    let batches: Vec<i64> = sqlx::query_scalar(
        "select (payload->'data'->>'count')::bigint from outbox_events
         where tenant_id = $1 and event_type = 'memory.reembedded' order by id",
    )
    .bind(app.acme.id)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(batches, [2, 1]);
}
