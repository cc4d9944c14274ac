//! Rate limits with their buckets in Redis (`TENANTRY_REDIS_URL`; redis-server from Debian,
//! started here on loopback): the script's arithmetic is the reference GCRA's, two instances
//! share the buckets, the operator's view reads who is limited from Redis, and Redis going
//! away fails sign-in closed and reads open until it is back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::limits::{Limit, gcra, redis_store};

use crate::helpers::{ADMIN_TOKEN, TestApp, problem, serve_args};

/// A redis-server on loopback, stopped when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start_on(port: u16) -> Redis {
        let bin = ["/usr/bin/redis-server", "/usr/bin/valkey-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("redis-server is not installed: run `make deps` (scripts/install-system.sh)");
        let child = Command::new(bin)
            .args([
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--port",
            ])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Redis { child, port }
    }

    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Redis::start_on(port)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn the_redis_script_takes_exactly_what_the_reference_gcra_takes() {
    let redis = Redis::start();
    let conn = redis_store::connect(&redis.url()).await.unwrap();
    let limit = Limit {
        rate: 4.0,
        burst: 5,
    };
    let cost = limit.cost_us();
    let key = format!("test:{}", uuid::Uuid::now_v7());
    // A minute ahead of the real clock: the buckets expire when full again by Redis's own
    // clock, so the test's times must not be in its past.
    let base: i64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
        + 60_000_000;
    // Bursts, steady spending, refills, and a clock that steps back (another server's).
    let steps: [(i64, u32); 12] = [
        (0, 1),
        (0, 3),
        (0, 2),
        (10_000, 1),
        (250_000, 1),
        (260_000, 4),
        (200_000, 1),
        (1_500_000, 2),
        (1_500_000, 9),
        (9_000_000, 5),
        (9_000_001, 1),
        (8_000_000, 1),
    ];
    let mut tat = 0_i64;
    for (offset, want) in steps {
        let now = base + offset;
        let reference = gcra::take(limit, tat, now, want);
        let got = redis_store::take(
            &conn,
            &[(key.clone(), cost, limit.burst as i32, want as i32)],
            Some(now),
        )
        .await
        .unwrap()[0];
        assert_eq!(
            (
                got.granted,
                got.remaining,
                got.retry_after_us,
                got.full_in_us
            ),
            (
                i64::from(reference.granted),
                i64::from(reference.remaining),
                reference.retry_after_us,
                reference.full_in_us
            ),
            "at +{offset} µs wanting {want}"
        );
        tat = reference.tat;
    }
}

fn with_redis(url: &str) -> server::config::ServeArgs {
    server::config::ServeArgs {
        rate_limits: true,
        anonymous_rate: 0.1,
        anonymous_burst: 100,
        redis_url: Some(url.to_owned()),
        ..serve_args()
    }
}

#[tokio::test]
async fn two_instances_share_buckets_in_redis_and_the_operator_sees_who_is_limited() {
    let redis = Redis::start();
    let first = TestApp::spawn_with_args(with_redis(&redis.url())).await;
    let second = first.spawn_second_with_args(with_redis(&redis.url())).await;
    let res = first
        .send(
            Method::PUT,
            &format!("/v1/admin/tenants/{}/limits", first.acme.id),
            Some(ADMIN_TOKEN),
            Some(json!({"overrides": {"rates": {"user": {"rate": 0.1, "burst": 3}}}})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let (viewer_id, email) = first.member(&first.acme, "viewer").await;
    let token = first.token("acme", &email).await;
    // The second instance hears of the override before the run (the owner's requests show
    // it; the owner's bucket is not the viewer's).
    let owner = first.owner_token(&first.acme).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = second.get("/v1/me", Some(&owner)).await;
        if res.headers()["ratelimit-policy"] == r#""user";q=3;w=30"# {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second instance never applied it"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut statuses = Vec::new();
    for (n, app) in [&first, &second, &first, &second, &first]
        .into_iter()
        .enumerate()
    {
        let res = app.get("/v1/me", Some(&token)).await;
        let status = res.status();
        if n < 3 {
            assert_eq!(res.headers()["ratelimit-policy"], r#""user";q=3;w=30"#);
        }
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let o: Value = second
        .send(
            Method::GET,
            "/v1/admin/rate-limits",
            Some(ADMIN_TOKEN),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(o["store"], "redis");
    let limited = o["limited_now"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == json!(viewer_id))
        .unwrap_or_else(|| panic!("not limited now: {o}"));
    assert_eq!(limited["tenant_slug"], "acme");
    assert_eq!(limited["burst"], 3);
}

#[tokio::test]
async fn redis_gone_fails_sign_in_closed_and_reads_open_until_it_is_back() {
    let mut redis = Redis::start();
    let port = redis.port;
    let app = TestApp::spawn_with_args(with_redis(&redis.url())).await;
    let token = app.owner_token(&app.acme).await;
    assert_eq!(
        app.get("/v1/me", Some(&token)).await.status(),
        StatusCode::OK
    );

    redis.stop();
    app.db.limiter().forget_buckets();
    for _ in 0..3 {
        let res = app.get("/v1/me", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK, "reads fail open");
        assert!(res.headers().get("ratelimit").is_none());
    }
    let res = app
        .token_response("acme", &app.acme.owner_email, crate::helpers::PASSWORD)
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "sign-in fails closed"
    );
    assert_eq!(problem(res).await["code"], "limits_unavailable");

    let _back = Redis::start_on(port);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = app
            .token_response("acme", &app.acme.owner_email, crate::helpers::PASSWORD)
            .await;
        if res.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "never back: {}", res.status());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
