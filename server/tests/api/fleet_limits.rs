//! Rate limits across a fleet: three instances on loopback behind haproxy (the Debian
//! package) over one PostgreSQL. A client driving them at five times its rate is served no
//! more than the bound docs/api.md states (`burst + d × rate + N × lease`), and every
//! `RateLimit` and `RateLimit-Policy` header parses with a peer's structured-fields parser
//! (the `structured-headers` npm package, end2end/limits/parse-headers.mjs).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, serve_args};

/// A folder of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("tenantry-fleet-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// haproxy in front of `backends`, stopped when dropped.
struct Haproxy {
    child: Child,
    port: u16,
    _dir: Scratch,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn haproxy(backends: &[std::net::SocketAddr]) -> Haproxy {
    let bin = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("haproxy is not installed: run `make deps` (scripts/install-system.sh)");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = Scratch::new();
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, a)| format!("    server i{i} {a}\n"))
        .collect();
    let config = format!(
        "global\n    maxconn 2000\n\
         defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n\
         frontend fleet\n    bind 127.0.0.1:{port}\n    default_backend tenantry\n\
         backend tenantry\n    balance roundrobin\n{servers}"
    );
    let path = dir.0.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let child = Command::new(bin)
        .args(["-db", "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start haproxy");
    // Ready once it accepts connections.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "haproxy did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Haproxy {
        child,
        port,
        _dir: dir,
    }
}

#[tokio::test]
async fn three_instances_behind_haproxy_serve_a_client_at_five_times_its_rate_no_more_than_the_bound()
 {
    let limited = || server::config::ServeArgs {
        rate_limits: true,
        ..serve_args()
    };
    let first = TestApp::spawn_with_args(limited()).await;
    let second = first.spawn_second_with_args(limited()).await;
    let third = first.spawn_second_with_args(limited()).await;
    let instances = [&first, &second, &third];

    // A person's rate: 20 a second, 20 at once (the tenant's is far above it).
    let (rate, burst) = (20.0_f64, 20_u32);
    let res = first
        .send(
            Method::PUT,
            &format!("/v1/admin/tenants/{}/limits", first.acme.id),
            Some(ADMIN_TOKEN),
            Some(json!({"overrides": {"rates": {"user": {"rate": rate, "burst": burst}}}})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = first.owner_token(&first.acme).await;
    // Every instance has heard of the change before the run (each reads it on its first
    // request after the notification).
    for i in instances {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let res = i.get("/v1/me", Some(&token)).await;
            let policy = res.headers()["ratelimit-policy"]
                .to_str()
                .unwrap()
                .to_owned();
            if policy == format!(r#""user";q={burst};w=1"#) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "instance never applied it: {policy}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // What those checks spent refills before the run, and the instances forget the bucket
    // (so that afterwards, knowing it again says an instance served a share).
    tokio::time::sleep(Duration::from_secs_f64(f64::from(burst) / rate + 0.2)).await;
    for i in instances {
        i.db.limiter().forget_buckets();
    }

    let proxy = haproxy(&[first.addr, second.addr, third.addr]);
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/v1/me", proxy.port);
    // Five times the rate, for three seconds, paced whatever the answers' speed.
    let offered = 5.0 * rate;
    let count = (offered * 3.0) as usize;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / offered));
    for _ in 0..count {
        tick.tick().await;
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let res = client.get(url).bearer_auth(token).send().await.unwrap();
            let h = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
            (
                res.status(),
                h("ratelimit-policy"),
                h("ratelimit"),
                h("retry-after"),
            )
        }));
    }
    let mut answers = Vec::with_capacity(count);
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let span = started.elapsed().as_secs_f64();

    let served = answers.iter().filter(|a| a.0 == StatusCode::OK).count();
    let refused = answers
        .iter()
        .filter(|a| a.0 == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(served + refused, count, "only 200 and 429 answers");
    // The bound of docs/api.md: a lease here is one request (rate/20 = 1, burst/8 = 2).
    let lease = 1.0;
    let bound = f64::from(burst) + span * rate + 3.0 * lease;
    eprintln!(
        "fleet: {count} sent, {served} served, {refused} refused in {span:.2} s; bound {bound:.1}"
    );
    assert!(
        (served as f64) <= bound.ceil(),
        "{served} served in {span:.2} s; the bound is {bound:.1}"
    );
    assert!(
        served >= burst as usize,
        "{served} served: less than one burst"
    );
    if count as f64 >= 2.0 * bound {
        assert!(refused > 0, "nothing refused at five times the rate");
    }
    for a in answers
        .iter()
        .filter(|a| a.0 == StatusCode::TOO_MANY_REQUESTS)
    {
        let retry: u64 =
            a.3.as_deref()
                .expect("Retry-After on a 429")
                .parse()
                .unwrap();
        assert!(retry >= 1);
    }

    // Each instance served its share (haproxy took turns).
    let bucket = service::limits::BucketKey::Identity(first.acme.id, first.acme.owner_id);
    for (n, i) in instances.iter().enumerate() {
        assert!(i.db.limiter().knows(bucket), "instance {n} served nothing");
    }

    // Every header, through a peer's structured-fields parser.
    let pairs: Vec<Value> = answers
        .iter()
        .map(|a| {
            json!({
                "policy": a.1.as_deref().expect("RateLimit-Policy on every answer"),
                "now": a.2.as_deref().expect("RateLimit on every answer"),
            })
        })
        .collect();
    let dir = Scratch::new();
    let file = dir.0.join("headers.json");
    std::fs::write(&file, serde_json::to_vec(&pairs).unwrap()).unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("end2end/node_modules/structured-headers")
            .exists(),
        "structured-headers is not installed: run `make deps` (npm install in end2end/)"
    );
    let out = Command::new("node")
        .arg(root.join("end2end/limits/parse-headers.mjs"))
        .arg(&file)
        .output()
        .expect("run node");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(said.trim(), format!("parsed {count} user"));
}
