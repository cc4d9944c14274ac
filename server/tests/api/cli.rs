//! The `tenantry` binary: its subcommands, and the embedded PostgreSQL it manages when no
//! DATABASE_URL is given (two servers side by side, graceful stop).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::fresh_database;

pub(crate) fn tenantry() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    // If the test process dies, the servers it started die with it (they stop their
    // PostgreSQL on SIGTERM as usual).
    // SAFETY: only prctl between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    for var in [
        "DATABASE_URL",
        "TENANTRY_ADDR",
        "TENANTRY_DATA_DIR",
        "TENANTRY_MASTER_KEY",
        "TENANTRY_ADMIN_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("TENANTRY_LOG", "warn");
    cmd
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["tenant", "create", "--help"],
        &["keys", "rotate", "--help"],
        &["keys", "rotate-master", "--help"],
    ] {
        let out = tenantry().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Usage: tenantry"), "{args:?}: {text}");
    }
    let serve = String::from_utf8(
        tenantry()
            .args(["serve", "--help"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for var in [
        "TENANTRY_ADDR",
        "TENANTRY_DATA_DIR",
        "DATABASE_URL",
        "TENANTRY_ADMIN_TOKEN",
        "TENANTRY_DEMO_PASSWORD",
    ] {
        assert!(serve.contains(var), "serve --help lists {var}");
    }
}

#[tokio::test]
async fn tenant_create_migrate_and_keys_rotate_on_a_database_url() {
    let url = fresh_database().await;
    let data = tempdir("cli");
    let run = |args: &[&str]| {
        tenantry()
            .args(args)
            .env("DATABASE_URL", &url)
            .env("TENANTRY_DATA_DIR", &data)
            .output()
            .unwrap()
    };
    let out = run(&["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(&[
        "tenant",
        "create",
        "--slug",
        "umbrella",
        "--name",
        "Umbrella",
        "--plan",
        "pro",
        "--owner-email",
        "alice@umbrella.test",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("owner password (shown once): "))
        .expect("the generated password is printed")
        .to_owned();

    let again = run(&[
        "tenant",
        "create",
        "--slug",
        "umbrella",
        "--name",
        "U",
        "--owner-email",
        "b@u.test",
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let out = run(&["keys", "rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("new signing key"));

    // The owner can sign in with the printed password on a server over that database (with
    // the master key the CLI made in the data directory: the owner's address is sealed).
    let spec = std::fs::read_to_string(std::path::Path::new(&data).join("master.key")).unwrap();
    let db = service::Db::connect(&url, 2)
        .await
        .unwrap()
        .with_master_key(service::crypto::MasterKey::parse(spec.trim()).unwrap());
    let caller = service::auth::login(
        &db,
        &service::Ctx::new(service::Principal::Anonymous, "cli-test"),
        service::auth::LoginInput {
            tenant: "umbrella".into(),
            email: "alice@umbrella.test".into(),
            password,
        },
        service::ctx::AuthMethod::AccessToken,
    )
    .await
    .unwrap();
    assert!(caller.is_owner());
    assert_eq!(caller.role_names(), ["owner"]);
    assert_eq!(caller.plan, service::ctx::Plan::PRO);
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tenantry-test-{}-{tag}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Served {
    child: Child,
    base: String,
}

async fn serve_embedded(data: &std::path::Path, password: &str) -> Served {
    serve_embedded_with(data, password, &[]).await
}

async fn serve_embedded_with(
    data: &std::path::Path,
    password: &str,
    env: &[(&str, &str)],
) -> Served {
    let port = free_port();
    let stdout = std::fs::File::create(data.join("stdout.log")).unwrap();
    let child = tenantry()
        .arg("serve")
        .envs(env.iter().copied())
        .env("TENANTRY_DATA_DIR", data)
        .env("TENANTRY_ADDR", format!("127.0.0.1:{port}"))
        .env("TENANTRY_DEMO_PASSWORD", password)
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(res) = reqwest::get(format!("{base}/readyz")).await
            && res.status() == StatusCode::OK
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the embedded server did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Served { child, base }
}

fn terminate(mut served: Served) -> std::process::ExitStatus {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(served.child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn two_embedded_servers_run_side_by_side_and_stop_gracefully() {
    let (a, b) = (tempdir("embedded-a"), tempdir("embedded-b"));
    // One data folder is closed to other users (as a checkout under /root is): when run as
    // root, the cluster then lives outside it, linked from it.
    std::fs::set_permissions(&b, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let json_logs = [
        ("TENANTRY_LOG_FORMAT", "json"),
        ("TENANTRY_LOG", "info,sqlx=warn"),
    ];
    let (one, two) = tokio::join!(
        serve_embedded_with(&a, "demo password one", &json_logs),
        serve_embedded(&b, "demo password two")
    );
    let client = reqwest::Client::new();
    for (served, password) in [(&one, "demo password one"), (&two, "demo password two")] {
        let res = client
            .post(format!("{}/v1/auth/token", served.base))
            .json(&json!({"tenant": "demo", "email": "admin@demo.test", "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "the demo owner signs in on {}",
            served.base
        );
        let body: Value = res.json().await.unwrap();
        assert!(body["access_token"].is_string());
    }
    // JSON logs: every stdout line is a JSON object, and a request's lines carry its id.
    let res = client
        .get(format!("{}/v1/me", one.base))
        .header("x-request-id", "json-log-check-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The line is written once the response has gone; wait for it rather than for a time.
    let deadline = Instant::now() + Duration::from_secs(30);
    let logs = loop {
        let mut logs = std::fs::read_to_string(a.join("stdout.log")).unwrap();
        // Only whole lines: the server may be writing the next one.
        logs.truncate(logs.rfind('\n').map_or(0, |end| end + 1));
        if logs.contains("json-log-check-1") {
            break logs;
        }
        assert!(Instant::now() < deadline, "the request was never logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let request_line = lines
        .iter()
        .find(|l| l.to_string().contains("json-log-check-1"))
        .expect("the request is logged with its id");
    assert_eq!(request_line["span"]["request_id"], "json-log-check-1");
    assert_eq!(request_line["status"], 401);

    // Each has its own cluster and master key.
    assert!(
        a.join("postgres/data/PG_VERSION").exists() && b.join("postgres/data/PG_VERSION").exists()
    );
    assert!(a.join("master.key").exists());

    // The server's pool logs in as the application role, which is no superuser: what the
    // cluster sees connected to the database is that role only.
    let pg = a.join("postgres");
    let password = std::fs::read_to_string(pg.join("superuser.password")).unwrap();
    let pid_file = std::fs::read_to_string(pg.join("data/postmaster.pid")).unwrap();
    let port = pid_file.lines().nth(3).unwrap().trim();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&format!(
        "postgres://tenantry:{}@127.0.0.1:{port}/tenantry",
        password.trim()
    ))
    .await
    .unwrap();
    let users: Vec<String> = sqlx::query_scalar(
        "select distinct usename::text from pg_stat_activity
         where datname = 'tenantry' and backend_type = 'client backend'
           and pid <> pg_backend_pid()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(users, ["tenantry_app"]);
    let _ = <sqlx::PgConnection as sqlx::Connection>::close(conn).await;

    for (served, dir) in [(one, &a), (two, &b)] {
        let status = terminate(served);
        assert!(status.success(), "clean exit on SIGTERM: {status:?}");
        assert!(
            !dir.join("postgres/data/postmaster.pid").exists(),
            "the cluster was stopped"
        );
    }

    // A second start reuses the cluster and does not seed the demo tenant again.
    let again = serve_embedded(&a, "ignored now").await;
    let res = client
        .post(format!("{}/v1/auth/token", again.base))
        .json(
            &json!({"tenant": "demo", "email": "admin@demo.test", "password": "demo password one"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(terminate(again).success());
    for dir in [&a, &b] {
        if let Ok(real) = std::fs::canonicalize(dir.join("postgres"))
            && !real.starts_with(dir)
        {
            std::fs::remove_dir_all(real).unwrap();
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[tokio::test]
async fn one_time_links_stay_out_of_the_log() {
    let data = tempdir("links");
    let served = serve_embedded_with(
        &data,
        "links demo password 2026",
        &[("TENANTRY_LOG", "info,sqlx=warn")],
    )
    .await;
    let client = reqwest::Client::new();
    // Without SMTP, a reset mail is not sent: its link must not land in the log instead.
    let res = client
        .post(format!("{}/v1/auth/password-reset", served.base))
        .json(&serde_json::json!({"tenant": "demo", "email": "admin@demo.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    // And a visit to a link's page is logged without its token.
    let res = client
        .get(format!("{}/reset-password/pr1.do-not-log-me", served.base))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let logs = loop {
        let logs = std::fs::read_to_string(data.join("stdout.log")).unwrap();
        if logs.contains("mail not sent") && logs.contains("/reset-password/…") {
            break logs;
        }
        assert!(Instant::now() < deadline, "never logged:\n{logs}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!logs.contains("pr1."), "a reset token in the log:\n{logs}");
    assert!(!logs.contains("do-not-log-me"), "{logs}");
    let status = terminate(served);
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&data);
}
