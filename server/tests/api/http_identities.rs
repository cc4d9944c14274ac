//! Every `/v1/identities` route over HTTP, and the problem+json shapes of its errors.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};

#[tokio::test]
async fn the_identity_lifecycle_over_rest() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    let t = Some(token.as_str());

    let res = app
        .send(
            Method::POST,
            "/v1/identities",
            t,
            Some(
                json!({"email": "Ada@Example.com", "display_name": "Ada", "external_id": "crm-7",
                        "roles": ["admin"], "metadata": {"team": "engines"}}),
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/identities/{id}"));
    assert_eq!(created["email"], "ada@example.com");
    assert_eq!(
        (created["kind"].as_str(), created["status"].as_str()),
        (Some("user"), Some("active"))
    );
    assert!(created.get("password_hash").is_none() && created.get("tenant_id").is_none());

    let got: Value = app.get(&location, t).await.json().await.unwrap();
    assert_eq!(got, created);

    let list: Value = app
        .get("/v1/identities?q=ada&limit=10", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert!(list["next_cursor"].is_null());

    let res = app
        .send(
            Method::PATCH,
            &location,
            t,
            Some(json!({"display_name": "Ada L.", "external_id": null, "status": "disabled"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(
        (patched["display_name"].as_str(), patched["status"].as_str()),
        (Some("Ada L."), Some("disabled"))
    );
    assert!(patched["external_id"].is_null());

    assert_eq!(
        app.send(Method::DELETE, &location, t, None).await.status(),
        StatusCode::NO_CONTENT
    );
    let trash: Value = app
        .get("/v1/identities?status=deleted", t)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(trash["items"][0]["id"], id.as_str());
    let present: Value = app.get("/v1/identities", t).await.json().await.unwrap();
    assert!(
        present["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != id.as_str())
    );

    let res = app
        .send(Method::POST, &format!("{location}/restore"), t, None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "disabled");

    assert_eq!(
        app.send(Method::DELETE, &format!("{location}?hard=true"), t, None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let gone = app.get(&location, t).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(problem(gone).await["code"], "not_found");
}

#[tokio::test]
async fn pagination_walks_every_identity_once() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    for i in 0..5 {
        let res = app
            .send(
                Method::POST,
                "/v1/identities",
                Some(&token),
                Some(json!({"email": format!("p{i}@example.com")})),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let mut seen = vec![];
    let mut path = "/v1/identities?limit=2".to_owned();
    loop {
        let page: Value = app.get(&path, Some(&token)).await.json().await.unwrap();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/identities?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "five identities and the owner");
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 6);
}

#[tokio::test]
async fn errors_are_problem_details_with_stable_codes() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    let t = Some(token.as_str());

    // 422 with every invalid field.
    let res = app
        .send(
            Method::POST,
            "/v1/identities",
            t,
            Some(json!({"email": "nope", "metadata": [1], "password": "short"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = problem(res).await;
    assert_eq!(body["code"], "validation_failed");
    assert_eq!(body["status"], 422);
    assert_eq!(
        body["type"],
        "https://tenantry.dev/problems/validation-failed"
    );
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "metadata", "password"]);
    assert!(body["request_id"].is_string());

    // 409 on a duplicate email.
    let res = app
        .send(
            Method::POST,
            "/v1/identities",
            t,
            Some(json!({"email": "OWNER@acme.test"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "email_taken");

    // 422 on an unknown field or a wrong type, 400 on malformed JSON, 415 without JSON.
    let res = app
        .send(
            Method::POST,
            "/v1/identities",
            t,
            Some(json!({"email": "a@b.co", "colour": "red"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["code"], "invalid_body");
    let res = app
        .client
        .post(app.url("/v1/identities"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(res).await["code"], "malformed_body");
    let res = app
        .client
        .post(app.url("/v1/identities"))
        .bearer_auth(&token)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // 400 on a bad cursor, 422 on a bad filter or limit.
    let res = app.get("/v1/identities?cursor=@@@", t).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(res).await["code"], "bad_request");
    assert_eq!(
        app.get("/v1/identities?status=sleeping", t).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/v1/identities?limit=0", t).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/v1/identities?limit=lots", t).await.status(),
        StatusCode::BAD_REQUEST
    );

    // Unknown API routes and methods answer in problem+json too.
    let res = app.get("/v1/nothing-here", t).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(problem(res).await["code"], "not_found");
    let res = app.send(Method::PUT, "/v1/identities", t, None).await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(problem(res).await["code"], "method_not_allowed");

    // 404 for an id that is not a UUID or does not exist.
    assert_eq!(
        app.get("/v1/identities/not-a-uuid", t).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/v1/identities/{}", uuid::Uuid::now_v7()), t)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    // 409 when the last owner would be lost, 400 when nothing is asked.
    let me = format!("/v1/identities/{}", app.acme.owner_id);
    let res = app
        .send(Method::PATCH, &me, t, Some(json!({"status": "disabled"})))
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "cannot_target_self");
    assert_eq!(
        app.send(Method::PATCH, &me, t, Some(json!({})))
            .await
            .status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn super_admin_creates_and_lists_tenants() {
    let app = TestApp::spawn().await;
    let admin = Some(crate::helpers::ADMIN_TOKEN);
    let res = app
        .send(
            Method::POST,
            "/v1/admin/tenants",
            admin,
            Some(json!({"slug": "initech", "name": "Initech", "plan": "enterprise", "owner_email": "bill@initech.test"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["tenant"]["plan"], "enterprise");
    let password = body["owner_password"]
        .as_str()
        .expect("a generated password, once")
        .to_owned();
    assert!(password.len() >= 20);
    let signin = app
        .token_response("initech", "bill@initech.test", &password)
        .await;
    assert_eq!(signin.status(), StatusCode::OK);

    let list: Value = app
        .get("/v1/admin/tenants", admin)
        .await
        .json()
        .await
        .unwrap();
    let slugs: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["initech", "globex", "acme"]);

    let res = app
        .send(
            Method::POST,
            "/v1/admin/tenants",
            admin,
            Some(json!({"slug": "acme", "name": "Again", "owner_email": "x@y.test"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "slug_taken");
    let res = app
        .send(
            Method::POST,
            "/v1/admin/tenants",
            admin,
            Some(json!({"slug": "Bad Slug", "name": "", "owner_email": "x"})),
        )
        .await;
    let body = problem(res).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["slug", "name", "owner_email"]);

    // The super-admin is not a member of any tenant.
    assert_eq!(
        app.get("/v1/identities", admin).await.status(),
        StatusCode::FORBIDDEN
    );
}
