//! Rate limits over HTTP: each bucket (a tenant's, a person's, an agent's, an address's
//! before sign-in) trips with its headers and a problem naming it; a limited caller spends
//! nothing of anyone else's; what happens when the limit store is unreachable.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{TestApp, problem, serve_args};

async fn limited_app() -> TestApp {
    TestApp::spawn_with_args(server::config::ServeArgs {
        rate_limits: true,
        // Slow enough that no test run, however busy the machine, sees one refill.
        anonymous_rate: 0.1,
        anonymous_burst: 4,
        ..serve_args()
    })
    .await
}

/// Sets a plan's limits as the operator would (before the first request reads them).
async fn set_plan(
    app: &TestApp,
    plan: &str,
    tenant: (f64, i32),
    user: (f64, i32),
    agent: (f64, i32),
) {
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query(
        "update plans set tenant_rate = $2, tenant_burst = $3, user_rate = $4, user_burst = $5,
                          agent_rate = $6, agent_burst = $7
         where name = $1",
    )
    .bind(plan)
    .bind(tenant.0)
    .bind(tenant.1)
    .bind(user.0)
    .bind(user.1)
    .bind(agent.0)
    .bind(agent.1)
    .execute(&mut conn)
    .await
    .unwrap();
    app.db.limiter().forget_tenants();
}

/// A counter's value on /metrics (0 when absent; counters are the process's, shared by the
/// tests that run in it, so tests compare with at least).
async fn counted(app: &TestApp, series: &str) -> f64 {
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_person_past_their_rate_gets_429_with_the_headers_and_the_limit_named() {
    let app = limited_app().await;
    // acme is on pro: a request every four seconds for a person, five at once.
    set_plan(&app, "pro", (1000.0, 1000), (0.25, 5), (1000.0, 1000)).await;
    let token = app.owner_token(&app.acme).await;
    let (_, email) = app.member(&app.acme, "viewer").await;
    let other = app.token("acme", &email).await;
    for left in (0..5).rev() {
        let res = app.get("/v1/me", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, "ratelimit-policy"), r#""user";q=5;w=20"#);
        let now = header(&res, "ratelimit");
        assert!(
            now.starts_with(&format!(r#""user";r={left};t="#)),
            "{now} after {} requests",
            5 - left
        );
    }
    let res = app.get("/v1/me", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(&res, "retry-after").parse().unwrap();
    assert!((1..=4).contains(&retry), "{retry}");
    assert_eq!(header(&res, "ratelimit-policy"), r#""user";q=5;w=20"#);
    assert!(header(&res, "ratelimit").starts_with(r#""user";r=0;t="#));
    let body = problem(res).await;
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(body["status"], 429);
    assert_eq!(body["limit"]["policy"], "user");
    assert_eq!(body["limit"]["burst"], 5);
    assert_eq!(body["limit"]["rate_per_second"], 0.25);
    assert_eq!(body["retry_after"], retry);
    // Operators' monitoring counts refusals by bucket on /metrics.
    assert!(counted(&app, r#"rate_limit_refused_total{policy="user"}"#).await >= 1.0);

    // Another person of the same tenant is not held back by it.
    assert_eq!(
        app.get("/v1/me", Some(&other)).await.status(),
        StatusCode::OK
    );

    // Four seconds later a request is held again (the bucket refills at one every four
    // seconds): the next few are refused, never served as a burst.
    tokio::time::sleep(std::time::Duration::from_millis(4_100)).await;
    assert_eq!(
        app.get("/v1/me", Some(&token)).await.status(),
        StatusCode::OK
    );
    let mut refused = 0;
    for _ in 0..3 {
        if app.get("/v1/me", Some(&token)).await.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(refused, 3, "three requests right after one served");
}

#[tokio::test]
async fn a_tenant_past_its_rate_is_refused_for_all_its_members_and_no_one_else() {
    let app = limited_app().await;
    // globex is on free: three requests at once for the whole tenant.
    set_plan(&app, "free", (0.2, 3), (1000.0, 1000), (1000.0, 1000)).await;
    let globex = app.owner_token(&app.globex).await;
    let acme = app.owner_token(&app.acme).await;
    let (_, email) = app.member(&app.globex, "viewer").await;
    let member = app.token("globex", &email).await;
    for _ in 0..3 {
        assert_eq!(
            app.get("/v1/me", Some(&globex)).await.status(),
            StatusCode::OK
        );
    }
    for token in [&globex, &member] {
        let res = app.get("/v1/me", Some(token)).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&res, "ratelimit-policy"), r#""tenant";q=3;w=15"#);
        assert_eq!(problem(res).await["limit"]["policy"], "tenant");
    }
    assert_eq!(
        app.get("/v1/me", Some(&acme)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_far_below_its_rate_is_never_refused_however_many_requests_run_at_once() {
    let app = limited_app().await;
    // 20,000 a second and as many at once: the 3,000 requests below fit in the burst alone,
    // so a refusal can only come from leases spending more than the requests they serve.
    set_plan(
        &app,
        "pro",
        (20_000.0, 20_000),
        (20_000.0, 20_000),
        (1000.0, 1000),
    )
    .await;
    let token = app.owner_token(&app.acme).await;
    let mut refused = 0;
    for _wave in 0..30 {
        let mut wave = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let (client, url, token) = (app.client.clone(), app.url("/v1/me"), token.clone());
            wave.spawn(async move {
                client
                    .get(url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
        }
        for status in wave.join_all().await {
            match status {
                StatusCode::OK => {}
                StatusCode::TOO_MANY_REQUESTS => refused += 1,
                other => panic!("{other}"),
            }
        }
    }
    assert_eq!(refused, 0, "requests refused at a fraction of the rate");
}

#[tokio::test]
async fn an_agent_spends_from_the_agents_rate_with_its_key() {
    let app = limited_app().await;
    set_plan(&app, "pro", (1000.0, 1000), (1000.0, 1000), (0.1, 2)).await;
    let owner = app.owner_token(&app.acme).await;
    let agent: Value = app
        .send(
            Method::POST,
            "/v1/identities",
            Some(&owner),
            Some(json!({"kind": "agent", "display_name": "Indexer"})),
        )
        .await
        .json()
        .await
        .unwrap();
    let key: Value = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&owner),
            Some(json!({"name": "indexer", "scopes": ["*:read"], "identity_id": agent["id"]})),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = key["secret"].as_str().unwrap();
    let call = || async {
        app.client
            .get(app.url("/v1/me"))
            .header("x-api-key", secret)
            .send()
            .await
            .unwrap()
    };
    for _ in 0..2 {
        let res = call().await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(header(&res, "ratelimit-policy"), r#""agent";q=2;w=20"#);
    }
    let res = call().await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(problem(res).await["limit"]["policy"], "agent");
    // The owner, a person, is not limited by the agent's bucket.
    assert_eq!(
        app.get("/v1/me", Some(&owner)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn sign_in_attempts_from_one_address_are_limited_before_any_password_is_checked() {
    let app = limited_app().await;
    let attempt = || async {
        app.send(
            Method::POST,
            "/v1/auth/token",
            None,
            Some(json!({"tenant": "acme", "email": app.acme.owner_email, "password": "wrong password 1"})),
        )
        .await
    };
    for _ in 0..4 {
        assert_eq!(attempt().await.status(), StatusCode::UNAUTHORIZED);
    }
    let res = attempt().await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&res, "ratelimit-policy"), r#""ip";q=4;w=40"#);
    let retry: u64 = header(&res, "retry-after").parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    assert_eq!(problem(res).await["limit"]["policy"], "ip");
    // The console's sign-in is the same door.
    let res = app
        .client
        .post(app.url("/api/auth/login"))
        .header("origin", app.url(""))
        .form(&[
            ("tenant", "acme"),
            ("email", "x@acme.test"),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // A refused flood costs nothing more: still refused, and the right password too.
    for _ in 0..20 {
        assert_eq!(attempt().await.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let res = app
        .token_response("acme", &app.acme.owner_email, crate::helpers::PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_unreachable_limit_store_serves_reads_and_refuses_sign_in() {
    let app = limited_app().await;
    let token = app.owner_token(&app.acme).await;
    assert_eq!(
        app.get("/v1/me", Some(&token)).await.status(),
        StatusCode::OK
    );
    // The store goes away (as if the database refused it).
    let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
    sqlx::query("revoke execute on function tenantry_rate_take(text[], bigint[], integer[], integer[]) from tenantry_app")
        .execute(&mut conn)
        .await
        .unwrap();
    app.db.limiter().forget_buckets();

    let served = r#"rate_limit_store_unavailable_total{outcome="served"}"#;
    let before = counted(&app, served).await;
    for _ in 0..5 {
        let res = app.get("/v1/me", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK, "reads fail open");
        assert!(res.headers().get("ratelimit").is_none());
    }
    assert!(
        counted(&app, served).await >= before + 5.0,
        "counted on /metrics"
    );
    let res = app
        .token_response("acme", &app.acme.owner_email, crate::helpers::PASSWORD)
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "sign-in fails closed"
    );
    assert_eq!(res.headers()["retry-after"], "5");
    assert_eq!(problem(res).await["code"], "limits_unavailable");
    let refused = r#"rate_limit_store_unavailable_total{outcome="refused"}"#;
    assert!(counted(&app, refused).await >= 1.0);

    sqlx::query("grant execute on function tenantry_rate_take(text[], bigint[], integer[], integer[]) to tenantry_app")
        .execute(&mut conn)
        .await
        .unwrap();
    let res = app
        .token_response("acme", &app.acme.owner_email, crate::helpers::PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::OK, "back once the store is");
}

#[tokio::test]
async fn limits_off_send_no_headers_and_refuse_nothing() {
    let app = TestApp::spawn().await;
    let token = app.owner_token(&app.acme).await;
    for _ in 0..50 {
        let res = app.get("/v1/me", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get("ratelimit-policy").is_none());
    }
}

#[tokio::test]
async fn behind_trusted_proxies_each_client_has_its_own_bucket_and_cannot_borrow_another() {
    let app = TestApp::spawn_with_args(server::config::ServeArgs {
        rate_limits: true,
        anonymous_rate: 0.1,
        anonymous_burst: 2,
        // The tests' requests come from loopback: here, a proxy of ours.
        trusted_proxies: vec![server::config::Cidr::parse("127.0.0.0/8").unwrap()],
        ..serve_args()
    })
    .await;
    let attempt = |forwarded: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/v1/auth/token"))
                .header("x-forwarded-for", forwarded)
                .json(&json!({"tenant": "acme", "email": "nobody@acme.test", "password": "wrong password 1"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(attempt("198.51.100.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt("198.51.100.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt("198.51.100.1").await, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy has a bucket of its own.
    assert_eq!(attempt("198.51.100.2").await, StatusCode::UNAUTHORIZED);
    // What the client writes in front of the proxy's entry is not its address.
    assert_eq!(
        attempt("203.0.113.50, 198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // An IPv6 client counts by its /64.
    assert_eq!(attempt("2001:db8:1:2::1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        attempt("2001:db8:1:2::ffff").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt("2001:db8:1:2:aaaa::9").await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // Without trusted proxies the header is ignored: every attempt is loopback's.
    let direct = limited_app().await;
    let status = |forwarded: &'static str| {
        let app = &direct;
        async move {
            app.client
                .post(app.url("/v1/auth/token"))
                .header("x-forwarded-for", forwarded)
                .json(&json!({"tenant": "acme", "email": "nobody@acme.test", "password": "wrong password 1"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for i in 0..4 {
        assert_eq!(
            status(["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"][i]).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(status("192.0.2.5").await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_key_with_a_rate_of_its_own_is_limited_by_it_and_the_limit_can_be_lifted() {
    let app = limited_app().await;
    let owner = app.owner_token(&app.acme).await;
    let res = app
        .send(
            Method::POST,
            "/v1/api-keys",
            Some(&owner),
            Some(json!({"name": "slow", "scopes": ["*:read"], "rate_limit": {"rate": 0.1, "burst": 2}})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let key: Value = res.json().await.unwrap();
    assert_eq!(key["rate_limit"], json!({"rate": 0.1, "burst": 2}));
    let secret = key["secret"].as_str().unwrap().to_owned();
    let call = || async {
        app.client
            .get(app.url("/v1/me"))
            .header("x-api-key", &secret)
            .send()
            .await
            .unwrap()
    };
    for _ in 0..2 {
        assert_eq!(call().await.status(), StatusCode::OK);
    }
    let res = call().await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&res, "ratelimit-policy"), r#""api_key";q=2;w=20"#);
    let p = problem(res).await;
    assert_eq!(p["limit"]["policy"], "api_key");
    assert!(p["detail"].as_str().unwrap().contains("API key"), "{p}");
    // The owner's own requests (a session of the same identity) are not the key's.
    assert_eq!(
        app.get("/v1/me", Some(&owner)).await.status(),
        StatusCode::OK
    );

    // Bad rates are refused; removing the rate lifts the key's own limit at once.
    let id = key["id"].as_str().unwrap();
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/api-keys/{id}"),
            Some(&owner),
            Some(json!({"rate_limit": {"rate": -1, "burst": 0}})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = problem(res).await["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["rate_limit.rate", "rate_limit.burst"]);
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/api-keys/{id}"),
            Some(&owner),
            Some(json!({"rate_limit": null})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap()["rate_limit"],
        Value::Null
    );
    let res = call().await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header(&res, "ratelimit-policy").split(';').next(),
        Some(r#""user""#)
    );
}

#[tokio::test]
async fn a_disabled_identity_gets_401_not_its_buckets_state() {
    let app = limited_app().await;
    set_plan(&app, "pro", (1000.0, 1000), (0.1, 2), (1000.0, 1000)).await;
    let owner = app.owner_token(&app.acme).await;
    let (id, email) = app.member(&app.acme, "viewer").await;
    let token = app.token("acme", &email).await;
    for _ in 0..2 {
        assert_eq!(
            app.get("/v1/me", Some(&token)).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        app.get("/v1/me", Some(&token)).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let res = app
        .send(
            Method::PATCH,
            &format!("/v1/identities/{id}"),
            Some(&owner),
            Some(json!({"status": "disabled"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Its token is refused as any unknown credential is: from its address's bucket, never
    // with a word of the identity's own (which would say the token was once good).
    let res = app.get("/v1/me", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get("retry-after").is_none());
    if let Some(policy) = res.headers().get("ratelimit-policy") {
        assert!(
            policy.to_str().unwrap().starts_with(r#""ip""#),
            "{policy:?}"
        );
    }
}

#[tokio::test]
async fn the_operator_sees_who_is_limited_now_the_top_consumers_and_a_tenant_its_refusals() {
    let app = limited_app().await;
    set_plan(&app, "pro", (1000.0, 1000), (0.1, 3), (1000.0, 1000)).await;
    let owner = app.owner_token(&app.acme).await;
    let (viewer_id, email) = app.member(&app.acme, "viewer").await;
    let viewer = app.token("acme", &email).await;
    let mut refused = 0;
    for _ in 0..8 {
        if app.get("/v1/me", Some(&viewer)).await.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
        }
    }
    assert_eq!(refused, 5);
    service::limits::usage::flush(&app.db).await.unwrap();

    let res = app
        .send(
            Method::GET,
            "/v1/admin/rate-limits",
            Some(crate::helpers::ADMIN_TOKEN),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["enforced"], true);
    assert_eq!(o["anonymous"], json!({"rate": 0.1, "burst": 4}));
    assert_eq!(o["plans"].as_array().unwrap().len(), 3);
    let limited = o["limited_now"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == json!(viewer_id))
        .unwrap_or_else(|| panic!("the viewer is not limited now: {o}"));
    assert_eq!(limited["kind"], "identity");
    assert_eq!(limited["tenant_slug"], "acme");
    assert_eq!(limited["burst"], 3);
    assert!(limited["retry_after_secs"].as_u64().unwrap() >= 1);
    let consumer = o["top_consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == json!(viewer_id))
        .unwrap_or_else(|| panic!("the viewer is no top consumer: {o}"));
    assert_eq!(
        (consumer["served"].as_i64(), consumer["refused"].as_i64()),
        (Some(3), Some(5))
    );
    let tenant = &o["tenants_by_refusals"][0];
    assert_eq!(tenant["tenant_slug"], "acme");
    assert_eq!(tenant["refused_last_24h"], 5);

    // The tenant admin sees its refusals of this hour.
    let mine: Value = app
        .get("/v1/limits", Some(&owner))
        .await
        .json()
        .await
        .unwrap();
    let hours = mine["last_24h"].as_array().unwrap();
    assert_eq!(hours.len(), 24);
    let sum = |k: &str| hours.iter().map(|h| h[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!(sum("refused"), 5);
    assert!(sum("served") >= 3);
    // ... and no other tenant's.
    let globex = app.owner_token(&app.globex).await;
    let theirs: Value = app
        .get("/v1/limits", Some(&globex))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        theirs["last_24h"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["refused"].as_i64().unwrap())
            .sum::<i64>(),
        0
    );
}
