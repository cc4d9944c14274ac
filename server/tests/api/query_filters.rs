//! The audit trail's and the event log's filters are SQL built at run time (QueryBuilder):
//! every branch is run here against PostgreSQL, alone and together, and each must narrow the
//! list to exactly the records it names.

use service::audit_log::{self, AuditQuery, ExportFormat, Outcome};
use service::events::{self, EventQuery};
use service::identities::{self, IdentityPatch, NewIdentity};
use service::{Ctx, Db};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::helpers::{TestApp, member_ctx, owner_ctx};

async fn person(ctx: &Ctx, db: &Db, email: &str, role: &str) -> Uuid {
    let input = NewIdentity {
        email: Some(email.into()),
        display_name: Some(email.into()),
        roles: Some(vec![role.into()]),
        ..Default::default()
    };
    identities::create(ctx, db, input).await.unwrap().id
}

async fn audit(ctx: &Ctx, db: &Db, query: AuditQuery) -> Vec<audit_log::AuditRecord> {
    audit_log::list(ctx, db, &query).await.unwrap().items
}

#[tokio::test]
async fn every_audit_filter_narrows_the_trail_to_what_it_names() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let owner = owner_ctx(db, &app.acme).await;
    let ada = person(&owner, db, "ada@acme.test", "viewer").await;
    // A second request of the owner's: its records carry another request id.
    let later = owner_ctx(db, &app.acme).await;
    let patch = IdentityPatch {
        display_name: Some("Ada L.".into()),
        ..Default::default()
    };
    identities::update(&later, db, ada, patch).await.unwrap();
    // Ada, a viewer, tries to make someone: refused, and the refusal is recorded.
    let viewer = member_ctx(db, app.acme.id, ada)
        .await
        .with_audit(db.clone());
    let refused = identities::create(&viewer, db, NewIdentity::default()).await;
    assert!(matches!(refused, Err(service::Error::Forbidden { .. })));
    // The denial is written off the request's path: wait for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let denied_only = AuditQuery {
        outcome: Some("denied".into()),
        ..Default::default()
    };
    while audit(&owner, db, denied_only.clone()).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the denial was never recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let all = audit(&owner, db, AuditQuery::default()).await;
    assert!(all.len() >= 3, "{all:?}");

    let by = |actor| AuditQuery {
        actor_id: Some(actor),
        ..Default::default()
    };
    let by_owner = audit(&owner, db, by(app.acme.owner_id)).await;
    assert!(!by_owner.is_empty());
    assert!(
        by_owner
            .iter()
            .all(|r| r.actor_id == Some(app.acme.owner_id))
    );
    let by_ada = audit(&owner, db, by(ada)).await;
    assert!(by_ada.iter().all(|r| r.actor_id == Some(ada)));
    assert!(by_ada.iter().any(|r| r.outcome == Outcome::Denied));

    let action = |a: &str| AuditQuery {
        action: Some(a.into()),
        ..Default::default()
    };
    let updated = audit(&owner, db, action("identity.updated")).await;
    assert_eq!(updated.len(), 1);
    let identity_any = audit(&owner, db, action("identity.*")).await;
    assert!(identity_any.len() > updated.len());
    assert!(
        identity_any
            .iter()
            .all(|r| r.action.starts_with("identity."))
    );
    // A `%` or `_` in a prefix is a character, not a pattern.
    assert!(audit(&owner, db, action("identity%*")).await.is_empty());

    let about_ada = AuditQuery {
        target_type: Some("identity".into()),
        target_id: Some(ada),
        ..Default::default()
    };
    let about = audit(&owner, db, about_ada).await;
    assert!(about.len() >= 2);
    assert!(about.iter().all(|r| r.target_id == Some(ada)));

    let outcome = |o: &str| AuditQuery {
        outcome: Some(o.into()),
        ..Default::default()
    };
    let denied = audit(&owner, db, outcome("denied")).await;
    assert!(!denied.is_empty());
    assert!(denied.iter().all(|r| r.outcome == Outcome::Denied));
    let success = audit(&owner, db, outcome("success")).await;
    assert_eq!(success.len() + denied.len(), all.len());
    let bad = audit_log::list(&owner, db, &outcome("maybe")).await;
    assert!(matches!(bad, Err(service::Error::Validation(_))));

    let request = AuditQuery {
        request_id: Some(later.request_id.clone()),
        ..Default::default()
    };
    let in_request = audit(&owner, db, request).await;
    assert_eq!(in_request.len(), 1);
    assert_eq!(in_request[0].action, "identity.updated");

    let now = OffsetDateTime::now_utc();
    let window = |from, to| AuditQuery {
        from,
        to,
        ..Default::default()
    };
    let hour = Duration::hours(1);
    assert!(
        audit(&owner, db, window(Some(now + hour), None))
            .await
            .is_empty()
    );
    assert!(
        audit(&owner, db, window(None, Some(now - hour)))
            .await
            .is_empty()
    );
    let around = audit(&owner, db, window(Some(now - hour), Some(now + hour))).await;
    assert_eq!(around.len(), all.len());

    // All at once: the one record that matches every filter.
    let everything = AuditQuery {
        actor_id: Some(app.acme.owner_id),
        action: Some("identity.*".into()),
        target_type: Some("identity".into()),
        target_id: Some(ada),
        outcome: Some("success".into()),
        request_id: Some(later.request_id.clone()),
        from: Some(now - hour),
        to: Some(now + hour),
        ..Default::default()
    };
    let one = audit(&owner, db, everything.clone()).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].action, "identity.updated");

    // Pages of one record walk the same list.
    let mut cursor = None;
    let mut walked = Vec::new();
    loop {
        let page = AuditQuery {
            limit: Some(1),
            cursor: cursor.take(),
            ..Default::default()
        };
        let page = audit_log::list(&owner, db, &page).await.unwrap();
        walked.extend(page.items.into_iter().map(|r| r.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let listed: Vec<Uuid> = all.iter().map(|r| r.id).collect();
    assert_eq!(walked, listed);

    // The export takes the same filters and writes the same record.
    let mut export = audit_log::export(&owner, db, everything, ExportFormat::JsonLines)
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(chunk) = export.next_text(db).await.unwrap() {
        text.push_str(&chunk);
    }
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["id"], one[0].id.to_string());
    assert_eq!(lines[0]["outcome"], "success");
}

#[tokio::test]
async fn every_event_filter_narrows_the_log_to_what_it_names() {
    let app = TestApp::spawn().await;
    let db = &app.db;
    let owner = owner_ctx(db, &app.acme).await;
    let ada = person(&owner, db, "ada@acme.test", "viewer").await;
    let bob = person(&owner, db, "bob@acme.test", "viewer").await;
    let patch = IdentityPatch {
        display_name: Some("Bob B.".into()),
        ..Default::default()
    };
    identities::update(&owner, db, bob, patch).await.unwrap();

    let list = |query: EventQuery| {
        let owner = owner.clone();
        async move { events::list(&owner, db, &query).await.unwrap().items }
    };
    let all = list(EventQuery::default()).await;
    assert!(all.len() >= 3);

    let types = |t: &[&str]| EventQuery {
        types: t.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    };
    let created = list(types(&["identity.created"])).await;
    assert!(created.iter().all(|e| e.event_type == "identity.created"));
    assert!(created.len() >= 2);
    let both = list(types(&["identity.created", "identity.updated"])).await;
    assert_eq!(
        both.len(),
        created.len() + list(types(&["identity.updated"])).await.len()
    );
    assert_eq!(list(types(&["identity.*"])).await.len(), both.len());
    assert_eq!(list(types(&["*"])).await.len(), all.len());
    assert!(list(types(&["group.*"])).await.is_empty());

    let about = |id| EventQuery {
        identity_id: Some(id),
        ..Default::default()
    };
    let about_bob = list(about(bob)).await;
    assert_eq!(about_bob.len(), 2, "created and updated");
    assert!(about_bob.iter().all(|e| e.subject_id == Some(bob)));
    let subject = EventQuery {
        subject_id: Some(ada),
        ..Default::default()
    };
    let ada_events = list(subject).await;
    assert_eq!(ada_events.len(), 1);
    assert_eq!(ada_events[0].event_type, "identity.created");

    let now = OffsetDateTime::now_utc();
    let hour = Duration::hours(1);
    let window = |from, to| EventQuery {
        from,
        to,
        ..Default::default()
    };
    assert!(list(window(Some(now + hour), None)).await.is_empty());
    assert!(list(window(None, Some(now - hour))).await.is_empty());
    assert_eq!(
        list(window(Some(now - hour), Some(now + hour))).await.len(),
        all.len()
    );

    let everything = EventQuery {
        types: vec!["identity.*".into()],
        identity_id: Some(bob),
        subject_id: Some(bob),
        from: Some(now - hour),
        to: Some(now + hour),
        ..Default::default()
    };
    let found = list(everything).await;
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|e| e.subject_id == Some(bob)));
}

#[tokio::test]
async fn every_memory_filter_narrows_the_list_and_search_to_what_it_names() {
    use service::memories::search::{Mode, SearchInput};
    use service::memories::{self, Filter, NewMemory, State};
    let app = TestApp::spawn().await;
    let db = &app.db;
    let owner = owner_ctx(db, &app.acme).await;
    let ada = person(&owner, db, "ada@acme.test", "member").await;
    let store = |owner_id, text: &str, tags: &[&str], source: &str, team: &str| {
        let input = NewMemory {
            owner_id,
            text: text.into(),
            tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
            source: Some(source.into()),
            metadata: Some(serde_json::json!({ "team": team })),
            ..Default::default()
        };
        let owner = owner.clone();
        async move {
            let stored = memories::create(&owner, db, input).await.unwrap();
            stored.into_memory().id
        }
    };
    let tea = store(
        Some(ada),
        "Ada takes her tea with lemon",
        &["tea", "ada"],
        "chat",
        "kitchen",
    )
    .await;
    let coffee = store(
        None,
        "The office coffee machine descales on Fridays",
        &["coffee"],
        "email",
        "office",
    )
    .await;
    let lemon = store(
        Some(ada),
        "Lemons are kept in the fridge",
        &["kitchen"],
        "chat",
        "kitchen",
    )
    .await;
    memories::delete(&owner, db, lemon, false).await.unwrap();

    let list = |filter: Filter, state: State| {
        let owner = owner.clone();
        async move {
            let page = memories::list(&owner, db, &filter, state, None, None)
                .await
                .unwrap();
            let mut ids: Vec<Uuid> = page.items.into_iter().map(|m| m.id).collect();
            ids.sort();
            ids
        }
    };
    let sorted = |mut ids: Vec<Uuid>| {
        ids.sort();
        ids
    };
    assert_eq!(
        list(Filter::default(), State::Live).await,
        sorted(vec![tea, coffee])
    );
    assert_eq!(list(Filter::default(), State::Deleted).await, vec![lemon]);
    assert_eq!(
        list(Filter::default(), State::All).await,
        sorted(vec![tea, coffee, lemon])
    );

    let of_ada = Filter {
        owner_id: Some(ada),
        ..Default::default()
    };
    assert_eq!(list(of_ada, State::All).await, sorted(vec![tea, lemon]));
    let tagged = Filter {
        tags: vec!["tea".into(), "ada".into()],
        ..Default::default()
    };
    assert_eq!(list(tagged, State::All).await, vec![tea]);
    let by_mail = Filter {
        source: Some("email".into()),
        ..Default::default()
    };
    assert_eq!(list(by_mail, State::All).await, vec![coffee]);
    let kitchen = Filter {
        metadata: Some(serde_json::json!({"team": "kitchen"})),
        ..Default::default()
    };
    assert_eq!(list(kitchen, State::All).await, sorted(vec![tea, lemon]));
    let now = OffsetDateTime::now_utc();
    let hour = Duration::hours(1);
    let later = Filter {
        created_after: Some(now + hour),
        ..Default::default()
    };
    assert!(list(later, State::All).await.is_empty());
    let earlier = Filter {
        created_before: Some(now - hour),
        ..Default::default()
    };
    assert!(list(earlier, State::All).await.is_empty());
    let everything = Filter {
        owner_id: Some(ada),
        tags: vec!["tea".into()],
        source: Some("chat".into()),
        metadata: Some(serde_json::json!({"team": "kitchen"})),
        created_after: Some(now - hour),
        created_before: Some(now + hour),
    };
    assert_eq!(list(everything.clone(), State::All).await, vec![tea]);

    // Search takes the same filters, in each mode.
    for mode in [Mode::Keyword, Mode::Semantic, Mode::Hybrid] {
        let input = SearchInput {
            query: "tea with lemon".into(),
            mode,
            filter: everything.clone(),
            include_deleted: true,
            ..Default::default()
        };
        let hits = memories::search::search(&owner, db, input).await.unwrap();
        let ids: Vec<Uuid> = hits.iter().map(|h| h.memory.id).collect();
        assert_eq!(ids, vec![tea], "{mode:?}");
    }
}
