//! The event stream over HTTP: every change is an event, read by type (with wildcards), by
//! identity, by time, one at a time and counted; old events leave by retention.

use reqwest::StatusCode;
use serde_json::Value;
use service::identities::{self, IdentityPatch, NewIdentity};
use sqlx::Connection;
use uuid::Uuid;

use crate::helpers::{TestApp, owner_ctx};

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.get(path, Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.json().await.unwrap()
}

fn types(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn events_are_read_by_type_identity_and_time_and_counted() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    let token = app.owner_token(&app.acme).await;
    let ada = identities::create(
        &owner,
        &app.db,
        NewIdentity {
            email: Some("ada@acme.test".into()),
            display_name: Some("Ada".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    identities::update(
        &owner,
        &app.db,
        ada.id,
        IdentityPatch {
            display_name: Some("Ada Lovelace".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let group = service::groups::create(
        &owner,
        &app.db,
        service::groups::GroupInput {
            name: Some("Analysts".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // Newest first; a wildcard picks a family, a list picks several.
    let ident = get_json(&app, &token, "/v1/events?type=identity.*").await;
    let ident_types = types(&ident);
    assert_eq!(ident_types[0], "identity.updated");
    assert!(ident_types.iter().all(|t| t.starts_with("identity.")));
    let first = &ident["items"][0];
    assert_eq!(first["subject"]["type"], "identity");
    assert_eq!(first["subject"]["id"], ada.id.to_string());
    assert_eq!(first["data"]["display_name"], "Ada Lovelace");
    assert_eq!(first["actor_type"], "identity");
    assert_eq!(first["actor_id"], app.acme.owner_id.to_string());
    let both = get_json(
        &app,
        &token,
        "/v1/events?type=group.created,identity.updated",
    )
    .await;
    assert_eq!(types(&both), ["group.created", "identity.updated"]);
    // The change's audit record is one hop away.
    let audit_id = first["audit_id"].as_str().unwrap();
    let audit = get_json(&app, &token, &format!("/v1/audit/{audit_id}")).await;
    assert_eq!(audit["action"], "identity.updated");

    // By identity: what happened to Ada (and what Ada did: nothing yet).
    let about_ada = get_json(&app, &token, &format!("/v1/identities/{}/events", ada.id)).await;
    assert_eq!(types(&about_ada), ["identity.updated", "identity.created"]);
    let same = get_json(&app, &token, &format!("/v1/events?identity_id={}", ada.id)).await;
    assert_eq!(types(&same), types(&about_ada));

    // One event; another tenant's does not exist for this caller.
    let id = first["id"].as_str().unwrap();
    let one = get_json(&app, &token, &format!("/v1/events/{id}")).await;
    assert_eq!(one["type"], "identity.updated");
    let globex_token = app.owner_token(&app.globex).await;
    let res = app
        .get(&format!("/v1/events/{id}"), Some(&globex_token))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let theirs = get_json(&app, &globex_token, "/v1/events?type=identity.*").await;
    assert!(
        theirs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["subject"]["id"] != ada.id.to_string())
    );

    // Pages follow the stream backwards without repeating.
    let page1 = get_json(&app, &token, "/v1/events?limit=2").await;
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = get_json(&app, &token, &format!("/v1/events?limit=2&cursor={cursor}")).await;
    let ids = |p: &Value| -> Vec<String> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(ids(&page2).iter().all(|i| !ids(&page1).contains(i)));

    // A time range that ends before everything is empty.
    let empty = get_json(&app, &token, "/v1/events?to=2000-01-01T00:00:00Z").await;
    assert!(empty["items"].as_array().unwrap().is_empty());

    // Bad patterns and bad ranges are 422 with the field named.
    for path in [
        "/v1/events?type=identity.exploded",
        "/v1/events?type=nothing.*",
        "/v1/events?type=identity.cre*ted",
        "/v1/events?type=Identity.Created",
        "/v1/events/stats?bucket=minute",
        "/v1/events/stats?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
        "/v1/events/stats?bucket=hour&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
    ] {
        let res = app.get(path, Some(&token)).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
    }

    // Counts by type and by day.
    let stats = get_json(&app, &token, "/v1/events/stats?type=identity.*,group.*").await;
    assert_eq!(stats["bucket"], "day");
    let count_of = |t: &str| {
        stats["by_type"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == t)
            .map(|c| c["count"].as_i64().unwrap())
            .unwrap_or(0)
    };
    assert!(count_of("identity.created") >= 1);
    assert_eq!(count_of("identity.updated"), 1);
    assert_eq!(count_of("group.created"), 1);
    let in_series: i64 = stats["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_i64().unwrap())
        .sum();
    assert_eq!(stats["total"].as_i64().unwrap(), in_series);
    assert!(in_series >= 3);
    assert_eq!(both["items"][0]["subject"]["id"], group.id.to_string());
}

/// The catalogue as programs read it, and the events of a tenant checked against it with
/// an independent JSON Schema validator (the service checks them too, as it writes them).
#[tokio::test]
async fn the_catalogue_publishes_a_schema_per_type_that_the_events_match() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    // A few changes of different kinds, through the API.
    for body in [
        serde_json::json!({ "email": "grace@acme.test", "display_name": "Grace" }),
        serde_json::json!({ "display_name": "Agent 7", "kind": "agent" }),
    ] {
        let res = app
            .send(
                reqwest::Method::POST,
                "/v1/identities",
                Some(&token),
                Some(body),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = app
        .send(
            reqwest::Method::POST,
            "/v1/memories",
            Some(&token),
            Some(serde_json::json!({ "text": "The catalogue test remembers this.", "ttl_seconds": 3600 })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .send(
            reqwest::Method::POST,
            "/v1/api-keys",
            Some(&token),
            Some(serde_json::json!({ "name": "catalogue", "scopes": ["audit:read"], "expires_in_days": 30 })),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Any member may read the catalogue; a viewer too.
    let (_, viewer) = app.member(&app.acme, "viewer").await;
    let viewer_token = app.token("acme", &viewer).await;
    let catalogue = get_json(&app, &viewer_token, "/v1/events/types").await;
    assert_eq!(
        app.get("/v1/events/types", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let items = catalogue["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for family in [
        "identity.",
        "group.",
        "role.",
        "policy.",
        "invitation.",
        "api_key.",
        "session.",
        "memory.",
    ] {
        assert!(names.iter().any(|n| n.starts_with(family)), "no {family}*");
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");
    let created = items
        .iter()
        .find(|t| t["name"] == "identity.created")
        .unwrap();
    assert_eq!(created["subject_type"], "identity");
    let data = &created["schema"]["properties"]["data"];
    let email = jsonschema::validator_for(&data["properties"]["email"]).unwrap();
    assert!(email.is_valid(&"ada@acme.test".into()) && email.is_valid(&serde_json::Value::Null));
    assert!(!email.is_valid(&7.into()));
    assert!(
        data["required"]
            .as_array()
            .unwrap()
            .contains(&"display_name".into())
    );

    let validators: std::collections::HashMap<&str, jsonschema::Validator> = items
        .iter()
        .map(|t| {
            let v = jsonschema::options()
                .should_validate_formats(true)
                .build(&t["schema"])
                .unwrap();
            (t["name"].as_str().unwrap(), v)
        })
        .collect();
    let events = get_json(&app, &token, "/v1/events?limit=200").await;
    let events = events["items"].as_array().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for e in events {
        let name = e["type"].as_str().unwrap();
        let payload = serde_json::json!({ "id": e["subject"]["id"], "data": e["data"] });
        let errors: Vec<String> = validators[name]
            .iter_errors(&payload)
            .map(|err| err.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:?} in {payload}");
        seen.insert(name);
    }
    for name in ["identity.created", "memory.created", "api_key.created"] {
        assert!(seen.contains(name), "{name} not among {seen:?}");
    }
    // A payload of another shape is refused by the published schema.
    let bad = serde_json::json!({ "id": Uuid::now_v7(), "data": { "email": 7 } });
    assert!(!validators["identity.created"].is_valid(&bad));
}

async fn count(su: &mut sqlx::PgConnection, tenant: Uuid) -> i64 {
    sqlx::query_scalar("select count(*) from outbox_events where tenant_id = $1")
        .bind(tenant)
        .fetch_one(su)
        .await
        .unwrap()
}

#[tokio::test]
async fn old_events_leave_by_retention_and_others_stay() {
    let app = TestApp::spawn().await;
    let owner = owner_ctx(&app.db, &app.acme).await;
    for i in 0..3 {
        identities::create(
            &owner,
            &app.db,
            NewIdentity {
                email: Some(format!("old{i}@acme.test")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let mut su = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    let acme_before = count(&mut su, app.acme.id).await;
    let globex_before = count(&mut su, app.globex.id).await;
    // Two of acme's events become 40 days old.
    sqlx::query(
        "update outbox_events set created_at = now() - interval '40 days'
         where id in (select id from outbox_events where tenant_id = $1 order by id limit 2)",
    )
    .bind(app.acme.id)
    .execute(&mut su)
    .await
    .unwrap();
    let removed = service::events::prune(&app.db, 30).await.unwrap();
    assert_eq!(removed, 2);
    assert_eq!(count(&mut su, app.acme.id).await, acme_before - 2);
    assert_eq!(count(&mut su, app.globex.id).await, globex_before);
    // The application role cannot delete events itself: the outbox is append-only for it.
    sqlx::query("set role tenantry_app")
        .execute(&mut su)
        .await
        .unwrap();
    let err = sqlx::query("delete from outbox_events")
        .execute(&mut su)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}
