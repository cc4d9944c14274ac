//! The identities service on a real database: every operation, with its audit record and
//! outbox event.

use service::audit_log;
use service::events;
use service::identities::{
    self, IdentityPatch, Kind, ListQuery, NewIdentity, Status, StatusFilter,
};
use service::roles;

use crate::helpers::{TestApp, member_ctx, owner_ctx};

fn new_user(email: &str) -> NewIdentity {
    NewIdentity {
        email: Some(email.into()),
        display_name: Some("Ada Lovelace".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn create_writes_the_identity_its_audit_record_and_its_event() {
    let app = TestApp::spawn().await;
    let ctx = owner_ctx(&app.db, &app.acme).await;
    let created = identities::create(
        &ctx,
        &app.db,
        NewIdentity {
            email: Some("  Ada@Example.COM ".into()),
            display_name: Some("Ada".into()),
            external_id: Some("crm-1".into()),
            kind: Some(Kind::User),
            roles: Some(vec!["admin".into()]),
            metadata: Some(serde_json::json!({"team": "math"})),
            personal_metadata: None,
            password: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(created.email.as_deref(), Some("ada@example.com"));
    assert_eq!(
        (created.roles.clone(), created.status, created.kind),
        (vec!["admin".to_owned()], Status::Active, Kind::User)
    );
    assert_eq!(created.tenant_id, app.acme.id);
    assert_eq!(created.id.get_version_num(), 7, "ids are UUIDv7");

    let fetched = identities::get(&ctx, &app.db, created.id).await.unwrap();
    assert_eq!(fetched, created);

    let audit = audit_log::for_target(&ctx, &app.db, "identity", created.id)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    let record = &audit[0];
    assert_eq!(record.action, "identity.created");
    assert_eq!(record.actor_type, "identity");
    assert_eq!(record.actor_id, Some(app.acme.owner_id));
    assert!(record.before.is_none());
    assert_eq!(record.after.as_ref().unwrap()["email"], "ada@example.com");
    assert_eq!(record.request_id.as_deref(), Some(ctx.request_id.as_str()));
    assert!(
        record
            .after
            .as_ref()
            .unwrap()
            .get("password_hash")
            .is_none()
    );

    let events = events::for_subject(&ctx, &app.db, created.id)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "identity.created");
    assert_eq!(events[0].audit_id, Some(record.id));
    assert_eq!(events[0].payload["data"]["external_id"], "crm-1");
}

#[tokio::test]
async fn list_searches_filters_and_pages_without_gaps() {
    let app = TestApp::spawn().await;
    let ctx = owner_ctx(&app.db, &app.acme).await;
    let mut ids = vec![];
    for i in 0..7 {
        let mut input = new_user(&format!("user{i}@example.com"));
        input.display_name = Some(format!("Person {i}"));
        if i == 3 {
            input.external_id = Some("needle_42%".into());
        }
        ids.push(identities::create(&ctx, &app.db, input).await.unwrap().id);
    }
    identities::set_disabled(&ctx, &app.db, ids[1], true)
        .await
        .unwrap();
    identities::soft_delete(&ctx, &app.db, ids[2])
        .await
        .unwrap();

    // Pages of 3, newest first, the owner included, the deleted one excluded.
    let mut seen = vec![];
    let mut cursor = None;
    loop {
        let page = identities::list(
            &ctx,
            &app.db,
            ListQuery {
                limit: Some(3),
                cursor: cursor.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|i| i.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut expected: Vec<_> = ids.iter().copied().filter(|id| *id != ids[2]).collect();
    expected.push(app.acme.owner_id);
    expected.sort();
    expected.reverse();
    assert_eq!(seen, expected);

    let search = |q: &str| ListQuery {
        q: Some(q.into()),
        ..Default::default()
    };
    let found = identities::list(&ctx, &app.db, search("PERSON 5"))
        .await
        .unwrap();
    assert_eq!(
        found.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[5]]
    );
    // LIKE wildcards in the search are literal.
    let found = identities::list(&ctx, &app.db, search("needle_42%"))
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert!(
        identities::list(&ctx, &app.db, search("needle%42"))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let by_status = |s| ListQuery {
        status: s,
        ..Default::default()
    };
    let disabled = identities::list(&ctx, &app.db, by_status(StatusFilter::Disabled))
        .await
        .unwrap();
    assert_eq!(
        disabled.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[1]]
    );
    let deleted = identities::list(&ctx, &app.db, by_status(StatusFilter::Deleted))
        .await
        .unwrap();
    assert_eq!(
        deleted.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![ids[2]]
    );
    let all = identities::list(&ctx, &app.db, by_status(StatusFilter::All))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 8);

    let bad = identities::list(
        &ctx,
        &app.db,
        ListQuery {
            cursor: Some("%%%".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(bad.unwrap_err().status(), 400);
}

#[tokio::test]
async fn email_and_external_id_are_unique_per_tenant_only() {
    let app = TestApp::spawn().await;
    let acme = owner_ctx(&app.db, &app.acme).await;
    let globex = owner_ctx(&app.db, &app.globex).await;
    let mut first = new_user("dup@example.com");
    first.external_id = Some("ext-1".into());
    identities::create(&acme, &app.db, first).await.unwrap();

    let err = identities::create(&acme, &app.db, new_user("DUP@example.com"))
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (409, "email_taken"));

    let mut same_ext = new_user("other@example.com");
    same_ext.external_id = Some("ext-1".into());
    let err = identities::create(&acme, &app.db, same_ext)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "external_id_taken");

    // Another tenant may use the same email and external id.
    let mut in_globex = new_user("dup@example.com");
    in_globex.external_id = Some("ext-1".into());
    identities::create(&globex, &app.db, in_globex)
        .await
        .unwrap();
}

#[tokio::test]
async fn update_changes_fields_and_records_before_and_after() {
    let app = TestApp::spawn().await;
    let ctx = owner_ctx(&app.db, &app.acme).await;
    let mut input = new_user("grace@example.com");
    input.external_id = Some("g-1".into());
    let created = identities::create(&ctx, &app.db, input).await.unwrap();
    let updated = identities::update(
        &ctx,
        &app.db,
        created.id,
        IdentityPatch {
            display_name: Some("Grace Hopper".into()),
            external_id: Some(None),
            metadata: Some(serde_json::json!({"navy": true})),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(updated.display_name, "Grace Hopper");
    assert_eq!(updated.external_id, None);
    assert_eq!(updated.email, created.email);
    assert!(updated.updated_at >= created.updated_at);

    let audit = audit_log::for_target(&ctx, &app.db, "identity", created.id)
        .await
        .unwrap();
    assert_eq!(audit[0].action, "identity.updated");
    assert_eq!(audit[0].before.as_ref().unwrap()["external_id"], "g-1");
    assert_eq!(audit[0].after.as_ref().unwrap()["metadata"]["navy"], true);

    // An update that changes nothing writes nothing.
    identities::update(
        &ctx,
        &app.db,
        created.id,
        IdentityPatch {
            display_name: Some("Grace Hopper".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        audit_log::for_target(&ctx, &app.db, "identity", created.id)
            .await
            .unwrap()
            .len(),
        2
    );

    let err = identities::update(
        &ctx,
        &app.db,
        created.id,
        IdentityPatch {
            email: Some("nope".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.field_errors()[0].field, "email");
    let err = identities::update(&ctx, &app.db, created.id, IdentityPatch::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 400);
}

#[tokio::test]
async fn disable_enable_soft_delete_restore_and_hard_delete() {
    let app = TestApp::spawn().await;
    let ctx = owner_ctx(&app.db, &app.acme).await;
    let id = identities::create(&ctx, &app.db, new_user("lin@example.com"))
        .await
        .unwrap()
        .id;

    assert_eq!(
        identities::set_disabled(&ctx, &app.db, id, true)
            .await
            .unwrap()
            .status,
        Status::Disabled
    );
    assert_eq!(
        identities::set_disabled(&ctx, &app.db, id, false)
            .await
            .unwrap()
            .status,
        Status::Active
    );
    let deleted = identities::soft_delete(&ctx, &app.db, id).await.unwrap();
    assert_eq!(deleted.status, Status::Deleted);
    assert!(deleted.deleted_at.is_some());
    let err = identities::update(
        &ctx,
        &app.db,
        id,
        IdentityPatch {
            display_name: Some("x".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "identity_deleted");
    let restored = identities::restore(&ctx, &app.db, id).await.unwrap();
    assert_eq!(
        (restored.status, restored.deleted_at),
        (Status::Active, None)
    );
    assert_eq!(
        identities::restore(&ctx, &app.db, id)
            .await
            .unwrap_err()
            .code(),
        "not_deleted"
    );

    identities::hard_delete(&ctx, &app.db, id).await.unwrap();
    assert_eq!(
        identities::get(&ctx, &app.db, id)
            .await
            .unwrap_err()
            .status(),
        404
    );

    let actions: Vec<String> = audit_log::for_target(&ctx, &app.db, "identity", id)
        .await
        .unwrap()
        .into_iter()
        .rev()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            "identity.created",
            "identity.disabled",
            "identity.enabled",
            "identity.deleted",
            "identity.restored",
            "identity.purged"
        ]
    );
    let event_types: Vec<String> = events::for_subject(&ctx, &app.db, id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(event_types, actions);
}

#[tokio::test]
async fn owners_are_protected() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let (admin_id, _) = app.member(&app.acme, "admin").await;
    let admin = member_ctx(&app.db, app.acme.id, admin_id).await;

    // Nobody disables, deletes or demotes themselves, and the last owner stays.
    let me = app.acme.owner_id;
    for err in [
        identities::set_disabled(&owner, &app.db, me, true)
            .await
            .unwrap_err(),
        identities::soft_delete(&owner, &app.db, me)
            .await
            .unwrap_err(),
        identities::hard_delete(&owner, &app.db, me)
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.code(), "cannot_target_self");
    }
    let demote = || vec!["admin".to_owned()];
    let err = roles::set_identity_roles(&owner, &app.db, me, demote())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "cannot_change_own_role");

    // An admin may not touch an owner nor make one.
    assert_eq!(
        roles::set_identity_roles(&admin, &app.db, me, demote())
            .await
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(
        identities::soft_delete(&admin, &app.db, me)
            .await
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(
        identities::set_disabled(&admin, &app.db, me, true)
            .await
            .unwrap_err()
            .status(),
        403
    );
    let mut new_owner = new_user("boss@example.com");
    new_owner.roles = Some(vec!["owner".into()]);
    assert_eq!(
        identities::create(&admin, &app.db, new_owner.clone())
            .await
            .unwrap_err()
            .status(),
        403
    );

    // With a second owner, the first may be demoted by the second.
    let second = identities::create(&owner, &app.db, new_owner)
        .await
        .unwrap();
    assert_eq!(second.roles, ["owner"]);
    let second_ctx = member_ctx(&app.db, app.acme.id, second.id).await;
    let now = roles::set_identity_roles(&second_ctx, &app.db, me, demote())
        .await
        .unwrap();
    assert_eq!(
        now.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["admin"]
    );
    // Now `second` is the last owner: the demoted one cannot remove them.
    let demoted = member_ctx(&app.db, app.acme.id, me).await;
    assert!(!demoted.caller().unwrap().is_owner());
    assert_eq!(
        identities::soft_delete(&demoted, &app.db, second.id)
            .await
            .unwrap_err()
            .status(),
        403
    );
    // And the last owner cannot be demoted, even by themselves through a group trick.
    let err = roles::set_identity_roles(
        &owner_ctx_of(&app, second.id).await,
        &app.db,
        second.id,
        demote(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "cannot_change_own_role");
}

async fn owner_ctx_of(app: &TestApp, id: uuid::Uuid) -> service::Ctx {
    member_ctx(&app.db, app.acme.id, id).await
}

#[tokio::test]
async fn viewers_and_members_read_but_do_not_write() {
    let app = TestApp::spawn().await;
    for role in ["viewer", "member"] {
        let (id, _) = app.member(&app.acme, role).await;
        let ctx = member_ctx(&app.db, app.acme.id, id).await;
        assert!(
            identities::list(&ctx, &app.db, ListQuery::default())
                .await
                .is_ok()
        );
        let err = identities::create(&ctx, &app.db, new_user("x@example.com"))
            .await
            .unwrap_err();
        assert_eq!((err.status(), err.code()), (403, "forbidden"));
        let err = identities::soft_delete(&ctx, &app.db, app.acme.owner_id)
            .await
            .unwrap_err();
        assert_eq!(err.status(), 403);
    }
}

#[tokio::test]
async fn another_tenants_identity_does_not_exist() {
    let app = TestApp::spawn().await;
    let acme = owner_ctx(&app.db, &app.acme).await;
    let globex = owner_ctx(&app.db, &app.globex).await;
    let id = identities::create(&acme, &app.db, new_user("secret@example.com"))
        .await
        .unwrap()
        .id;
    for err in [
        identities::get(&globex, &app.db, id).await.unwrap_err(),
        identities::set_disabled(&globex, &app.db, id, true)
            .await
            .unwrap_err(),
        identities::soft_delete(&globex, &app.db, id)
            .await
            .unwrap_err(),
        identities::hard_delete(&globex, &app.db, id)
            .await
            .unwrap_err(),
        identities::restore(&globex, &app.db, id).await.unwrap_err(),
    ] {
        assert_eq!(err.status(), 404, "{err:?}");
    }
    let listed = identities::list(&globex, &app.db, ListQuery::default())
        .await
        .unwrap();
    assert!(listed.items.iter().all(|i| i.tenant_id == app.globex.id));
}

#[tokio::test]
async fn validation_reports_every_field() {
    let app = TestApp::spawn().await;
    let ctx = owner_ctx(&app.db, &app.acme).await;
    let err = identities::create(
        &ctx,
        &app.db,
        NewIdentity {
            email: Some("not-an-email".into()),
            metadata: Some(serde_json::json!("text")),
            password: Some("short".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.status(), 422);
    let fields: Vec<&str> = err
        .field_errors()
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(fields, ["email", "metadata", "password"]);
    // Nothing was written.
    let all = identities::list(
        &ctx,
        &app.db,
        ListQuery {
            status: StatusFilter::All,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.items.len(), 1);
}
