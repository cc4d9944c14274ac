//! The test harness: one throwaway PostgreSQL cluster per test binary (started with the
//! server's own embedded-cluster code), a migrated template database, and for each test a
//! fresh database cloned from it and a real server on a random port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use server::config::ServeArgs;
use server::embedded_pg::{EmbeddedPostgres, Options};
use service::Db;
use service::ctx::Plan;
use sqlx::Connection;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery staple";
pub const ADMIN_TOKEN: &str = "test-super-admin-token-0123456789";
const TEMPLATE: &str = "tenantry_template";
const APP_PASSWORD: &str = "tenantry-test-app-login";

/// `db_url` (the cluster's superuser) as the application's login role, which the test
/// servers' pools use, as `tenantry serve` does.
pub fn app_url(db_url: &str) -> String {
    let mut url = reqwest::Url::parse(db_url).unwrap();
    url.set_username("tenantry_app").unwrap();
    url.set_password(Some(APP_PASSWORD)).unwrap();
    url.to_string()
}

struct Cluster {
    pg: EmbeddedPostgres,
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        if std::env::var("TEST_LOG").is_ok() {
            server::telemetry::init(server::config::LogFormat::Text, "info,sqlx=warn");
        }
        let base = std::env::temp_dir();
        remove_stale_clusters(&base);
        let dir = base.join(format!("tenantry-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pg = EmbeddedPostgres::start(&dir, Options { ephemeral: true })
            .expect("start the test cluster");
        let url = pg.url("postgres");
        let template_url = pg.url(TEMPLATE);
        // The template is migrated once, on a runtime of its own (tests each have theirs).
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("create database {TEMPLATE}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                Db::migrate(&template_url)
                    .await
                    .expect("migrate the template database");
                // As in `tenantry serve` over the embedded cluster: the servers' pools log in
                // as the application role itself.
                let mut conn = sqlx::PgConnection::connect(&template_url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "alter role tenantry_app with login password '{APP_PASSWORD}'"
                )))
                .execute(&mut conn)
                .await
                .unwrap();
                conn.close().await.unwrap();
            })
        })
        .join()
        .expect("template set-up");
        Cluster { pg }
    })
}

/// Clusters of earlier test runs whose process is gone.
fn remove_stale_clusters(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some(pid) = name
            .strip_prefix("tenantry-test-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<i32>().ok())
        {
            let alive = PathBuf::from(format!("/proc/{pid}")).exists();
            if !alive {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// A fresh, migrated database; returns its URL (as the cluster's superuser).
pub async fn fresh_database() -> String {
    let cluster = cluster();
    let name = format!("t_{}", Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&cluster.pg.url("postgres"))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "create database {name} template {TEMPLATE}"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    cluster.pg.url(&name)
}

#[derive(Clone)]
pub struct TestTenant {
    pub id: Uuid,
    pub slug: String,
    pub owner_email: String,
    pub owner_id: Uuid,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: Db,
    pub db_url: String,
    pub client: reqwest::Client,
    pub acme: TestTenant,
    pub globex: TestTenant,
    pub master: service::crypto::MasterKey,
    /// The instance's console runtimes.
    pub renderers: server::renderers::Renderers,
    _server: tokio::task::JoinHandle<()>,
}

pub fn serve_args() -> ServeArgs {
    ServeArgs {
        addr: "127.0.0.1:0".parse().unwrap(),
        site_root: PathBuf::from("target/site"),
        admin_token: Some(ADMIN_TOKEN.into()),
        demo_password: None,
        seed_demo: false,
        cookie_secure: Some(false),
        access_token_ttl: 900,
        refresh_token_ttl: 3600,
        session_ttl: 3600,
        trust_proxy: false,
        trusted_proxies: vec![],
        smtp_url: None,
        mail_from: "Tenantry Tests <no-reply@tenantry.test>".into(),
        public_url: None,
        embeddings_url: None,
        embeddings_model: None,
        embeddings_key: None,
        embeddings_timeout: 10,
        event_retention_days: 30,
        // The tests' receivers listen on loopback; retries come after a second each.
        webhooks_allow_private: true,
        webhooks_timeout: 5,
        webhooks_retry_schedule: "1s,1s".into(),
        webhooks_workers: 0,
        sso_timeout: 10,
        sso_clock_skew: 60,
        // The tests' OpenID provider listens on loopback.
        sso_allow_private: true,
        mail_log_bodies: false,
        metrics_token: None,
        // The tests that are about limits turn them on; the others would trip them.
        rate_limits: false,
        anonymous_rate: 10.0,
        anonymous_burst: 30,
        redis_url: None,
        console_runtimes: 2,
        console_db_connections: 2,
        console_stall_secs: 10,
    }
}

/// A real SMTP server for the tests that send mail: maildev (from end2end/node_modules,
/// installed by `make deps`), one per test binary, on free loopback ports. A watcher ends
/// it when this test process ends. Tests tell their mails apart by recipient.
pub struct MailDev {
    pub smtp_port: u16,
    pub web_port: u16,
    /// The watcher shell; it ends maildev and itself when the test process is gone.
    _watcher: std::sync::Mutex<std::process::Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn maildev() -> &'static MailDev {
    static MAILDEV: OnceLock<MailDev> = OnceLock::new();
    MAILDEV.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let bin = root.join("end2end/node_modules/.bin/maildev");
        assert!(
            bin.exists(),
            "maildev is not installed: run `make deps` (npm install in end2end/)"
        );
        let log = peer_log("maildev");
        // maildev cannot bind a free port of its own choosing, so ports are chosen here; if
        // something takes one first, maildev exits and it starts again on others.
        for _ in 0..3 {
            let (smtp_port, web_port) = (free_port(), free_port());
            let script = format!(
                "'{}' --ip 127.0.0.1 --web-ip 127.0.0.1 -s {smtp_port} -w {web_port} >'{}' 2>&1 & m=$!; \
                 while kill -0 {pid} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null",
                bin.display(),
                log.display(),
                pid = std::process::id()
            );
            let mut watcher = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .stdin(std::process::Stdio::null())
                .spawn()
                .expect("start maildev");
            // Ready when its SMTP side greets and its API answers: a port that merely
            // accepts a connection could be another program's.
            let deadline = std::time::Instant::now() + PEER_START;
            while !(smtp_greets(smtp_port) && http_ok(web_port, "/api/email")) {
                if watcher.try_wait().ok().flatten().is_some() {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "maildev did not start within {PEER_START:?}; its output ({}):\n{}",
                    log.display(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            if watcher.try_wait().ok().flatten().is_some() {
                continue;
            }
            return MailDev {
                smtp_port,
                web_port,
                _watcher: std::sync::Mutex::new(watcher),
            };
        }
        panic!(
            "maildev exited three times on start; its output ({}):\n{}",
            log.display(),
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    })
}

/// Whether an SMTP server on `port` sends its `220` greeting.
fn smtp_greets(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let mut greeting = [0u8; 3];
    stream.read_exact(&mut greeting).is_ok() && &greeting == b"220"
}

/// Whether `GET path` on `port` answers 200.
fn http_ok(port: u16, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut status = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut status).is_ok()
        && status.starts_with(b"HTTP/1.")
        && &status[9..12] == b"200"
}

impl MailDev {
    pub fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.smtp_port)
    }

    /// The mails maildev received for `to`, waiting up to 60 s for at least `count` (mail
    /// goes out from a worker, which a busy machine may run late).
    pub async fn mails_to(&self, to: &str, count: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let all: Vec<Value> =
                reqwest::get(format!("http://127.0.0.1:{}/api/email", self.web_port))
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
            let mine: Vec<Value> = all
                .into_iter()
                .filter(|m| {
                    m["to"]
                        .as_array()
                        .is_some_and(|t| t.iter().any(|a| a["address"] == to))
                })
                .collect();
            if mine.len() >= count || std::time::Instant::now() > deadline {
                return mine;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// A real OpenID provider for the SSO tests: panva's `oidc-provider` (end2end/oidc/
/// provider.mjs), started once per test binary. Each test server registers a client of its
/// own through dynamic client registration.
pub struct OidcProvider {
    port: u16,
    /// The watcher shell; it ends the provider and itself when the test process is gone.
    _watcher: std::sync::Mutex<std::process::Child>,
}

pub fn oidc_provider() -> &'static OidcProvider {
    static PROVIDER: OnceLock<OidcProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let (port, watcher) = node_peer(
            "oidc-provider",
            "end2end/oidc/provider.mjs",
            "the OpenID provider",
        );
        OidcProvider {
            port,
            _watcher: std::sync::Mutex::new(watcher),
        }
    })
}

/// Starts `node <script> 0` from end2end/ (after checking that `make deps` installed
/// `package`) under a watcher shell that ends it when this test process ends, and waits
/// until it says where it listens: the peer binds a free port itself, so no other process
/// can take the port between a choice here and its bind. Its output goes to a log file
/// named in every failure.
#[allow(
    clippy::zombie_processes,
    reason = "the watcher lives as long as the test process, which never waits for it"
)]
fn node_peer(package: &str, script: &str, what: &str) -> (u16, std::process::Child) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("end2end/node_modules").join(package).exists(),
        "{package} is not installed: run `make deps` (npm install in end2end/)"
    );
    let log = peer_log(package);
    let shell = format!(
        "node '{}' 0 >'{}' 2>&1 & p=$!; \
         while kill -0 {pid} 2>/dev/null && kill -0 $p 2>/dev/null; do sleep 1; done; kill $p 2>/dev/null",
        root.join(script).display(),
        log.display(),
        pid = std::process::id()
    );
    let mut watcher = std::process::Command::new("sh")
        .arg("-c")
        .arg(shell)
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let deadline = std::time::Instant::now() + PEER_START;
    loop {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(port) = said
            .split_once("http://127.0.0.1:")
            .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse::<u16>().ok())
        {
            return (port, watcher);
        }
        if std::time::Instant::now() > deadline {
            let _ = watcher.kill();
            let _ = watcher.wait();
            panic!(
                "{what} did not start within {PEER_START:?}; its output ({}):\n{said}",
                log.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// How long a test peer may take to start on a busy machine.
const PEER_START: std::time::Duration = std::time::Duration::from_secs(60);

/// The log file of test peer `name` of this test process (earlier processes' are removed).
fn peer_log(name: &str) -> PathBuf {
    let base = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().to_string();
            if let Some(pid) = file
                .strip_prefix("tenantry-peer-")
                .and_then(|rest| rest.split('-').next())
                && !PathBuf::from(format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    base.join(format!("tenantry-peer-{}-{name}.log", std::process::id()))
}

impl OidcProvider {
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Registers a confidential client for `app` (RFC 7591): its client id and secret.
    pub async fn register(&self, app: &TestApp) -> (String, String) {
        let res = reqwest::Client::new()
            .post(format!("{}/reg", self.issuer()))
            .json(&json!({
                "redirect_uris": [app.url("/auth/oidc/callback")],
                "token_endpoint_auth_method": "client_secret_basic",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED, "client registration");
        let body: Value = res.json().await.unwrap();
        (
            body["client_id"].as_str().unwrap().to_owned(),
            body["client_secret"].as_str().unwrap().to_owned(),
        )
    }
}

/// The webhook receiver of the tests (end2end/webhooks/receiver.mjs): it verifies every
/// message with the official `standardwebhooks` npm package. One per test binary; tests
/// use endpoint names of their own.
pub struct Receiver {
    port: u16,
    /// The watcher shell; it ends the receiver and itself when the test process is gone.
    _watcher: std::sync::Mutex<std::process::Child>,
}

pub fn receiver() -> &'static Receiver {
    static RECEIVER: OnceLock<Receiver> = OnceLock::new();
    RECEIVER.get_or_init(|| {
        let (port, watcher) = node_peer(
            "standardwebhooks",
            "end2end/webhooks/receiver.mjs",
            "the webhook receiver",
        );
        Receiver {
            port,
            _watcher: std::sync::Mutex::new(watcher),
        }
    })
}

impl Receiver {
    /// The URL of endpoint `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/hook/{name}", self.port)
    }

    /// Sets the secrets endpoint `name` verifies with, and the status it answers.
    pub async fn configure(&self, name: &str, secrets: &[&str], status: u16, delay_ms: u64) {
        let res = reqwest::Client::new()
            .put(format!("http://127.0.0.1:{}/config/{name}", self.port))
            .json(&json!({"secrets": secrets, "status": status, "delay_ms": delay_ms}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }

    /// What endpoint `name` received, oldest first.
    pub async fn received(&self, name: &str) -> Vec<Value> {
        reqwest::get(format!("http://127.0.0.1:{}/received/{name}", self.port))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// What endpoint `name` received, once it is at least `count` messages (waiting up to
    /// `secs` seconds).
    pub async fn wait_for(&self, name: &str, count: usize, secs: u64) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let got = self.received(name).await;
            if got.len() >= count || std::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// The first `iv1.` invitation token in a mail's text.
pub fn invitation_token(mail: &Value) -> String {
    let text = mail["text"].as_str().unwrap();
    let start = text.find("/invite/iv1.").expect("an invitation link") + "/invite/".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect()
}

impl TestApp {
    /// A server on a random port over a fresh database holding two tenants, `acme` and
    /// `globex`, each with an owner whose password is [`PASSWORD`].
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with_key(service::crypto::MasterKey::generate().0).await
    }

    /// Like [`TestApp::spawn`], sealing secrets with `master` (for tests that start
    /// `tenantry serve` processes on the same database with its spec).
    pub async fn spawn_with_key(master: service::crypto::MasterKey) -> TestApp {
        TestApp::spawn_fresh(master, serve_args()).await
    }

    /// Like [`TestApp::spawn`], serving with `args` (its address and public URL are the
    /// test's own).
    pub async fn spawn_with_args(args: ServeArgs) -> TestApp {
        TestApp::spawn_fresh(service::crypto::MasterKey::generate().0, args).await
    }

    async fn spawn_fresh(master: service::crypto::MasterKey, args: ServeArgs) -> TestApp {
        let db_url = fresh_database().await;
        let db = Db::connect(&app_url(&db_url), 5)
            .await
            .expect("connect")
            .with_master_key(master.clone());
        let acme = create_tenant(&db, "acme", Plan::PRO).await;
        let globex = create_tenant(&db, "globex", Plan::FREE).await;
        TestApp::start_with_args(db_url, db, master, acme, globex, true, args).await
    }

    /// A second server instance on the same database and master key.
    pub async fn spawn_second(&self) -> TestApp {
        self.spawn_second_with_args(serve_args()).await
    }

    /// Another server instance on the same database and master key, serving with `args`.
    pub async fn spawn_second_with_args(&self, args: ServeArgs) -> TestApp {
        let db = Db::connect(&app_url(&self.db_url), 5)
            .await
            .expect("connect");
        TestApp::start_with_args(
            self.db_url.clone(),
            db,
            self.master.clone(),
            self.acme.clone(),
            self.globex.clone(),
            true,
            args,
        )
        .await
    }

    /// A second server instance on the same database whose memories are embedded by
    /// `provider` instead of the local model.
    pub async fn spawn_second_with_embedder(
        &self,
        provider: std::sync::Arc<dyn service::memories::embeddings::Provider>,
    ) -> TestApp {
        let db = Db::connect(&app_url(&self.db_url), 5)
            .await
            .expect("connect")
            .with_embedder(provider);
        TestApp::start(
            self.db_url.clone(),
            db,
            self.master.clone(),
            self.acme.clone(),
            self.globex.clone(),
        )
        .await
    }

    /// Like [`TestApp::spawn`], with the mail sender delivering to [`maildev`].
    pub async fn spawn_with_mail() -> TestApp {
        let app = TestApp::spawn().await;
        let mailer = server::workers::mail::Mailer::new(
            Some(&maildev().smtp_url()),
            "Tenantry Tests <no-reply@tenantry.test>",
            &app.url(""),
        )
        .unwrap();
        server::workers::mail::spawn_mailer(app.db.clone(), mailer);
        app
    }

    async fn start(
        db_url: String,
        db: Db,
        master: service::crypto::MasterKey,
        acme: TestTenant,
        globex: TestTenant,
    ) -> TestApp {
        TestApp::start_with_args(db_url, db, master, acme, globex, true, serve_args()).await
    }

    /// A second server instance on the same database whose webhooks may not reach
    /// private addresses (as in production).
    pub async fn spawn_second_guarded(&self) -> TestApp {
        let db = Db::connect(&app_url(&self.db_url), 5)
            .await
            .expect("connect");
        TestApp::start_with_args(
            self.db_url.clone(),
            db,
            self.master.clone(),
            self.acme.clone(),
            self.globex.clone(),
            false,
            serve_args(),
        )
        .await
    }

    /// Runs this instance's webhook deliverer (two loops) until the test ends.
    pub fn start_webhook_worker(&self) -> tokio::task::JoinHandle<()> {
        server::workers::webhooks::spawn(self.db.clone(), 2)
    }

    async fn start_with_args(
        db_url: String,
        db: Db,
        master: service::crypto::MasterKey,
        acme: TestTenant,
        globex: TestTenant,
        allow_private: bool,
        args: ServeArgs,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Links in mails and the SSO callback name the address the server really has.
        let args = ServeArgs {
            public_url: Some(format!("http://{addr}")),
            ..args
        };
        let mut webhooks = args.webhook_settings().unwrap();
        webhooks.allow_private = allow_private;
        let db = db
            .with_webhooks(webhooks)
            .with_sso(args.sso_settings())
            .with_limiter(args.limiter().await.unwrap())
            .with_master_key(master.clone());
        let state = server::startup::build_state(db.clone(), master.clone(), args)
            .await
            .unwrap();
        let renderers = state.renderers.clone();
        let router = server::startup::build_router(state);
        // Like `tenantry serve`, each instance listens for access-control changes.
        let _cache_listener = server::workers::spawn_cache_listener(db.clone());
        // ... and seals the audit records it commits.
        let _audit_sealer = server::workers::spawn_audit_sealer(db.clone());
        // ... and adds up what its rate limits served and refused.
        let _usage_flush = server::workers::spawn_usage_flush(db.clone());
        // ... and makes the exports of personal data asked of any instance.
        let _exports = server::workers::spawn_exports(db.clone());
        // ... and applies the tenants' retention.
        let _retention = server::workers::spawn_retention(db.clone());
        // ... and runs the tenants' key jobs.
        let _key_jobs = server::workers::spawn_key_jobs(db.clone());
        let server = tokio::spawn(async move {
            server::startup::serve(listener, router, std::future::pending())
                .await
                .unwrap();
        });
        TestApp {
            addr,
            db,
            db_url,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            acme,
            globex,
            master,
            renderers,
            _server: server,
        }
    }

    /// Waits (up to 10 s) for this instance's cache listener to be connected: before that
    /// its caches keep nothing.
    pub async fn listening(&self) {
        let start = std::time::Instant::now();
        while !(self.db.callers().online()
            && self.db.authz().online()
            && self.db.keyring().online())
        {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "the listener never connected"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Calls the server function at `path` (no arguments) as `client`'s browser would, and
    /// returns its JSON answer.
    pub async fn server_fn(&self, client: &reqwest::Client, path: &str) -> Value {
        client
            .post(self.url(path))
            .header("origin", self.url(""))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Creates an identity in `tenant` holding the role named `role` and the test password,
    /// via the service.
    pub async fn member(&self, tenant: &TestTenant, role: &str) -> (Uuid, String) {
        let email = format!("{}-{}@{}.test", role, Uuid::now_v7().simple(), tenant.slug);
        let ctx = owner_ctx(&self.db, tenant).await;
        let identity = service::identities::create(
            &ctx,
            &self.db,
            service::identities::NewIdentity {
                email: Some(email.clone()),
                display_name: Some(format!("A {role}")),
                roles: Some(vec![role.to_owned()]),
                password: Some(PASSWORD.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        (identity.id, email)
    }

    pub async fn token_response(&self, tenant: &str, email: &str, password: &str) -> Response {
        self.client
            .post(self.url("/v1/auth/token"))
            .json(&json!({"tenant": tenant, "email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// An access token for `email` in `tenant` (password [`PASSWORD`]).
    pub async fn token(&self, tenant: &str, email: &str) -> String {
        let res = self.token_response(tenant, email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "sign-in of {email} failed");
        let body: Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn owner_token(&self, tenant: &TestTenant) -> String {
        self.token(&tenant.slug, &tenant.owner_email).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    /// Tokens of those who may read the tenant's settings but not change them: an admin,
    /// a viewer (of acme) and an API key of `owner`'s that may only read settings.
    pub async fn settings_outsiders(&self, owner: &str) -> [String; 3] {
        let (_, admin) = self.member(&self.acme, "admin").await;
        let (_, viewer) = self.member(&self.acme, "viewer").await;
        let key: Value = self
            .send(
                reqwest::Method::POST,
                "/v1/api-keys",
                Some(owner),
                Some(json!({"name": "settings reader", "scopes": ["settings:read"]})),
            )
            .await
            .json()
            .await
            .unwrap();
        [
            self.token(&self.acme.slug, &admin).await,
            self.token(&self.acme.slug, &viewer).await,
            key["secret"].as_str().unwrap().to_owned(),
        ]
    }

    /// A console session: signs in through the login server function like a browser
    /// without JavaScript would, and returns a client that keeps the cookie.
    pub async fn console_session(&self, tenant: &str, email: &str) -> reqwest::Client {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = client
            .post(self.url("/api/auth/login"))
            .header("origin", self.url(""))
            .form(&[("tenant", tenant), ("email", email), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success() || res.status().is_redirection(),
            "console login: {}",
            res.status()
        );
        client
    }
}

async fn create_tenant(db: &Db, slug: &str, plan: Plan) -> TestTenant {
    let owner_email = format!("owner@{slug}.test");
    let created = service::tenants::create(
        &service::Ctx::system(),
        db,
        service::tenants::NewTenant {
            slug: slug.into(),
            name: format!("{slug} Inc."),
            plan: Some(plan.as_str().to_owned()),
            owner_email: owner_email.clone(),
            owner_password: Some(PASSWORD.into()),
        },
    )
    .await
    .unwrap();
    TestTenant {
        id: created.tenant.id,
        slug: slug.into(),
        owner_email,
        owner_id: created.owner.id,
    }
}

/// A `Ctx` acting as the tenant's owner, for calling the service directly.
pub async fn owner_ctx(db: &Db, tenant: &TestTenant) -> service::Ctx {
    member_ctx(db, tenant.id, tenant.owner_id).await
}

pub async fn member_ctx(db: &Db, tenant_id: Uuid, identity_id: Uuid) -> service::Ctx {
    let caller = service::auth::load_caller(
        db,
        tenant_id,
        identity_id,
        service::ctx::AuthMethod::Session,
    )
    .await
    .unwrap()
    .expect("active identity");
    service::Ctx::new(
        service::Principal::Member(Box::new(caller)),
        format!("test-{}", Uuid::now_v7()),
    )
}

/// Reads a problem+json body and checks its media type.
pub async fn problem(res: Response) -> Value {
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    res.json().await.unwrap()
}

/// An OpenAI-compatible embeddings endpoint on a loopback port, as a peer for the HTTP
/// provider: `POST /v1/embeddings` answers 8-dimensional bag-of-words vectors (the same
/// words give the same vector). It can be told to fail (500) or to answer slowly.
pub struct EmbeddingPeer {
    pub url: String,
    pub requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl EmbeddingPeer {
    pub async fn start() -> EmbeddingPeer {
        use std::sync::atomic::Ordering;
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let delay_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (r, f, d) = (requests.clone(), failing.clone(), delay_ms.clone());
        let handler = move |axum::Json(body): axum::Json<Value>| {
            let (r, f, d) = (r.clone(), f.clone(), d.clone());
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                let delay = d.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                }
                if f.load(Ordering::SeqCst) {
                    return (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(json!({"error": "down"})),
                    );
                }
                let data: Vec<Value> = body["input"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": bag_of_words(t.as_str().unwrap_or_default())}))
                    .collect();
                (
                    axum::http::StatusCode::OK,
                    axum::Json(json!({"object": "list", "model": body["model"], "data": data})),
                )
            }
        };
        let router = axum::Router::new().route("/v1/embeddings", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        EmbeddingPeer {
            url: format!("http://{addr}/v1"),
            requests,
            failing,
            delay_ms,
        }
    }
}

fn bag_of_words(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; 8];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let h = word.to_lowercase().bytes().fold(2166136261u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(16777619)
        });
        v[(h % 8) as usize] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        v[0] = 1.0;
        return v;
    }
    v.iter().map(|x| x / norm).collect()
}
