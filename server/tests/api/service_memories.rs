//! Memories on a real database with the real local embedding model: dedupe, re-embedding
//! on edit, the three search modes, TTL, the Trash, bulk operations, tenant isolation and
//! the agents-keep-their-own-memories policy.

use serde_json::{Value, json};
use service::identities::{self, Kind, NewIdentity};
use service::memories::search::{self, Mode, SearchInput};
use service::memories::{self, Filter, Memory, MemoryPatch, NewMemory, State, Stored, upkeep};
use service::{Ctx, Db};
use sqlx::Connection;
use uuid::Uuid;

use crate::helpers::{TestApp, member_ctx, owner_ctx};

fn memory(text: &str) -> NewMemory {
    NewMemory {
        text: text.into(),
        ..Default::default()
    }
}

/// Stores `input`, which must be new.
async fn store(ctx: &Ctx, db: &Db, input: NewMemory) -> Memory {
    let stored = memories::create(ctx, db, input).await.unwrap();
    assert!(
        stored.created(),
        "a duplicate where a new memory was expected"
    );
    stored.into_memory()
}

fn query(q: &str, mode: Mode) -> SearchInput {
    SearchInput {
        query: q.into(),
        mode,
        ..Default::default()
    }
}

/// The stored vector of a memory, read as the superuser.
async fn vector_of(app: &TestApp, id: Uuid) -> (String, Vec<f32>) {
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let (model, text): (String, String) =
        sqlx::query_as("select embedding_model, embedding::text from memories where id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let v = text
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|x| x.parse().unwrap())
        .collect();
    (model, v)
}

/// Audit records and events about memories, as the superuser: (action, before, after).
async fn history(app: &TestApp, tenant: Uuid) -> Vec<(String, Option<Value>, Option<Value>)> {
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query_as(
        "select action, before, after from audit_log
         where tenant_id = $1 and target_type = 'memory' order by id",
    )
    .bind(tenant)
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn storing_dedupes_and_editing_re_embeds_without_leaking_text_to_the_audit() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let first = memories::create(
        &owner,
        &app.db,
        NewMemory {
            owner_id: Some(app.acme.owner_id),
            text: "  The invoice for March was paid by bank transfer.  ".into(),
            tags: Some(vec!["billing".into(), "billing".into(), "march".into()]),
            metadata: Some(json!({"customer": "c-17"})),
            source: Some("email".into()),
            importance: Some(0.8),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let Stored::Created(m) = first else {
        panic!("a new memory is created")
    };
    assert_eq!(m.text, "The invoice for March was paid by bank transfer.");
    assert_eq!(m.tags, ["billing", "march"]);
    assert_eq!(
        (m.embedding_model.as_str(), m.embedding_dim),
        ("all-MiniLM-L6-v2", 384)
    );
    let (_, v1) = vector_of(&app, m.id).await;
    let norm: f32 = v1.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(
        (norm - 1.0).abs() < 1e-3,
        "stored vectors are normalized: {norm}"
    );

    // The same text for the same owner is the same memory; for another owner it is not.
    let again = memories::create(
        &owner,
        &app.db,
        NewMemory {
            owner_id: Some(app.acme.owner_id),
            text: "The invoice for March was paid by bank transfer.".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(matches!(&again, Stored::Duplicate(d) if d.id == m.id));
    let shared = memories::create(
        &owner,
        &app.db,
        memory("The invoice for March was paid by bank transfer."),
    )
    .await
    .unwrap();
    assert!(shared.created() && shared.memory().id != m.id);

    // A new text is embedded again; other edits keep the vector.
    let edited = memories::update(
        &owner,
        &app.db,
        m.id,
        MemoryPatch {
            text: Some("The April invoice is still unpaid.".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(edited.text, "The April invoice is still unpaid.");
    let (_, v2) = vector_of(&app, m.id).await;
    assert_ne!(v1, v2);
    memories::update(
        &owner,
        &app.db,
        m.id,
        MemoryPatch {
            tags: Some(vec!["unpaid".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(vector_of(&app, m.id).await.1, v2);

    // Editing into another memory's text of the same owner is refused.
    let other = store(
        &owner,
        &app.db,
        NewMemory {
            owner_id: Some(app.acme.owner_id),
            text: "Prefers email over phone calls.".into(),
            ..Default::default()
        },
    )
    .await;
    let err = memories::update(
        &owner,
        &app.db,
        other.id,
        MemoryPatch {
            text: Some("The April invoice is still unpaid.".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!((err.status(), err.code()), (409, "duplicate_memory"));

    // Bad input names its fields and stores nothing.
    let err = memories::create(
        &owner,
        &app.db,
        NewMemory {
            text: "   ".into(),
            metadata: Some(json!([1, 2])),
            importance: Some(1.5),
            ttl_seconds: Some(0),
            owner_id: Some(Uuid::now_v7()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    let fields: Vec<&str> = err
        .field_errors()
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(fields, ["text", "metadata", "importance", "ttl_seconds"]);
    let err = memories::create(
        &owner,
        &app.db,
        NewMemory {
            owner_id: Some(Uuid::now_v7()),
            ..memory("Somebody unknown")
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.field_errors()[0].code, "unknown_identity");

    // Every change is audited, and no audit record holds the text or the metadata.
    let records = history(&app, app.acme.id).await;
    let actions: Vec<&str> = records.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        actions,
        [
            "memory.created",
            "memory.created",
            "memory.updated",
            "memory.updated",
            "memory.created"
        ]
    );
    for (_, before, after) in &records {
        for snap in [before, after].into_iter().flatten() {
            let s = snap.to_string();
            assert!(!s.contains("invoice") && !s.contains("c-17"), "{s}");
            assert!(snap.get("text").is_none() && snap.get("metadata").is_none());
        }
    }
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let events: Vec<String> = sqlx::query_scalar(
        "select event_type from outbox_events where tenant_id = $1 and subject_type = 'memory' order by id",
    )
    .bind(app.acme.id)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(events, actions);
}

const CORPUS: [&str; 6] = [
    "The quarterly report is due on Friday afternoon.",
    "Maria is allergic to peanuts and shellfish.",
    "Our office coffee machine broke again this morning.",
    "The customer asked for a refund because the package arrived damaged.",
    "Deploys to production are frozen during the holiday week.",
    "Use the staging database for load tests, never production.",
];

#[tokio::test]
async fn search_finds_by_meaning_by_words_and_both_and_scores_them() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let created =
        memories::bulk_create(&owner, &app.db, CORPUS.iter().map(|t| memory(t)).collect())
            .await
            .unwrap();
    let id_of = |i: usize| created[i].stored.memory().id;

    // A paraphrase that shares no word with the memory is found first by meaning.
    let hits = search::search(
        &owner,
        &app.db,
        query("Which foods can she not eat?", Mode::Semantic),
    )
    .await
    .unwrap();
    assert_eq!(hits.len(), CORPUS.len());
    assert_eq!(
        hits[0].memory.id,
        id_of(1),
        "{:?}",
        hits.iter().map(|h| &h.memory.text).collect::<Vec<_>>()
    );
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(hits[0].semantic_score.unwrap() > 0.3 && hits[0].keyword_score.is_none());

    // min_score drops the weak matches.
    let strong = search::search(
        &owner,
        &app.db,
        SearchInput {
            min_score: Some(hits[0].score - 0.001),
            ..query("Which foods can she not eat?", Mode::Semantic)
        },
    )
    .await
    .unwrap();
    assert_eq!(strong.len(), 1);

    // Keyword search matches stemmed words and marks them.
    let hits = search::search(
        &owner,
        &app.db,
        query("deploying production", Mode::Keyword),
    )
    .await
    .unwrap();
    let ids: Vec<Uuid> = hits.iter().map(|h| h.memory.id).collect();
    assert_eq!(ids, [id_of(4)], "every word must match");
    let deploys = &hits[0];
    let marked: Vec<String> = deploys
        .highlights
        .iter()
        .map(|&(a, b)| deploys.memory.text.chars().skip(a).take(b - a).collect())
        .collect();
    assert_eq!(marked, ["Deploys", "production"]);
    let hits = search::search(&owner, &app.db, query("deploy or staging", Mode::Keyword))
        .await
        .unwrap();
    let mut ids: Vec<Uuid> = hits.iter().map(|h| h.memory.id).collect();
    ids.sort();
    assert_eq!(ids, [id_of(4), id_of(5)]);

    // Hybrid fuses both lists: a memory both find ranks above those only one finds.
    let hits = search::search(
        &owner,
        &app.db,
        query("refund for a damaged package", Mode::Hybrid),
    )
    .await
    .unwrap();
    assert_eq!(hits[0].memory.id, id_of(3));
    assert!(hits[0].semantic_score.is_some() && hits[0].keyword_score.is_some());
    assert!(hits.iter().skip(1).all(|h| h.score < hits[0].score));

    // Filters: tags, metadata containment, owner, top_k.
    memories::create(
        &owner,
        &app.db,
        NewMemory {
            tags: Some(vec!["diet".into()]),
            metadata: Some(json!({"team": "kitchen", "level": 2})),
            owner_id: Some(app.acme.owner_id),
            ..memory("Tom does not eat meat.")
        },
    )
    .await
    .unwrap();
    let filtered = |filter: Filter| {
        let owner = &owner;
        let app = &app;
        async move {
            search::search(
                owner,
                &app.db,
                SearchInput {
                    filter,
                    ..query("what do people not eat", Mode::Semantic)
                },
            )
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.memory.text)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        filtered(Filter {
            tags: vec!["diet".into()],
            ..Default::default()
        })
        .await,
        ["Tom does not eat meat."]
    );
    assert_eq!(
        filtered(Filter {
            metadata: Some(json!({"team": "kitchen"})),
            ..Default::default()
        })
        .await,
        ["Tom does not eat meat."]
    );
    assert_eq!(
        filtered(Filter {
            owner_id: Some(app.acme.owner_id),
            ..Default::default()
        })
        .await,
        ["Tom does not eat meat."]
    );
    let top2 = search::search(
        &owner,
        &app.db,
        SearchInput {
            top_k: Some(2),
            ..query("food", Mode::Hybrid)
        },
    )
    .await
    .unwrap();
    assert_eq!(top2.len(), 2);
    let err = search::search(
        &owner,
        &app.db,
        SearchInput {
            top_k: Some(0),
            ..query(" ", Mode::Hybrid)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.field_errors().len(), 2);
}

/// Moves the expiry of `ids` into the past, as the superuser: time passing, without a sleep.
async fn expire_now(app: &TestApp, ids: Vec<Uuid>) {
    let mut su = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query("update memories set expires_at = now() - interval '1 second' where id = any($1)")
        .bind(ids)
        .execute(&mut su)
        .await
        .unwrap();
}

#[tokio::test]
async fn expired_memories_are_never_returned_and_the_purge_removes_them_in_batches() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let short = store(
        &owner,
        &app.db,
        NewMemory {
            ttl_seconds: Some(3600),
            ..memory("The door code is 4711 until tonight.")
        },
    )
    .await;
    let lasting = store(&owner, &app.db, memory("The door code is 1234 forever.")).await;
    assert!(short.expires_at.is_some() && lasting.expires_at.is_none());
    assert_eq!(
        memories::get(&owner, &app.db, short.id).await.unwrap().id,
        short.id
    );

    // Time passes (the test moves the expiry instead of sleeping).
    expire_now(&app, vec![short.id]).await;
    // Gone for every read before the purge has run.
    assert_eq!(
        memories::get(&owner, &app.db, short.id)
            .await
            .unwrap_err()
            .status(),
        404
    );
    let listed = memories::list(&owner, &app.db, &Filter::default(), State::All, None, None)
        .await
        .unwrap();
    assert_eq!(
        listed.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        [lasting.id]
    );
    for mode in [Mode::Semantic, Mode::Keyword, Mode::Hybrid] {
        let hits = search::search(&owner, &app.db, query("door code", mode))
            .await
            .unwrap();
        assert!(hits.iter().all(|h| h.memory.id != short.id), "{mode:?}");
    }
    // Storing the same text again replaces the expired copy.
    let again = memories::create(
        &owner,
        &app.db,
        memory("The door code is 4711 until tonight."),
    )
    .await
    .unwrap();
    assert!(again.created() && again.memory().id != short.id);

    // The tenant's default TTL applies to memories that set none.
    upkeep::set_default_ttl(&owner, &app.db, Some(1))
        .await
        .unwrap();
    let mut batch = Vec::new();
    for i in 0..5 {
        batch.push(
            store(
                &owner,
                &app.db,
                memory(&format!("Short-lived note number {i}.")),
            )
            .await,
        );
    }
    assert!(batch.iter().all(|m| m.expires_at.is_some()));
    // Unless the memory says it never expires, which cannot also name an expiry.
    let kept = store(
        &owner,
        &app.db,
        NewMemory {
            never_expires: true,
            ..memory("The wifi password is on the fridge.")
        },
    )
    .await;
    assert_eq!(kept.expires_at, None);
    let err = memories::create(
        &owner,
        &app.db,
        NewMemory {
            never_expires: true,
            ttl_seconds: Some(60),
            ..memory("Both at once.")
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.field_errors()[0].field, "never_expires");
    upkeep::set_default_ttl(&owner, &app.db, None)
        .await
        .unwrap();
    expire_now(&app, batch.iter().map(|m| m.id).collect()).await;

    let removed = upkeep::purge_expired(&app.db, 2).await.unwrap();
    assert_eq!(removed, 5);
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let left: i64 = sqlx::query_scalar("select count(*) from memories where tenant_id = $1")
        .bind(app.acme.id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        left, 3,
        "the lasting memory, the re-stored one and the kept one"
    );
    // One event per batch of at most 2: 2 + 2 + 1, each listing its ids.
    let batches: Vec<Value> = sqlx::query_scalar(
        "select payload from outbox_events where tenant_id = $1 and event_type = 'memory.expired' order by id",
    )
    .bind(app.acme.id)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let counts: Vec<u64> = batches
        .iter()
        .map(|p| p["data"]["count"].as_u64().unwrap())
        .collect();
    // The first expired event is the copy that gave way when the text was stored again.
    assert_eq!(counts, [1, 2, 2, 1]);
    assert_eq!(upkeep::purge_expired(&app.db, 2).await.unwrap(), 0);
}

#[tokio::test]
async fn the_trash_restores_and_hard_delete_keeps_only_the_id() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let m = store(
        &owner,
        &app.db,
        memory("Sam's birthday is on the 3rd of May."),
    )
    .await;
    memories::delete(&owner, &app.db, m.id, false)
        .await
        .unwrap();
    let live = memories::list(&owner, &app.db, &Filter::default(), State::Live, None, None)
        .await
        .unwrap();
    assert!(live.items.is_empty());
    let trash = memories::list(
        &owner,
        &app.db,
        &Filter::default(),
        State::Deleted,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(trash.items[0].id, m.id);
    assert!(trash.items[0].deleted_at.is_some());
    // Out of search, unless asked for.
    let hits = search::search(&owner, &app.db, query("birthday", Mode::Hybrid))
        .await
        .unwrap();
    assert!(hits.is_empty());
    let hits = search::search(
        &owner,
        &app.db,
        SearchInput {
            include_deleted: true,
            ..query("birthday", Mode::Hybrid)
        },
    )
    .await
    .unwrap();
    assert_eq!(hits[0].memory.id, m.id);
    // A memory in the Trash does not change, and the same text may be stored anew.
    let err = memories::update(
        &owner,
        &app.db,
        m.id,
        MemoryPatch {
            tags: Some(vec!["x".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "memory_deleted");
    let twin = store(
        &owner,
        &app.db,
        memory("Sam's birthday is on the 3rd of May."),
    )
    .await;
    // Restoring would make two live copies: refused until the twin goes.
    let err = memories::restore(&owner, &app.db, m.id).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (409, "duplicate_memory"));
    memories::delete(&owner, &app.db, twin.id, true)
        .await
        .unwrap();
    let restored = memories::restore(&owner, &app.db, m.id).await.unwrap();
    assert!(restored.deleted_at.is_none());
    assert_eq!(
        memories::restore(&owner, &app.db, m.id)
            .await
            .unwrap_err()
            .code(),
        "not_deleted"
    );

    memories::delete(&owner, &app.db, m.id, true).await.unwrap();
    assert_eq!(
        memories::get(&owner, &app.db, m.id)
            .await
            .unwrap_err()
            .status(),
        404
    );
    let records = history(&app, app.acme.id).await;
    let purged: Vec<_> = records.iter().filter(|r| r.0 == "memory.purged").collect();
    assert_eq!(purged.len(), 2);
    assert!(
        purged
            .iter()
            .all(|(_, before, after)| before.is_none() && after.is_none())
    );
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let target: Option<Uuid> = sqlx::query_scalar(
        "select target_id from audit_log where tenant_id = $1 and action = 'memory.purged' order by id desc limit 1",
    )
    .bind(app.acme.id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(target, Some(m.id));
}

#[tokio::test]
async fn bulk_create_is_all_or_nothing_and_bulk_delete_takes_a_filter() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    memories::create(&owner, &app.db, memory("Already here."))
        .await
        .unwrap();
    let tagged = |t: &str| NewMemory {
        tags: Some(vec!["import".into()]),
        ..memory(t)
    };
    let items = memories::bulk_create(
        &owner,
        &app.db,
        vec![
            tagged("One."),
            tagged("Two."),
            tagged("One."),
            memory("Already here."),
        ],
    )
    .await
    .unwrap();
    let statuses: Vec<bool> = items.iter().map(|i| i.stored.created()).collect();
    assert_eq!(statuses, [true, true, false, false]);
    assert_eq!(items[2].stored.memory().id, items[0].stored.memory().id);

    // One bad item: nothing is stored, and the bad fields are named by index.
    let err = memories::bulk_create(
        &owner,
        &app.db,
        vec![
            tagged("Three."),
            memory(""),
            NewMemory {
                importance: Some(2.0),
                ..memory("Four.")
            },
        ],
    )
    .await
    .unwrap_err();
    let fields: Vec<&str> = err
        .field_errors()
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(fields, ["items.1.text", "items.2.importance"]);
    let all = memories::list(&owner, &app.db, &Filter::default(), State::All, None, None)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 3);
    let too_many = (0..=memories::MAX_BULK)
        .map(|i| memory(&format!("m{i}")))
        .collect();
    assert_eq!(
        memories::bulk_create(&owner, &app.db, too_many)
            .await
            .unwrap_err()
            .status(),
        422
    );

    // Bulk delete needs a filter; the tag takes the two imported memories.
    let err = memories::bulk_delete(&owner, &app.db, &Filter::default(), State::Live, false)
        .await
        .unwrap_err();
    assert_eq!(err.status(), 422);
    let by_tag = Filter {
        tags: vec!["import".into()],
        ..Default::default()
    };
    assert_eq!(
        memories::bulk_delete(&owner, &app.db, &by_tag, State::Live, false)
            .await
            .unwrap(),
        2
    );
    let live = memories::list(&owner, &app.db, &Filter::default(), State::Live, None, None)
        .await
        .unwrap();
    assert_eq!(live.items.len(), 1);
    // Emptying the Trash removes them for good.
    assert_eq!(
        memories::bulk_delete(&owner, &app.db, &Filter::default(), State::Deleted, true)
            .await
            .unwrap(),
        2
    );
    let all = memories::list(&owner, &app.db, &Filter::default(), State::All, None, None)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);

    // Keyset pages cover every memory once.
    let many: Vec<NewMemory> = (0..7)
        .map(|i| memory(&format!("Paged memory {i}.")))
        .collect();
    memories::bulk_create(&owner, &app.db, many).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = memories::list(
            &owner,
            &app.db,
            &Filter::default(),
            State::Live,
            Some(3),
            cursor.as_deref(),
        )
        .await
        .unwrap();
        seen.extend(page.items.iter().map(|m| m.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (8, 8));
}

#[tokio::test]
async fn search_and_reads_stay_inside_the_tenant() {
    let app = TestApp::spawn().await;
    let acme = owner_ctx(&app.db, &app.acme).await;
    let globex = owner_ctx(&app.db, &app.globex).await;
    let text = "The launch password is swordfish.";
    let mine = store(&acme, &app.db, memory(text)).await;
    // Many near-identical memories in the other tenant, closer to the query than ours.
    let theirs = memories::bulk_create(
        &globex,
        &app.db,
        (0..40)
            .map(|i| memory(&format!("The launch password is swordfish {i}.")))
            .collect(),
    )
    .await
    .unwrap();
    for mode in [Mode::Semantic, Mode::Keyword, Mode::Hybrid] {
        let hits = search::search(&acme, &app.db, query("launch password swordfish", mode))
            .await
            .unwrap();
        assert_eq!(
            hits.iter().map(|h| h.memory.id).collect::<Vec<_>>(),
            [mine.id],
            "{mode:?}"
        );
    }
    let foreign = theirs[0].stored.memory().id;
    assert_eq!(
        memories::get(&acme, &app.db, foreign)
            .await
            .unwrap_err()
            .status(),
        404
    );
    assert_eq!(
        memories::delete(&acme, &app.db, foreign, true)
            .await
            .unwrap_err()
            .status(),
        404
    );
    assert_eq!(
        memories::restore(&acme, &app.db, foreign)
            .await
            .unwrap_err()
            .status(),
        404
    );
    let err = memories::update(
        &acme,
        &app.db,
        foreign,
        MemoryPatch {
            tags: Some(vec![]),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 404);
    // Owners must be of the tenant.
    let err = memories::create(
        &acme,
        &app.db,
        NewMemory {
            owner_id: Some(app.globex.owner_id),
            ..memory("Cross-tenant owner")
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.field_errors()[0].code, "unknown_identity");
    let err = memories::bulk_delete(
        &acme,
        &app.db,
        &Filter {
            source: Some(String::new()),
            ..Default::default()
        },
        State::Live,
        true,
    )
    .await
    .unwrap();
    assert_eq!(err, 1, "only acme's memory");
    let left = memories::list(
        &globex,
        &app.db,
        &Filter::default(),
        State::Live,
        Some(200),
        None,
    )
    .await
    .unwrap();
    assert_eq!(left.items.len(), 40);
}

#[tokio::test]
async fn an_agent_keeps_to_its_own_memories_through_the_shipped_policy() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let new_agent = |name: &str| NewIdentity {
        display_name: Some(name.into()),
        kind: Some(Kind::Agent),
        roles: Some(vec![]),
        ..Default::default()
    };
    let bot = identities::create(&owner, &app.db, new_agent("Support bot"))
        .await
        .unwrap();
    let other_bot = identities::create(&owner, &app.db, new_agent("Sales bot"))
        .await
        .unwrap();
    let bot_ctx = member_ctx(&app.db, app.acme.id, bot.id).await;
    let other_ctx = member_ctx(&app.db, app.acme.id, other_bot.id).await;

    let own = store(
        &bot_ctx,
        &app.db,
        NewMemory {
            owner_id: Some(bot.id),
            ..memory("The customer prefers morning calls.")
        },
    )
    .await;
    let theirs = store(
        &other_ctx,
        &app.db,
        NewMemory {
            owner_id: Some(other_bot.id),
            ..memory("The customer prefers evening calls.")
        },
    )
    .await;
    let shared = store(&owner, &app.db, memory("Calls are recorded for quality.")).await;

    // Not the tenant's memories, not another agent's.
    let err = memories::create(&bot_ctx, &app.db, memory("A tenant-wide note"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 403);
    let err = memories::create(
        &bot_ctx,
        &app.db,
        NewMemory {
            owner_id: Some(other_bot.id),
            ..memory("Planted")
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 403);
    let listed = memories::list(
        &bot_ctx,
        &app.db,
        &Filter::default(),
        State::Live,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        listed.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        [own.id]
    );
    let hits = search::search(
        &bot_ctx,
        &app.db,
        query("when does the customer like calls", Mode::Hybrid),
    )
    .await
    .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.memory.id).collect::<Vec<_>>(),
        [own.id]
    );
    for id in [theirs.id, shared.id] {
        assert_eq!(
            memories::get(&bot_ctx, &app.db, id)
                .await
                .unwrap_err()
                .status(),
            404
        );
        assert_eq!(
            memories::delete(&bot_ctx, &app.db, id, false)
                .await
                .unwrap_err()
                .status(),
            404
        );
    }
    memories::delete(&bot_ctx, &app.db, own.id, false)
        .await
        .unwrap();
    memories::restore(&bot_ctx, &app.db, own.id).await.unwrap();
    // The owner sees everything.
    let all = memories::list(&owner, &app.db, &Filter::default(), State::Live, None, None)
        .await
        .unwrap();
    assert_eq!(all.items.len(), 3);

    // The policy is what grants it: disabled, the agent has no memories at all.
    let policy = service::policies::list(&owner, &app.db)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == service::policies::AGENTS_OWN_MEMORIES)
        .expect("every tenant starts with the example policy");
    service::policies::update(
        &owner,
        &app.db,
        policy.id,
        service::policies::PolicyInput {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let bot_ctx = member_ctx(&app.db, app.acme.id, bot.id).await;
    let err = memories::list(
        &bot_ctx,
        &app.db,
        &Filter::default(),
        State::Live,
        None,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 403);
    // And a role grants more: the viewer role reads every memory.
    service::roles::set_identity_roles(&owner, &app.db, bot.id, vec!["viewer".into()])
        .await
        .unwrap();
    let bot_ctx = member_ctx(&app.db, app.acme.id, bot.id).await;
    let listed = memories::list(
        &bot_ctx,
        &app.db,
        &Filter::default(),
        State::Live,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(listed.items.len(), 3);
}

/// Keyword hits are highlighted by `search::mark_words` (Snowball's English stemmer in
/// process), not by `ts_headline` in the database: over sentences and queries with plurals,
/// verb forms, capitals, possessives, hyphens, contractions, numbers and accents, both mark
/// exactly the same words.
#[tokio::test]
async fn keyword_highlights_mark_what_ts_headline_marks() {
    let app = TestApp::spawn().await;
    let texts = [
        "Deploys to production run every Tuesday; the deployment of 3 services failed.",
        "The customer's invoices were paid late, so Customers asked about invoicing.",
        "A follow-up meeting about the budget: meetings are budgeted quarterly.",
        "Don't reset passwords by e-mail; she's resetting hers on day 12 with token abc123.",
        "Café owners in Zürich prefer naïve résumés and CAFÉS open late.",
        "Running, runner, runs and ran: the train trained the trainers, who were training.",
        "Generously, generations generalized the general's generous generalities.",
        "Laptops, LAPTOP and laptop-bags; contract_contractor contracted contracts.",
        "Universities' universal emergency: organizations later communicated past the arsenal.",
        "",
    ];
    let queries = [
        "deploying production",
        "customer invoice",
        "follow meeting budgets",
        "reset password day 12 abc123",
        "café résumé naive",
        "run train",
        "generous general generation",
        "laptop contract",
        "university universe emergent organ late communication pasting arsenals",
        "the and of",
    ];
    let pool = app.db.pool_for_tests();
    for text in texts {
        for q in queries {
            let (marked, lexemes): (String, Vec<String>) = sqlx::query_as(
                "select ts_headline('english', $1,
                        replace(plainto_tsquery('english', $2)::text, ' & ', ' | ')::tsquery,
                        'HighlightAll=true, StartSel=' || chr(1) || ', StopSel=' || chr(2)),
                        tsvector_to_array(to_tsvector('english', $2))",
            )
            .bind(text)
            .bind(q)
            .fetch_one(pool)
            .await
            .unwrap();
            let expected = search::ranges(&marked, text);
            assert_eq!(
                search::mark_words(text, &lexemes),
                expected,
                "{text:?} searched for {q:?}: PostgreSQL marked {marked:?}"
            );
        }
    }
    // And the corpus exercises it: most pairs above mark something.
    let (marked, lexemes): (String, Vec<String>) = sqlx::query_as(
        "select ts_headline('english', $1, plainto_tsquery('english', $2),
                'StartSel=<, StopSel=>'), tsvector_to_array(to_tsvector('english', $2))",
    )
    .bind(texts[0])
    .bind(queries[0])
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(lexemes, ["deploy", "product"]);
    assert!(marked.contains("<Deploys>"), "{marked}");
    assert_eq!(search::mark_words(texts[0], &lexemes).len(), 3);
}

/// Every GIN index a search reads places new rows' entries at once: with a pending list
/// (`fastupdate`, PostgreSQL's default) each search reads the whole list until a vacuum
/// merges it (a keyword query 4 times slower, an identity search 12 times:
/// docs/benchmarks.md). A partition created or an index added without the setting fails
/// here.
#[tokio::test]
async fn the_search_indexes_keep_no_pending_list() {
    let app = TestApp::spawn().await;
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let gin: Vec<(String, bool)> = sqlx::query_as(
        "select c.relname::text, coalesce(c.reloptions @> array['fastupdate=off'], false)
         from pg_class c join pg_am am on am.oid = c.relam
         join pg_index i on i.indexrelid = c.oid
         join pg_class t on t.oid = i.indrelid
         where am.amname = 'gin' and c.relkind = 'i'
           and (t.relname like 'memories_p%' or t.relname = 'identities')
         order by 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    // Three per partition of memories (text, tags, metadata), and two of identities' names
    // (trigrams of plain ones, keyed grams of sealed ones).
    assert_eq!(gin.len(), 16 * 3 + 2, "{gin:?}");
    let pending: Vec<&str> = gin
        .iter()
        .filter(|(_, off)| !off)
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        pending.is_empty(),
        "GIN indexes with a pending list: {pending:?}"
    );
}
