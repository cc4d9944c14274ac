//! Plans and quotas over HTTP: the operator edits plans and a tenant's overrides; a tenant
//! admin reads its limits and use; creating past a quota is refused with a problem naming
//! it, and allowed again after a delete; nobody but the operator changes a limit.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, problem};

async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    app.send(method, path, Some(ADMIN_TOKEN), body).await
}

/// Sets the tenant's overrides through the operator's door.
async fn override_quotas(app: &TestApp, tenant: uuid::Uuid, quotas: Value) -> Value {
    let res = admin(
        app,
        Method::PUT,
        &format!("/v1/admin/tenants/{tenant}/limits"),
        Some(json!({"overrides": {"quotas": quotas}})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn my_limits(app: &TestApp, token: &str) -> Value {
    let res = app.get("/v1/limits", Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

fn used(limits: &Value, quota: &str) -> (Value, i64) {
    let q = limits["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["quota"] == quota)
        .unwrap_or_else(|| panic!("no {quota} in {limits}"));
    (q["limit"].clone(), q["used"].as_i64().unwrap())
}

async fn create_person(app: &TestApp, token: &str, email: &str) -> reqwest::Response {
    app.send(
        Method::POST,
        "/v1/identities",
        Some(token),
        Some(json!({"kind": "user", "email": email, "display_name": "Quota test"})),
    )
    .await
}

#[tokio::test]
async fn identities_past_the_quota_are_refused_and_allowed_again_after_a_delete() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let (_, held) = used(&my_limits(&app, &owner).await, "identities");
    let after = override_quotas(&app, app.acme.id, json!({"identities": held + 2})).await;
    assert_eq!(after["quotas"]["identities"], held + 2);
    assert_eq!(after["plan"], "pro");

    let mut ids = Vec::new();
    for n in 0..2 {
        let res = create_person(&app, &owner, &format!("q{n}@acme.test")).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        ids.push(res.json::<Value>().await.unwrap()["id"].clone());
    }
    let res = create_person(&app, &owner, "q2@acme.test").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let p = problem(res).await;
    assert_eq!(p["code"], "quota_exceeded");
    assert_eq!(p["quota"]["name"], "identities");
    assert_eq!(p["quota"]["limit"], held + 2);
    assert_eq!(p["quota"]["used"], held + 2);
    assert!(p["detail"].as_str().unwrap().contains("identities"), "{p}");
    // Nothing was half-written.
    assert_eq!(
        used(&my_limits(&app, &owner).await, "identities").1,
        held + 2
    );

    // A delete makes room; restoring the deleted one while full is refused too.
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/identities/{}", ids[0].as_str().unwrap()),
            Some(&owner),
            None,
        )
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let res = create_person(&app, &owner, "q2@acme.test").await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .send(
            Method::POST,
            &format!("/v1/identities/{}/restore", ids[0].as_str().unwrap()),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["quota"]["name"], "identities");

    // Another tenant is not limited by acme's override.
    let globex = app.owner_token(&app.globex).await;
    let res = create_person(&app, &globex, "fine@globex.test").await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Cleared, the plan's quota applies again.
    let res = admin(
        &app,
        Method::DELETE,
        &format!("/v1/admin/tenants/{}/limits", app.acme.id),
        None,
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = create_person(&app, &owner, "q3@acme.test").await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn api_keys_and_policies_have_quotas_of_their_own() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let limits = my_limits(&app, &owner).await;
    let (_, keys) = used(&limits, "api_keys");
    let (_, policies) = used(&limits, "policies");
    override_quotas(
        &app,
        app.acme.id,
        json!({"api_keys": keys + 1, "policies": policies}),
    )
    .await;
    let key = |name: &'static str| {
        app.send(
            Method::POST,
            "/v1/api-keys",
            Some(&owner),
            Some(json!({"name": name, "scopes": ["identities:read"]})),
        )
    };
    let first = key("one").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let res = key("two").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let p = problem(res).await;
    assert_eq!(
        (p["quota"]["name"].as_str(), p["quota"]["used"].as_i64()),
        (Some("api_keys"), Some(keys + 1))
    );
    // A revoked key does not count.
    let res = app
        .send(
            Method::DELETE,
            &format!("/v1/api-keys/{}", first["id"].as_str().unwrap()),
            Some(&owner),
            None,
        )
        .await;
    assert!(res.status().is_success());
    assert_eq!(key("two").await.status(), StatusCode::CREATED);

    let res = app
        .send(
            Method::POST,
            "/v1/policies",
            Some(&owner),
            Some(json!({"name": "one too many", "effect": "deny",
                "resource_pattern": "memories", "action_pattern": "delete"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["quota"]["name"], "policies");
}

#[tokio::test]
async fn a_tenant_admin_reads_its_limits_and_only_the_operator_changes_them() {
    let app = TestApp::spawn().await;
    let owner = app.owner_token(&app.acme).await;
    let limits = my_limits(&app, &owner).await;
    assert_eq!(limits["plan"], "pro");
    assert_eq!(limits["rates"]["user"]["rate"], 50.0);
    assert_eq!(limits["last_24h"].as_array().unwrap().len(), 24);
    for q in ["identities", "memories", "webhooks", "policies", "api_keys"] {
        let (limit, n) = used(&limits, q);
        assert!(limit.as_i64().unwrap() > 0, "{q}: {limits}");
        assert!(n >= 0);
    }
    assert!(used(&limits, "identities").1 >= 1);
    // enterprise has no quotas: null.
    let res = admin(
        &app,
        Method::PUT,
        &format!("/v1/admin/tenants/{}/limits", app.acme.id),
        Some(json!({"plan": "enterprise"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let limits = my_limits(&app, &owner).await;
    assert_eq!(limits["plan"], "enterprise");
    assert_eq!(used(&limits, "identities").0, Value::Null);

    // Reading them takes settings:read (a viewer has it, a plain member does not); no
    // member reaches the operator's door, whatever its role; nobody anonymous does either.
    let (_, viewer_email) = app.member(&app.acme, "viewer").await;
    let viewer = app.token("acme", &viewer_email).await;
    assert_eq!(
        app.get("/v1/limits", Some(&viewer)).await.status(),
        StatusCode::OK
    );
    let (_, member_email) = app.member(&app.acme, "member").await;
    let member = app.token("acme", &member_email).await;
    assert_eq!(
        app.get("/v1/limits", Some(&member)).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/v1/limits", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for token in [Some(owner.as_str()), Some(viewer.as_str()), None] {
        for (method, path, body) in [
            (Method::GET, "/v1/admin/plans".to_owned(), None),
            (
                Method::PUT,
                "/v1/admin/plans/free".to_owned(),
                Some(json!({"rates": {"tenant": {"rate": 1e6, "burst": 1000000},
                    "user": {"rate": 1e6, "burst": 1000000}, "agent": {"rate": 1e6, "burst": 1000000}}})),
            ),
            (
                Method::PUT,
                format!("/v1/admin/tenants/{}/limits", app.acme.id),
                Some(json!({"overrides": {"quotas": {"identities": null}}})),
            ),
            (Method::GET, "/v1/admin/rate-limits".to_owned(), None),
        ] {
            let res = app.send(method.clone(), &path, token, body).await;
            let expected = if token.is_some() {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(res.status(), expected, "{method} {path}");
        }
    }
    // Still enterprise, still no override.
    assert_eq!(my_limits(&app, &owner).await["plan"], "enterprise");
}

#[tokio::test]
async fn the_operator_makes_edits_and_deletes_plans() {
    let app = TestApp::spawn().await;
    let plans: Value = admin(&app, Method::GET, "/v1/admin/plans", None)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = plans
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["enterprise", "free", "pro"]);
    let pro = plans
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "pro")
        .unwrap();
    assert!(pro["tenants"].as_i64().unwrap() >= 1);

    let startup = json!({
        "description": "Seed-stage companies",
        "rates": {"tenant": {"rate": 200, "burst": 400}, "user": {"rate": 20, "burst": 40},
                  "agent": {"rate": 5, "burst": 10}},
        "quotas": {"identities": 25, "memories": 5000, "webhooks": 2, "policies": 20,
                   "api_keys": null}
    });
    let res = admin(
        &app,
        Method::PUT,
        "/v1/admin/plans/startup",
        Some(startup.clone()),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let made: Value = res.json().await.unwrap();
    assert_eq!(made["quotas"]["api_keys"], Value::Null);
    assert_eq!(made["tenants"], 0);
    let res = admin(&app, Method::PUT, "/v1/admin/plans/startup", Some(startup)).await;
    assert_eq!(res.status(), StatusCode::OK);

    // Bad input is refused whole, naming each field.
    for (path, body, field) in [
        (
            "/v1/admin/plans/Startup",
            json!({"rates": {"tenant": {"rate": 1, "burst": 1}, "user": {"rate": 1, "burst": 1}, "agent": {"rate": 1, "burst": 1}}}),
            "name",
        ),
        (
            "/v1/admin/plans/other",
            json!({"rates": {"tenant": {"rate": 0, "burst": 1}, "user": {"rate": 1, "burst": 1}, "agent": {"rate": 1, "burst": 1}}}),
            "rates.tenant.rate",
        ),
        (
            "/v1/admin/plans/other",
            json!({"rates": {"tenant": {"rate": 1, "burst": 1}, "user": {"rate": 1, "burst": 1}, "agent": {"rate": 1, "burst": 1}},
                   "quotas": {"identities": 0}}),
            "quotas.identities",
        ),
    ] {
        let res = admin(&app, Method::PUT, path, Some(body)).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert_eq!(problem(res).await["errors"][0]["field"], field);
    }
    assert_eq!(
        admin(&app, Method::GET, "/v1/admin/plans/other", None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // A tenant moves to it; the plan in use cannot be deleted; a plan that does not exist
    // cannot be chosen.
    let res = admin(
        &app,
        Method::PUT,
        &format!("/v1/admin/tenants/{}/limits", app.globex.id),
        Some(json!({"plan": "startup", "overrides": {"rates": {"user": {"rate": 7}}}})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let limits: Value = res.json().await.unwrap();
    assert_eq!(limits["plan"], "startup");
    assert_eq!(limits["rates"]["user"], json!({"rate": 7.0, "burst": 40}));
    assert_eq!(limits["quotas"]["identities"], 25);
    let globex = app.owner_token(&app.globex).await;
    assert_eq!(my_limits(&app, &globex).await["plan"], "startup");
    let res = admin(&app, Method::DELETE, "/v1/admin/plans/startup", None).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "plan_in_use");
    let res = admin(
        &app,
        Method::PUT,
        &format!("/v1/admin/tenants/{}/limits", app.globex.id),
        Some(json!({"plan": "platinum"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["code"], "unknown_plan");
    let res = admin(
        &app,
        Method::PUT,
        &format!("/v1/admin/tenants/{}/limits", uuid::Uuid::now_v7()),
        Some(json!({"plan": "pro"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The change is in the tenant's audit trail, by the operator.
    let audit: Value = app
        .get("/v1/audit?action=tenant.limits_changed", Some(&globex))
        .await
        .json()
        .await
        .unwrap();
    let item = &audit["items"][0];
    assert_eq!(item["action"], "tenant.limits_changed", "{audit}");
    assert_eq!(item["actor_type"], "super_admin");

    // Back on free, the plan can go.
    let res = admin(
        &app,
        Method::PUT,
        &format!("/v1/admin/tenants/{}/limits", app.globex.id),
        Some(json!({"plan": "free"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        admin(&app, Method::DELETE, "/v1/admin/plans/startup", None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        admin(&app, Method::GET, "/v1/admin/plans/startup", None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_quota_set_on_one_instance_holds_on_another() {
    let app = TestApp::spawn().await;
    let second = app.spawn_second().await;
    let owner = app.owner_token(&app.acme).await;
    // The second instance has met acme's limits before the change.
    let (_, held) = used(&my_limits(&second, &owner).await, "webhooks");
    override_quotas(&app, app.acme.id, json!({"identities": 1})).await;
    // The change reaches the second instance by notification; poll until it has.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let limits = my_limits(&second, &owner).await;
        if used(&limits, "identities").0 == json!(1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never applied: {limits}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let res = create_person(&second, &owner, "late@acme.test").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(held, used(&my_limits(&second, &owner).await, "webhooks").1);
}
