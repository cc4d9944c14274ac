//! Roles on a real database: custom roles take effect at once, system roles are fixed,
//! nobody hands out more than they hold, and a change in one server instance reaches the
//! others through PostgreSQL notifications.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use service::authz::engine::Effect;
use service::identities::{self, NewIdentity};
use service::roles::{self, RoleInput, RolePatch};

use crate::helpers::{TestApp, member_ctx, owner_ctx};

fn input(name: &str, perms: &[(&str, Effect)]) -> RoleInput {
    RoleInput {
        name: name.into(),
        description: format!("{name} role"),
        permissions: perms.iter().map(|(p, e)| ((*p).to_owned(), *e)).collect(),
    }
}

#[tokio::test]
async fn a_custom_role_grants_and_denies_what_it_says() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let (id, _) = app.member(&app.acme, "viewer").await;
    let viewer = member_ctx(&app.db, app.acme.id, id).await;
    let new = || NewIdentity {
        email: Some(format!("{}@example.com", uuid::Uuid::now_v7())),
        roles: Some(vec![]),
        ..Default::default()
    };
    assert_eq!(
        identities::create(&viewer, &app.db, new())
            .await
            .unwrap_err()
            .status(),
        403
    );

    let creator = roles::create(
        &owner,
        &app.db,
        input("creator", &[("identities:create", Effect::Allow)]),
    )
    .await
    .unwrap();
    assert_eq!(creator.permissions.len(), 1);
    roles::set_identity_roles(&owner, &app.db, id, vec!["viewer".into(), "creator".into()])
        .await
        .unwrap();
    let viewer = member_ctx(&app.db, app.acme.id, id).await;
    identities::create(&viewer, &app.db, new()).await.unwrap();

    // A deny in another role held at the same priority wins.
    roles::create(
        &owner,
        &app.db,
        input("no-create", &[("identities:create", Effect::Deny)]),
    )
    .await
    .unwrap();
    roles::set_identity_roles(
        &owner,
        &app.db,
        id,
        vec!["viewer".into(), "creator".into(), "no-create".into()],
    )
    .await
    .unwrap();
    let viewer = member_ctx(&app.db, app.acme.id, id).await;
    assert_eq!(
        identities::create(&viewer, &app.db, new())
            .await
            .unwrap_err()
            .status(),
        403
    );

    // Deleting a role takes it away from whoever held it.
    let held = roles::of_identity(&owner, &app.db, id).await.unwrap();
    assert_eq!(held.len(), 3);
    let no_create = held.iter().find(|r| r.name == "no-create").unwrap().id;
    roles::delete(&owner, &app.db, no_create).await.unwrap();
    let viewer = member_ctx(&app.db, app.acme.id, id).await;
    identities::create(&viewer, &app.db, new()).await.unwrap();
}

#[tokio::test]
async fn system_roles_are_fixed_and_names_unique() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let all = roles::list(&owner, &app.db).await.unwrap();
    let names: Vec<&str> = all.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["owner", "admin", "member", "viewer"]);
    let admin = all.iter().find(|r| r.name == "admin").unwrap();
    let err = roles::update(
        &owner,
        &app.db,
        admin.id,
        RolePatch {
            description: Some("x".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "system_role");
    assert_eq!(
        roles::delete(&owner, &app.db, admin.id)
            .await
            .unwrap_err()
            .code(),
        "system_role"
    );
    let err = roles::create(&owner, &app.db, input("admin", &[]))
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.code()), (409, "role_name_taken"));
    let err = roles::create(
        &owner,
        &app.db,
        input("Bad Name!", &[("memories:fly", Effect::Allow)]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.field_errors().len(), 2);
}

#[tokio::test]
async fn nobody_hands_out_more_than_they_hold() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    // An admin who may also manage roles, but not write policies.
    roles::create(
        &owner,
        &app.db,
        input("role-manager", &[("roles:manage", Effect::Allow)]),
    )
    .await
    .unwrap();
    roles::create(
        &owner,
        &app.db,
        input("policy-writer", &[("policies:update", Effect::Allow)]),
    )
    .await
    .unwrap();
    roles::create(
        &owner,
        &app.db,
        input("memory-reader", &[("memories:read", Effect::Allow)]),
    )
    .await
    .unwrap();
    let (admin_id, _) = app.member(&app.acme, "admin").await;
    roles::set_identity_roles(
        &owner,
        &app.db,
        admin_id,
        vec!["admin".into(), "role-manager".into()],
    )
    .await
    .unwrap();
    let admin = member_ctx(&app.db, app.acme.id, admin_id).await;
    let (target, _) = app.member(&app.acme, "member").await;

    roles::set_identity_roles(
        &admin,
        &app.db,
        target,
        vec!["member".into(), "memory-reader".into()],
    )
    .await
    .unwrap();
    let err = roles::set_identity_roles(&admin, &app.db, target, vec!["policy-writer".into()])
        .await
        .unwrap_err();
    assert_eq!(err.status(), 403);
    assert!(
        err.public_message().contains("policies:update"),
        "{}",
        err.public_message()
    );
    let err = roles::set_identity_roles(&admin, &app.db, target, vec!["owner".into()])
        .await
        .unwrap_err();
    assert_eq!(err.status(), 403);
    let err = roles::set_identity_roles(&admin, &app.db, target, vec!["no-such-role".into()])
        .await
        .unwrap_err();
    assert_eq!(err.field_errors()[0].code, "unknown_role");
    // And the audit trail has the change.
    let audit = service::audit_log::for_target(&owner, &app.db, "identity", target)
        .await
        .unwrap();
    assert_eq!(audit[0].action, "identity.roles_changed");
    assert_eq!(
        audit[0].after.as_ref().unwrap()["roles"],
        serde_json::json!(["member", "memory-reader"])
    );
}

#[tokio::test]
async fn a_change_on_one_instance_reaches_the_other() {
    let a = TestApp::spawn().await;
    let b = a.spawn_second().await;
    // B keeps compiled tenants only once it hears changes.
    b.listening().await;
    let owner = owner_ctx(&a.db, &a.acme).await;
    let role = roles::create(&owner, &a.db, input("auditor", &[]))
        .await
        .unwrap();
    let (id, email) = a.member(&a.acme, "auditor").await;
    let token = b.token("acme", &email).await;

    // Instance B compiles the tenant and refuses.
    assert_eq!(
        b.get("/v1/identities", Some(&token)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert!(
        b.db.authz().cached(a.acme.id),
        "B keeps the compiled tenant"
    );

    // Instance A changes the role; B hears of it and allows.
    let patch = RolePatch {
        permissions: Some(vec![("identities:read".into(), Effect::Allow)]),
        ..Default::default()
    };
    let updated = roles::update(&owner, &a.db, role.id, patch).await.unwrap();
    assert_eq!(updated.permissions.len(), 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if b.get("/v1/identities", Some(&token)).await.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "instance B never saw the change");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = id;
}
