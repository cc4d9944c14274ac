//! The role-escalation table, beside the isolation table: every way to gain a role or a
//! right (a direct grant, a group's membership, a subgroup, a move, an invitation with roles
//! or groups, an email change, an API key's scopes), tried by each system role, with the
//! answer the rules give. Nobody grants more than they hold by any path; only an owner
//! makes an owner; an owner held through a group is an owner for every owner guard.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::groups::{self, GroupInput};
use uuid::Uuid;

use crate::helpers::{TestApp, owner_ctx};

/// The tenant as the attacks find it: a group that makes its members owners, one that
/// makes them admins, an empty team, and an identity that is an owner only through the
/// owners' group.
struct Scene {
    owners: Uuid,
    admins: Uuid,
    team: Uuid,
    group_owner: Uuid,
    bystander: Uuid,
    owner_agent: Uuid,
}

async fn scene(app: &TestApp) -> Scene {
    let owner = owner_ctx(&app.db, &app.acme).await;
    let group = |name: &str| GroupInput {
        name: Some(name.into()),
        kind: Some("team".into()),
        description: None,
        parent_id: Some(None),
    };
    let owners = groups::create(&owner, &app.db, group("Owners"))
        .await
        .unwrap();
    groups::set_roles(&owner, &app.db, owners.id, vec!["owner".into()])
        .await
        .unwrap();
    let admins = groups::create(&owner, &app.db, group("Admins"))
        .await
        .unwrap();
    groups::set_roles(&owner, &app.db, admins.id, vec!["admin".into()])
        .await
        .unwrap();
    let team = groups::create(&owner, &app.db, group("Team"))
        .await
        .unwrap();
    let (group_owner, _) = app.member(&app.acme, "member").await;
    groups::add_members(&owner, &app.db, owners.id, vec![group_owner])
        .await
        .unwrap();
    let (bystander, _) = app.member(&app.acme, "member").await;
    let owner_agent = service::identities::create(
        &owner,
        &app.db,
        service::identities::NewIdentity {
            kind: Some(service::identities::Kind::Agent),
            display_name: Some(format!("Owner agent {}", Uuid::now_v7().simple())),
            roles: Some(vec!["owner".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id;
    Scene {
        owners: owners.id,
        admins: admins.id,
        team: team.id,
        group_owner,
        bystander,
        owner_agent,
    }
}

/// One attempt: what it is, the request, and the status each actor gets (owner, admin,
/// member, viewer).
struct Attempt {
    what: &'static str,
    method: Method,
    path: String,
    body: Value,
    expect: [u16; 4],
}

const OK: u16 = 200;
const CREATED: u16 = 201;
const NO: u16 = 403;

fn attempts(s: &Scene, me: Uuid) -> Vec<Attempt> {
    let stamp = Uuid::now_v7().simple().to_string();
    vec![
        Attempt {
            what: "grant myself the owner role",
            method: Method::PUT,
            path: format!("/v1/identities/{me}/roles"),
            body: json!({"roles": ["owner"]}),
            // The owner already is one (200); nobody else may.
            expect: [OK, NO, NO, NO],
        },
        Attempt {
            what: "grant the admin role to someone (admins lack roles:manage)",
            method: Method::PUT,
            path: format!("/v1/identities/{}/roles", s.bystander),
            body: json!({"roles": ["admin"]}),
            expect: [OK, NO, NO, NO],
        },
        Attempt {
            what: "join the group that makes owners",
            method: Method::POST,
            path: format!("/v1/groups/{}/members", s.owners),
            body: json!({"identity_ids": [me]}),
            expect: [OK, NO, NO, NO],
        },
        Attempt {
            what: "join the group that makes admins",
            method: Method::POST,
            path: format!("/v1/groups/{}/members", s.admins),
            body: json!({"identity_ids": [me]}),
            expect: [OK, OK, NO, NO],
        },
        Attempt {
            what: "create a subgroup under the owners' group",
            method: Method::POST,
            path: "/v1/groups".into(),
            body: json!({"name": format!("Sub {stamp}"), "kind": "team", "parent_id": s.owners}),
            expect: [CREATED, NO, NO, NO],
        },
        Attempt {
            what: "move a group under the owners' group",
            method: Method::PATCH,
            path: format!("/v1/groups/{}", s.team),
            body: json!({"parent_id": s.owners}),
            expect: [OK, NO, NO, NO],
        },
        Attempt {
            what: "invite someone as owner",
            method: Method::POST,
            path: "/v1/invitations".into(),
            body: json!({"email": format!("o-{stamp}@elsewhere.test"), "roles": ["owner"]}),
            expect: [CREATED, NO, NO, NO],
        },
        Attempt {
            what: "invite someone into the owners' group",
            method: Method::POST,
            path: "/v1/invitations".into(),
            body: json!({"email": format!("g-{stamp}@elsewhere.test"), "roles": ["member"], "group_ids": [s.owners]}),
            expect: [CREATED, NO, NO, NO],
        },
        Attempt {
            what: "change the email of an owner through a group (then reset its password)",
            method: Method::PATCH,
            path: format!("/v1/identities/{}", s.group_owner),
            body: json!({"email": format!("taken-{stamp}@attacker.test")}),
            expect: [OK, NO, NO, NO],
        },
        Attempt {
            // Allowed (a key's scopes only narrow what its identity may do); the test below
            // shows such a key still cannot grant anything.
            what: "make myself an API key scoped roles:manage",
            method: Method::POST,
            path: "/v1/api-keys".into(),
            body: json!({"name": format!("k-{stamp}"), "scopes": ["roles:manage"]}),
            expect: [CREATED, CREATED, CREATED, NO],
        },
        Attempt {
            what: "make a key for an agent that is an owner",
            method: Method::POST,
            path: "/v1/api-keys".into(),
            body: json!({"name": format!("a-{stamp}"), "scopes": ["identities:read"], "identity_id": s.owner_agent}),
            expect: [CREATED, NO, NO, NO],
        },
    ]
}

#[tokio::test]
async fn nobody_gains_a_role_or_a_right_they_could_not_grant() {
    let app = TestApp::spawn().await;
    let mut failures = Vec::new();
    for (i, role) in ["owner", "admin", "member", "viewer"].iter().enumerate() {
        // A fresh scene per actor: one actor's successes do not change another's odds.
        let s = scene(&app).await;
        let (me, email) = app.member(&app.acme, role).await;
        let token = app.token("acme", &email).await;
        for a in attempts(&s, me) {
            let res = app
                .send(
                    a.method.clone(),
                    &a.path,
                    Some(&token),
                    Some(a.body.clone()),
                )
                .await;
            let got = res.status().as_u16();
            if got != a.expect[i] {
                let body = res.text().await.unwrap_or_default();
                failures.push(format!(
                    "{role}: {} ({} {}): expected {}, got {got} {body}",
                    a.what, a.method, a.path, a.expect[i]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn an_owner_through_a_group_is_an_owner_for_every_guard() {
    let app = TestApp::spawn().await;
    let s = scene(&app).await;
    let (_, email) = app.member(&app.acme, "admin").await;
    let admin = app.token("acme", &email).await;
    let path = format!("/v1/identities/{}", s.group_owner);
    // An admin may not disable, delete or take them out of the group.
    let res = app
        .send(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.send(Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/groups/{}/members/{}", s.owners, s.group_owner),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // The last owner standing, even one through a group, is never taken away: the group
    // owner demotes the tenant's first owner, and is then the only one.
    let group_owner_token = app
        .token("acme", &email_of(&app, s.group_owner).await)
        .await;
    let res = app
        .send(
            Method::PUT,
            &format!("/v1/identities/{}/roles", app.acme.owner_id),
            Some(&group_owner_token),
            Some(json!({"roles": ["member"]})),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "an owner through a group may demote one"
    );
    // The scene's owner agent goes to the trash: the group owner is the last owner.
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/identities/{}", s.owner_agent),
            Some(&group_owner_token),
            None,
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let membership = format!("/v1/groups/{}/members/{}", s.owners, s.group_owner);
    for (method, path, body) in [
        (Method::DELETE, membership.clone(), None),
        (
            Method::PUT,
            format!("/v1/groups/{}/roles", s.owners),
            Some(json!({"roles": []})),
        ),
        (Method::DELETE, format!("/v1/groups/{}", s.owners), None),
    ] {
        let res = app
            .send(method.clone(), &path, Some(&group_owner_token), body)
            .await;
        assert_eq!(res.status(), StatusCode::CONFLICT, "{method} {path}");
        assert_eq!(crate::helpers::problem(res).await["code"], "last_owner");
    }
    // Nothing changed: still an owner, through the group.
    let me = app.get("/v1/me", Some(&group_owner_token)).await;
    let me: Value = me.json().await.unwrap();
    assert!(
        me["roles"].as_array().unwrap().contains(&json!("owner")),
        "{me}"
    );
}

async fn email_of(app: &TestApp, id: Uuid) -> String {
    let owner = owner_ctx(&app.db, &app.acme).await;
    service::identities::get(&owner, &app.db, id)
        .await
        .unwrap()
        .email
        .unwrap()
}

#[tokio::test]
async fn an_email_change_voids_reset_links_and_tells_the_old_address() {
    let app = TestApp::spawn_with_mail().await;
    let stamp = Uuid::now_v7().simple().to_string();
    let old = format!("old-{stamp}@acme.test");
    let owner = owner_ctx(&app.db, &app.acme).await;
    let person = service::identities::create(
        &owner,
        &app.db,
        service::identities::NewIdentity {
            email: Some(old.clone()),
            display_name: Some("Old Address".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // A reset link goes to the old address...
    let res = app
        .send(
            Method::POST,
            "/v1/auth/password-reset",
            None,
            Some(json!({"tenant": "acme", "email": old})),
        )
        .await;
    assert!(res.status().is_success());
    let mails = crate::helpers::maildev().mails_to(&old, 1).await;
    let text = mails[0]["text"].as_str().unwrap();
    let start = text.find("/reset-password/").unwrap() + "/reset-password/".len();
    let token: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    // ...then an admin moves the account to another address.
    let (_, email) = app.member(&app.acme, "admin").await;
    let admin = app.token("acme", &email).await;
    let new = format!("new-{stamp}@acme.test");
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/identities/{}", person.id),
            Some(&admin),
            Some(json!({"email": new})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // The link sent to the old address no longer works...
    let res = app
        .send(
            Method::POST,
            "/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": token, "new_password": "a brand new long password"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(
        crate::helpers::problem(res).await["code"],
        "reset_link_invalid"
    );
    // ...and the old address hears of the change, without the new one in full.
    let mails = crate::helpers::maildev().mails_to(&old, 2).await;
    let notice = mails
        .iter()
        .find(|m| m["subject"].as_str().unwrap_or("").contains("changed"))
        .expect("a notice to the old address");
    let text = notice["text"].as_str().unwrap();
    assert!(text.contains("n•••@acme.test"), "{text}");
    assert!(!text.contains(&new), "{text}");
}

#[tokio::test]
async fn a_key_scoped_beyond_its_identity_grants_nothing() {
    let app = TestApp::spawn().await;
    let (me, email) = app.member(&app.acme, "member").await;
    let member = app.token("acme", &email).await;
    let res = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&member),
            Some(json!({"name": "wide", "scopes": ["roles:manage", "*:*"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let key: Value = res.json().await.unwrap();
    let secret = key["secret"].as_str().unwrap();
    let res = app
        .send(
            Method::PUT,
            &format!("/v1/identities/{me}/roles"),
            Some(secret),
            Some(json!({"roles": ["admin"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn policies_roles_and_resent_invitations_grant_only_what_their_author_holds() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    // A custom role that writes policies and roles and resends invitations, and holds
    // nothing else.
    let allow = |p: &str| (p.to_owned(), service::authz::engine::Effect::Allow);
    service::roles::create(
        &owner,
        &app.db,
        service::roles::RoleInput {
            name: "rule-writer".into(),
            description: String::new(),
            permissions: [
                "policies:read",
                "policies:create",
                "policies:update",
                "roles:read",
                "roles:create",
                "invitations:read",
                "invitations:update",
            ]
            .into_iter()
            .map(allow)
            .collect(),
        },
    )
    .await
    .unwrap();
    let (me, email) = app.member(&app.acme, "rule-writer").await;
    let token = app.token("acme", &email).await;
    let owner_token = app.owner_token(&app.acme).await;
    let mine = json!({"==": [{"var": "principal.id"}, me.to_string()]});

    // A dormant policy that would allow everything, and an invitation that makes an owner.
    let res = app
        .send(
            Method::POST,
            "/v1/policies",
            Some(&owner_token),
            Some(json!({"name": "dormant", "effect": "allow", "resource_pattern": "*", "action_pattern": "*", "enabled": false, "condition": mine})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let dormant = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .send(
            Method::POST,
            "/v1/invitations",
            Some(&owner_token),
            Some(json!({"email": format!("boss-{}@elsewhere.test", Uuid::now_v7().simple()), "roles": ["owner"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let owner_invitation = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let stamp = Uuid::now_v7().simple().to_string();
    let tries = [
        (
            "an allow policy giving me roles:manage",
            Method::POST,
            "/v1/policies".to_owned(),
            json!({"name": format!("p1-{stamp}"), "effect": "allow", "resource_pattern": "roles", "action_pattern": "manage", "condition": mine}),
            403,
        ),
        (
            "an allow policy on every action of memories, which I do not hold",
            Method::POST,
            "/v1/policies".to_owned(),
            json!({"name": format!("p2-{stamp}"), "effect": "allow", "resource_pattern": "memories", "action_pattern": "*"}),
            403,
        ),
        (
            "an allow policy on what I hold already",
            Method::POST,
            "/v1/policies".to_owned(),
            json!({"name": format!("p3-{stamp}"), "effect": "allow", "resource_pattern": "policies", "action_pattern": "read"}),
            201,
        ),
        (
            "a deny policy (it narrows, so it grants nothing)",
            Method::POST,
            "/v1/policies".to_owned(),
            json!({"name": format!("p4-{stamp}"), "effect": "deny", "resource_pattern": "memories", "action_pattern": "delete"}),
            201,
        ),
        (
            "enabling the dormant allow-everything policy",
            Method::PATCH,
            format!("/v1/policies/{dormant}"),
            json!({"enabled": true}),
            403,
        ),
        (
            "a role that allows roles:manage (an invitation naming it would grant it)",
            Method::POST,
            "/v1/roles".to_owned(),
            json!({"name": format!("r1-{stamp}"), "permissions": {"roles:manage": "allow"}}),
            403,
        ),
        (
            "a role that allows only what I hold",
            Method::POST,
            "/v1/roles".to_owned(),
            json!({"name": format!("r2-{stamp}"), "permissions": {"policies:read": "allow"}}),
            201,
        ),
        (
            "a new link for an invitation that makes an owner",
            Method::POST,
            format!("/v1/invitations/{owner_invitation}/resend"),
            json!({}),
            403,
        ),
    ];
    let mut failures = Vec::new();
    for (what, method, path, body, expect) in tries {
        let res = app
            .send(method.clone(), &path, Some(&token), Some(body))
            .await;
        let got = res.status().as_u16();
        if got != expect {
            let text = res.text().await.unwrap_or_default();
            failures.push(format!(
                "{what} ({method} {path}): expected {expect}, got {got} {text}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Nothing of it took: the dormant policy sleeps, the invitation's link was not renewed
    // (its mail was sent once), and I still cannot grant myself a role.
    let policy: Value = app
        .get(&format!("/v1/policies/{dormant}"), Some(&owner_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(policy["enabled"], false);
    let invitation: Value = app
        .get(
            &format!("/v1/invitations/{owner_invitation}"),
            Some(&owner_token),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(invitation["sent_count"], 1, "{invitation}");
    let res = app
        .send(
            Method::PUT,
            &format!("/v1/identities/{me}/roles"),
            Some(&token),
            Some(json!({"roles": ["owner"]})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // An owner may do all of it.
    let res = app
        .send(
            Method::POST,
            &format!("/v1/invitations/{owner_invitation}/resend"),
            Some(&owner_token),
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_provider_hands_new_people_only_a_role_its_author_could_grant() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let allow = |p: &str| (p.to_owned(), service::authz::engine::Effect::Allow);
    service::roles::create(
        &owner,
        &app.db,
        service::roles::RoleInput {
            name: "sso-keeper".into(),
            description: String::new(),
            permissions: ["settings:read", "settings:create", "settings:update"]
                .into_iter()
                .map(allow)
                .collect(),
        },
    )
    .await
    .unwrap();
    let (_, email) = app.member(&app.acme, "sso-keeper").await;
    let token = app.token("acme", &email).await;
    let issuer = crate::helpers::oidc_provider().issuer();
    let provider = |name: &str, role: &str| {
        json!({"name": name, "issuer": issuer, "client_id": "c", "client_secret": "s",
               "default_role": role, "jit_provisioning": true})
    };
    // An issuer the author controls would make admins of whoever it vouches for.
    let res = app
        .send(
            Method::POST,
            "/v1/sso/providers",
            Some(&token),
            Some(provider("Mine", "admin")),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .send(
            Method::POST,
            "/v1/sso/providers",
            Some(&token),
            Some(provider("Mine", "sso-keeper")),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/sso/providers/{id}"),
            Some(&token),
            Some(json!({"default_role": "admin"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let owner_token = app.owner_token(&app.acme).await;
    let seen: Value = app
        .get(&format!("/v1/sso/providers/{id}"), Some(&owner_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["default_role"], "sso-keeper");
}
