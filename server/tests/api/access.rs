//! Groups, policies and the decision point on a real database, through the service and
//! over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::authz::engine::Effect;
use service::decisions::{self, CheckRequest};
use service::groups::{self, GroupInput};
use service::identities;
use service::policies::{self, BulkOp, PolicyInput};
use service::roles::{self, RoleInput};

use crate::helpers::{TestApp, member_ctx, owner_ctx, problem};

fn group(name: &str, kind: &str, parent: Option<uuid::Uuid>) -> GroupInput {
    GroupInput {
        name: Some(name.into()),
        kind: Some(kind.into()),
        description: None,
        parent_id: Some(parent),
    }
}

fn policy(
    name: &str,
    effect: &str,
    priority: i32,
    resource: &str,
    action: &str,
    condition: Option<Value>,
) -> PolicyInput {
    PolicyInput {
        name: Some(name.into()),
        effect: Some(effect.into()),
        priority: Some(priority),
        resource_pattern: Some(resource.into()),
        action_pattern: Some(action.into()),
        condition: Some(condition),
        ..Default::default()
    }
}

#[tokio::test]
async fn group_roles_reach_members_of_subgroups_and_the_tree_stays_a_tree() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let acme = groups::create(&owner, &app.db, group("Acme", "company", None))
        .await
        .unwrap();
    let eu = groups::create(
        &owner,
        &app.db,
        group("Acme EU", "subsidiary", Some(acme.id)),
    )
    .await
    .unwrap();
    let research = groups::create(
        &owner,
        &app.db,
        group("Research", "department", Some(eu.id)),
    )
    .await
    .unwrap();

    roles::create(
        &owner,
        &app.db,
        RoleInput {
            name: "auditor".into(),
            description: String::new(),
            permissions: vec![("audit:read".into(), Effect::Allow)],
        },
    )
    .await
    .unwrap();
    let (id, _) = app.member(&app.acme, "member").await;
    let member = member_ctx(&app.db, app.acme.id, id).await;
    assert_eq!(
        service::audit_log::for_target(&member, &app.db, "identity", id)
            .await
            .unwrap_err()
            .status(),
        403
    );

    groups::set_roles(&owner, &app.db, acme.id, vec!["auditor".into()])
        .await
        .unwrap();
    groups::add_members(&owner, &app.db, research.id, vec![id])
        .await
        .unwrap();
    let member = member_ctx(&app.db, app.acme.id, id).await;
    assert!(
        service::audit_log::for_target(&member, &app.db, "identity", id)
            .await
            .is_ok(),
        "the company's role reaches the department"
    );
    assert!(
        member
            .caller()
            .unwrap()
            .role_names()
            .contains(&"auditor".to_owned())
    );

    // No cycles, also through several levels.
    let err = groups::update(
        &owner,
        &app.db,
        acme.id,
        GroupInput {
            parent_id: Some(Some(research.id)),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!((err.status(), err.code()), (409, "group_cycle"));
    let err = groups::update(
        &owner,
        &app.db,
        acme.id,
        GroupInput {
            parent_id: Some(Some(acme.id)),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "group_cycle");

    // Deleting the middle group lifts its child to the grandparent; members keep access.
    groups::delete(&owner, &app.db, eu.id).await.unwrap();
    let tree = groups::tree(&owner, &app.db).await.unwrap();
    assert_eq!(tree.len(), 1);
    assert_eq!(tree[0].group.id, acme.id);
    assert_eq!(tree[0].children[0].group.id, research.id);
    let member = member_ctx(&app.db, app.acme.id, id).await;
    assert!(
        service::audit_log::for_target(&member, &app.db, "identity", id)
            .await
            .is_ok()
    );

    groups::remove_member(&owner, &app.db, research.id, id)
        .await
        .unwrap();
    let member = member_ctx(&app.db, app.acme.id, id).await;
    assert_eq!(
        service::audit_log::for_target(&member, &app.db, "identity", id)
            .await
            .unwrap_err()
            .status(),
        403
    );
    assert_eq!(
        groups::remove_member(&owner, &app.db, research.id, id)
            .await
            .unwrap_err()
            .status(),
        404
    );
}

#[tokio::test]
async fn policies_outrank_roles_and_every_decision_is_explained() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let (admin_id, _) = app.member(&app.acme, "admin").await;
    let (victim, _) = app.member(&app.acme, "member").await;

    let check = |ctx: service::Ctx, action: &str| {
        let db = app.db.clone();
        let action = action.to_owned();
        async move {
            decisions::check(
                &ctx,
                &db,
                CheckRequest {
                    action,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
        }
    };
    let admin = member_ctx(&app.db, app.acme.id, admin_id).await;
    let before = check(admin.clone(), "identities:delete").await;
    assert!(before.allowed);
    assert_eq!(before.explanation, "Allowed by the role \"admin\".");

    let deny = policies::create(
        &owner,
        &app.db,
        policy(
            "Nobody deletes people",
            "deny",
            10,
            "identities",
            "delete",
            None,
        ),
    )
    .await
    .unwrap();
    let admin = member_ctx(&app.db, app.acme.id, admin_id).await;
    assert_eq!(
        identities::soft_delete(&admin, &app.db, victim)
            .await
            .unwrap_err()
            .status(),
        403
    );
    let after = check(admin.clone(), "identities:delete").await;
    assert!(!after.allowed);
    assert_eq!(
        after.explanation,
        "Denied by the policy \"Nobody deletes people\" (priority 10)."
    );
    assert!(
        after
            .trace
            .iter()
            .any(|s| s.name == "admin" && s.outcome.contains("outranked")),
        "{:?}",
        after.trace
    );

    // Disabled, it no longer counts.
    policies::update(
        &owner,
        &app.db,
        deny.id,
        PolicyInput {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let admin = member_ctx(&app.db, app.acme.id, admin_id).await;
    assert!(check(admin.clone(), "identities:delete").await.allowed);

    // A deny-everything policy cannot lock an owner out of policies and roles.
    policies::create(
        &owner,
        &app.db,
        policy("Lockdown", "deny", 1000, "*", "*", None),
    )
    .await
    .unwrap();
    let owner = owner_ctx(&app.db, &app.acme).await;
    assert_eq!(
        identities::list(&owner, &app.db, Default::default())
            .await
            .unwrap_err()
            .status(),
        403
    );
    let guard = check(owner.clone(), "policies:update").await;
    assert!(guard.allowed);
    assert!(guard.explanation.contains("lock-out guard"));
    let all = policies::list(&owner, &app.db).await.unwrap();
    let lockdown = all.iter().find(|p| p.name == "Lockdown").unwrap();
    policies::delete(&owner, &app.db, lockdown.id)
        .await
        .unwrap();
    let owner = owner_ctx(&app.db, &app.acme).await;
    assert!(
        identities::list(&owner, &app.db, Default::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn conditions_are_checked_when_saved_and_see_the_resource_owner() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let bad = policy(
        "Typo",
        "allow",
        1,
        "memories",
        "read",
        Some(json!({"==": [{"var": "principle.id"}, 1]})),
    );
    let err = policies::create(&owner, &app.db, bad).await.unwrap_err();
    assert_eq!(err.field_errors()[0].field, "condition");
    assert!(
        err.field_errors()[0].message.contains("at /==/0/var"),
        "{}",
        err.field_errors()[0].message
    );

    // The shipped example: an agent sees only its own memories.
    policies::create(
        &owner,
        &app.db,
        policy(
            "Agents read their own memories",
            "allow",
            5,
            "memories",
            "read",
            Some(json!({"==": [{"var": "resource.owner"}, {"var": "principal.id"}]})),
        ),
    )
    .await
    .unwrap();
    let agent = identities::create(
        &owner,
        &app.db,
        identities::NewIdentity {
            kind: Some(identities::Kind::Agent),
            display_name: Some("indexer".into()),
            roles: Some(vec![]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ask = |owner_of_memory: uuid::Uuid| CheckRequest {
        principal: Some(agent.id),
        action: "memories:read".into(),
        resource_owner: Some(owner_of_memory),
        ..Default::default()
    };
    let own = decisions::check(&owner, &app.db, ask(agent.id))
        .await
        .unwrap();
    assert!(own.allowed, "{}", own.explanation);
    assert_eq!(own.input["principal"]["kind"], "agent");
    let other = decisions::check(&owner, &app.db, ask(app.acme.owner_id))
        .await
        .unwrap();
    assert!(!other.allowed);
    assert_eq!(other.explanation, "Denied: no rule allowed it.");
    assert_eq!(other.trace[0].outcome, "condition is false");
}

#[tokio::test]
async fn versions_can_be_read_and_restored_and_bulk_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let p = policies::create(
        &owner,
        &app.db,
        policy("Weekday audit", "allow", 3, "audit", "read", None),
    )
    .await
    .unwrap();
    policies::update(
        &owner,
        &app.db,
        p.id,
        PolicyInput {
            priority: Some(9),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let restored = policies::restore(&owner, &app.db, p.id, 1).await.unwrap();
    assert_eq!((restored.priority, restored.version), (3, 3));
    policies::delete(&owner, &app.db, p.id).await.unwrap();
    let history = policies::versions(&owner, &app.db, p.id).await.unwrap();
    let changes: Vec<&str> = history.iter().map(|v| v.change.as_str()).collect();
    assert_eq!(changes, ["deleted", "restored", "updated", "created"]);
    assert_eq!(history[2].snapshot["priority"], 9);
    assert_eq!(history[0].changed_by, Some(app.acme.owner_id));
    let back = policies::restore(&owner, &app.db, p.id, 2).await.unwrap();
    assert_eq!((back.id, back.priority, back.version), (p.id, 9, 5));

    let before = policies::list(&owner, &app.db).await.unwrap().len();
    let err = policies::bulk(
        &owner,
        &app.db,
        vec![
            BulkOp::Create(policy("one", "allow", 1, "memories", "read", None)),
            BulkOp::Update(
                p.id,
                PolicyInput {
                    priority: Some(1),
                    ..Default::default()
                },
            ),
            BulkOp::Create(policy(
                "three",
                "deny",
                1,
                "memories",
                "*",
                Some(json!({"nope": []})),
            )),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(err.field_errors()[0].field, "items.2.condition");
    assert_eq!(
        policies::list(&owner, &app.db).await.unwrap().len(),
        before,
        "nothing of the bulk was applied"
    );
    assert_eq!(
        policies::get(&owner, &app.db, p.id).await.unwrap().priority,
        9
    );
    let done = policies::bulk(
        &owner,
        &app.db,
        vec![
            BulkOp::Create(policy("one", "allow", 1, "memories", "read", None)),
            BulkOp::Delete(p.id),
        ],
    )
    .await
    .unwrap();
    assert!(done[0].is_some() && done[1].is_none());
}

#[tokio::test]
async fn the_decision_point_over_http() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let (viewer_id, viewer_email) = app.member(&app.acme, "viewer").await;
    let viewer = app.token("acme", &viewer_email).await;

    let res = app
        .send(
            Method::POST,
            "/v1/authz/check",
            Some(&viewer),
            Some(json!({"action": "identities:read"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["allowed"], true);
    assert_eq!(body["reason"]["kind"], "role");

    // Asking about someone else takes policies:read; a viewer has it, a member does not.
    let (_, member_email) = app.member(&app.acme, "member").await;
    let member = app.token("acme", &member_email).await;
    let about_viewer = json!({"principal": viewer_id, "action": "identities:create"});
    let res = app
        .send(
            Method::POST,
            "/v1/authz/check",
            Some(&member),
            Some(about_viewer.clone()),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .send(
            Method::POST,
            "/v1/authz/check",
            Some(&owner),
            Some(about_viewer),
        )
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["allowed"].as_bool(), body["explanation"].as_str()),
        (Some(false), Some("Denied: no rule allowed it."))
    );

    // Many at once, each on its own.
    let many = json!({"checks": [
        {"action": "roles:read"},
        {"action": "rockets:launch"},
        {"principal": uuid::Uuid::now_v7(), "action": "roles:read"}
    ]});
    let body: Value = app
        .send(Method::POST, "/v1/authz/check", Some(&owner), Some(many))
        .await
        .json()
        .await
        .unwrap();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["allowed"], true);
    assert_eq!(results[1]["code"], "validation_failed");
    assert_eq!(results[2]["code"], "not_found");

    // Another tenant's identity does not exist here.
    let res = app
        .send(
            Method::POST,
            "/v1/authz/check",
            Some(&owner),
            Some(json!({"principal": app.globex.owner_id, "action": "roles:read"})),
        )
        .await;
    assert_eq!(problem(res).await["code"], "not_found");
}

#[tokio::test]
async fn rest_shapes_for_groups_and_policies() {
    let app = TestApp::spawn().await;
    let t = app.owner_token(&app.acme).await;
    let t = Some(t.as_str());
    let res = app
        .send(
            Method::POST,
            "/v1/groups",
            t,
            Some(json!({"name": "Acme", "kind": "company"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let root: Value = res.json().await.unwrap();
    let res = app
        .send(
            Method::POST,
            "/v1/groups",
            t,
            Some(json!({"name": "Sales", "kind": "department", "parent_id": root["id"]})),
        )
        .await;
    let child: Value = res.json().await.unwrap();
    let tree: Value = app.get("/v1/groups/tree", t).await.json().await.unwrap();
    assert_eq!(tree["roots"][0]["name"], "Acme");
    assert_eq!(tree["roots"][0]["children"][0]["id"], child["id"]);
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/groups/{}", root["id"].as_str().unwrap()),
            t,
            Some(json!({"parent_id": child["id"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "group_cycle");

    let res = app
        .send(Method::POST, "/v1/policies", t, Some(json!({"name": "x", "effect": "allow", "resource_pattern": "memories", "action_pattern": "read",
            "condition": {"and": [true, {"var": "oops.id"}]}})))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = problem(res).await;
    assert_eq!(body["errors"][0]["field"], "condition");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("at /and/1/var")
    );

    let res = app
        .send(Method::POST, "/v1/policies/bulk", t, Some(json!({"items": [
            {"op": "create", "name": "a", "effect": "deny", "priority": 2, "resource_pattern": "webhooks", "action_pattern": "*"},
            {"op": "create", "name": "b", "effect": "allow", "priority": 1, "resource_pattern": "*", "action_pattern": "read"}
        ]})))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let list: Value = app.get("/v1/policies", t).await.json().await.unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["a", "b", service::policies::AGENTS_OWN_MEMORIES],
        "highest priority first; every tenant starts with the example policy"
    );
}

/// Hole 6: a condition has a budget. Too big, too deep or too costly is refused when saved
/// with the place of the excess; at evaluation a condition over an array longer than it may
/// walk fails closed (a deny applies) and says why.
#[tokio::test]
async fn policy_conditions_have_a_budget() {
    let app = TestApp::spawn().await;
    let t = app.owner_token(&app.acme).await;
    let t = Some(t.as_str());
    let count = |list: Value| list["items"].as_array().unwrap().len();
    let before = count(app.get("/v1/policies", t).await.json().await.unwrap());
    let save = |condition: Value| {
        json!({"name": "costly", "effect": "deny", "priority": 5,
               "resource_pattern": "memories", "action_pattern": "read", "condition": condition})
    };
    let names: Vec<String> = (0..2000).map(|i| format!("name-{i}")).collect();
    let res = app
        .send(
            Method::POST,
            "/v1/policies",
            t,
            Some(save(
                json!({"and": [true, {"in": [{"var": "principal.id"}, names]}]}),
            )),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = problem(res).await;
    assert_eq!(body["errors"][0]["field"], "condition");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("at /and/1/in/1:"), "{message}");
    assert!(message.contains("16384"), "{message}");

    let costly = json!({"some": [{"var": "principal.groups"},
        {"some": [{"var": "principal.roles"},
            {"some": [{"var": "resource.metadata.tags"}, {"==": [{"var": ""}, "x"]}]}]}]});
    let res = app
        .send(Method::POST, "/v1/policies", t, Some(save(costly)))
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let message = problem(res).await["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.starts_with("at /some/1:"), "{message}");
    assert!(message.contains("steps"), "{message}");
    let after = count(app.get("/v1/policies", t).await.json().await.unwrap());
    assert_eq!(after, before, "nothing was saved");

    // Within budget: a deny for members of the ops team, saved.
    let res = app
        .send(
            Method::POST,
            "/v1/policies",
            t,
            Some(save(json!(
            {"some": [{"var": "principal.metadata.teams"}, {"==": [{"var": ""}, "ops"]}]}))),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let owner = owner_ctx(&app.db, &app.acme).await;
    let agent = |teams: Vec<String>| identities::NewIdentity {
        kind: Some(identities::Kind::Agent),
        display_name: Some("indexer".into()),
        roles: Some(vec!["viewer".into()]),
        metadata: Some(json!({ "teams": teams })),
        ..Default::default()
    };
    let short = identities::create(&owner, &app.db, agent(vec!["dev".into()]))
        .await
        .unwrap();
    let long: Vec<String> = (0..300).map(|i| format!("team-{i}")).collect();
    let long = identities::create(&owner, &app.db, agent(long))
        .await
        .unwrap();
    let ask = |principal: uuid::Uuid| CheckRequest {
        principal: Some(principal),
        action: "memories:read".into(),
        ..Default::default()
    };
    let d = decisions::check(&owner, &app.db, ask(short.id))
        .await
        .unwrap();
    assert!(d.allowed, "{}", d.explanation);
    let d = decisions::check(&owner, &app.db, ask(long.id))
        .await
        .unwrap();
    assert!(!d.allowed, "the deny cannot be evaluated, so it applies");
    assert!(
        d.trace
            .iter()
            .any(|s| s.outcome.contains("300 items") && s.outcome.contains("fails closed")),
        "{:?}",
        d.trace
    );
}
