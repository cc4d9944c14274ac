//! The embedded PostgreSQL cluster: used when no `DATABASE_URL` is given, and by the test
//! harness for its throwaway clusters.
//!
//! The cluster lives in a folder of its own. `initdb` runs once (as the unprivileged
//! `postgres` user when we run as root, since PostgreSQL refuses to run as root); the server
//! is started as our child on 127.0.0.1 with a free port and a password kept next to the
//! data, and stopped with a fast shutdown when we stop. If we die without stopping it, the
//! kernel sends it SIGINT (PR_SET_PDEATHSIG), so a crashed server leaves no orphan behind.
//! If it dies without us asking (killed, out of memory) after it was ready, it is started
//! again on the same port, a few times at most, and the pool reconnects.
//! If a cluster is already running on the folder (another `tenantry` command), it is reused
//! and left running.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

const SUPERUSER: &str = "tenantry";

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Throwaway cluster for tests: no fsync, no durability.
    pub ephemeral: bool,
}

#[derive(Debug)]
pub struct EmbeddedPostgres {
    dir: PathBuf,
    port: u16,
    password: String,
    /// Present when we started the server and must stop it.
    child: Option<ChildHandle>,
}

#[derive(Debug)]
struct ChildHandle {
    /// The running postmaster's pid (a new one after a restart).
    pid: Arc<AtomicI32>,
    /// Set once it was ready for connections: from then on an exit nobody asked for is
    /// answered with a restart.
    ready: Arc<AtomicBool>,
    /// Set when we stop it: its exit is then the end.
    stopping: Arc<AtomicBool>,
    /// Receives once the child has exited for good (a Mutex so the handle can live in a
    /// static).
    exited: std::sync::Mutex<mpsc::Receiver<()>>,
}

/// Restarts of a cluster that keeps dying are bounded: after this many within
/// [`RESTART_WINDOW`], it stays down and requests are answered 503.
const MAX_RESTARTS: usize = 5;
const RESTART_WINDOW: Duration = Duration::from_secs(600);

impl ChildHandle {
    fn wait_exit(&self, timeout: Duration) -> bool {
        self.exited
            .lock()
            .map(|rx| rx.recv_timeout(timeout).is_ok())
            .unwrap_or(true)
    }

    fn has_exited(&self) -> bool {
        self.exited
            .lock()
            .map(|rx| rx.try_recv().is_ok())
            .unwrap_or(true)
    }
}

struct RunAs {
    uid: u32,
    gid: u32,
}

fn run_as() -> Result<Option<RunAs>> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = std::env::var("TENANTRY_PG_USER").unwrap_or_else(|_| "postgres".into());
    let cname = std::ffi::CString::new(name.clone())?;
    // SAFETY: getpwnam returns NULL or a pointer to a static passwd record; we copy the two
    // integers out before any other call can overwrite it.
    let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
    if pw.is_null() {
        bail!(
            "running as root, PostgreSQL needs an unprivileged user to run as, and user {name:?} \
             does not exist (install postgresql-15 or set TENANTRY_PG_USER)"
        );
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(Some(RunAs { uid, gid }))
}

/// Finds the PostgreSQL server binaries: `TENANTRY_PG_BINDIR`, then the newest
/// `/usr/lib/postgresql/<version>/bin`, then `postgres` on PATH.
pub fn bindir() -> Result<PathBuf> {
    if let Ok(dir) = std::env::var("TENANTRY_PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if dir.join("postgres").exists() && dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    bail!(
        "PostgreSQL server binaries not found: install postgresql-15 (make run does) or set TENANTRY_PG_BINDIR"
    )
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn searchable(path: &Path, user: &RunAs) -> bool {
    let Ok(meta) = fs::metadata(path) else {
        return true;
    };
    let mode = meta.mode();
    if meta.uid() == user.uid {
        mode & 0o100 != 0
    } else if meta.gid() == user.gid {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

/// Creates the cluster folder and returns its real path. When we run as root inside a
/// folder the postgres user cannot enter (a checkout under /root, a 0700 temp folder),
/// the cluster lives under /var/lib/tenantry instead, and `dir` is a symlink to it: the
/// data folder still holds everything, and nothing of the caller's folders is loosened.
fn prepare_dir(dir: &Path, user: Option<&RunAs>) -> Result<PathBuf> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    let blocked = match user {
        Some(u) if !dir.exists() => {
            let parent = dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let parent = parent.canonicalize()?;
            parent.ancestors().any(|a| !searchable(a, u))
        }
        _ => false,
    };
    if blocked {
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .canonicalize()?;
        let digest = service::crypto::sha256(
            parent
                .join(dir.file_name().unwrap_or_default())
                .as_os_str()
                .as_encoded_bytes(),
        );
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let real = PathBuf::from("/var/lib/tenantry/embedded").join(name);
        fs::create_dir_all(&real).with_context(|| format!("create {}", real.display()))?;
        fs::set_permissions(&real, fs::Permissions::from_mode(0o755))?;
        std::os::unix::fs::symlink(&real, dir)
            .with_context(|| format!("link {} to {}", dir.display(), real.display()))?;
        tracing::info!(
            link = %dir.display(),
            cluster = %real.display(),
            "the data folder is closed to the postgres user; the cluster lives outside it, linked from it"
        );
    } else {
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    Ok(dir.canonicalize()?)
}

/// Every folder above `dir` must be searchable by the user PostgreSQL runs as.
fn check_reachable(dir: &Path, user: &RunAs) -> Result<()> {
    for ancestor in dir.ancestors().skip(1) {
        if !searchable(ancestor, user) {
            bail!(
                "the PostgreSQL data folder {} is inside {}, which the unprivileged postgres user \
                 cannot enter; set TENANTRY_DATA_DIR to a folder outside it (e.g. /var/lib/tenantry)",
                dir.display(),
                ancestor.display()
            );
        }
    }
    Ok(())
}

impl EmbeddedPostgres {
    /// Starts (initialising if needed) the cluster in `dir`, or attaches to the one already
    /// running there.
    pub fn start(dir: &Path, options: Options) -> Result<EmbeddedPostgres> {
        let bin = bindir()?;
        let user = run_as()?;
        let dir = prepare_dir(dir, user.as_ref())?;
        // Two processes starting on one folder take turns: the second finds the cluster
        // initialised and running, and attaches to it.
        let _lock = lock_folder(&dir)?;
        let pgdata = dir.join("data");
        let password_file = dir.join("superuser.password");
        if let Some(u) = &user {
            check_reachable(&pgdata, u)?;
        }

        if !pgdata.join("PG_VERSION").exists() {
            init(&bin, &dir, &pgdata, &password_file, user.as_ref())?;
        }
        let password = fs::read_to_string(&password_file)
            .with_context(|| format!("read {}", password_file.display()))?
            .trim()
            .to_owned();

        if let Some(port) = running_port(&pgdata) {
            tracing::info!(port, dir = %dir.display(), "attaching to the PostgreSQL cluster already running");
            return Ok(EmbeddedPostgres {
                dir,
                port,
                password,
                child: None,
            });
        }

        let port = free_port()?;
        let log_path = dir.join("postgres.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        if let Some(u) = &user {
            chown(&log_path, u)?;
        }
        let program = bin.join("postgres");
        let command = move || -> std::io::Result<Command> {
            let mut cmd = Command::new(&program);
            cmd.arg("-D")
                .arg(&pgdata)
                .args(["-p", &port.to_string()])
                .args(["-c", "listen_addresses=127.0.0.1"])
                .args(["-c", "unix_socket_directories="])
                .args(["-c", "max_connections=200"]);
            if options.ephemeral {
                cmd.args([
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ]);
            }
            cmd.stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log.try_clone()?);
            Ok(cmd)
        };
        let child = spawn_supervised(command, user)?;
        let pg = EmbeddedPostgres {
            dir,
            port,
            password,
            child: Some(child),
        };
        pg.wait_ready(&log_path)?;
        if let Some(child) = &pg.child {
            child.ready.store(true, Ordering::SeqCst);
        }
        tracing::info!(port, dir = %pg.dir.display(), "embedded PostgreSQL started");
        Ok(pg)
    }

    fn wait_ready(&self, log_path: &Path) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = &self.child
                && child.has_exited()
            {
                let log = fs::read_to_string(log_path).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                bail!("PostgreSQL exited during start-up:\n{}", tail.join("\n"));
            }
            // The postmaster writes "ready" into its pid file once it accepts connections
            // (before that, a client is told "the database system is starting up").
            if running_port(&self.dir.join("data")) == Some(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "PostgreSQL did not start within 60 s; see {}",
                    log_path.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pid of the postmaster we started and supervise, if we did.
    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.pid.load(Ordering::SeqCst))
    }

    /// A connection URL for `database` as the cluster's superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// Lets the application role log in with a password of its own (generated once into
    /// `app.password` beside the cluster), and returns the URL the server's pool connects
    /// with: as a role that is neither superuser nor owner of anything, a statement that
    /// found its way in could not `RESET ROLE` to one that is. Call after the migrations,
    /// which create the role.
    pub async fn app_url(&self, database: &str) -> Result<String> {
        use sqlx::Connection;
        let file = self.dir.join("app.password");
        let password = match fs::read_to_string(&file) {
            Ok(p) => p.trim().to_owned(),
            Err(_) => {
                let p = service::crypto::random_token::<24>();
                let mut f = fs::OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .write(true)
                    .mode(0o600)
                    .open(&file)
                    .with_context(|| format!("create {}", file.display()))?;
                writeln!(f, "{p}")?;
                p
            }
        };
        let mut conn = sqlx::PgConnection::connect(&self.url(database)).await?;
        // The password is a random token of URL-safe characters: nothing to escape.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "alter role {} with login password '{password}'",
            service::db::APP_ROLE
        )))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        Ok(format!(
            "postgres://{}:{password}@127.0.0.1:{}/{database}",
            service::db::APP_ROLE,
            self.port
        ))
    }

    /// Creates `database` unless it exists.
    pub async fn ensure_database(&self, database: &str) -> Result<()> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres")).await?;
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
                .bind(database)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            // The name is quoted as an identifier; it comes from our own configuration.
            let sql = format!("create database \"{}\"", database.replace('"', "\"\""));
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await?;
        Ok(())
    }

    /// Stops the cluster if we started it: fast shutdown (clients disconnected, data
    /// checkpointed), then an immediate one if it hangs.
    pub fn stop(&mut self) {
        let Some(child) = self.child.take() else {
            return;
        };
        child.stopping.store(true, Ordering::SeqCst);
        let pid = child.pid.load(Ordering::SeqCst);
        // SAFETY: sending a signal to our own child's pid.
        unsafe { libc::kill(pid, libc::SIGINT) };
        if !child.wait_exit(Duration::from_secs(30)) {
            tracing::warn!("PostgreSQL did not stop in 30 s; sending SIGQUIT");
            // SAFETY: as above.
            unsafe { libc::kill(child.pid.load(Ordering::SeqCst), libc::SIGQUIT) };
            child.wait_exit(Duration::from_secs(10));
        }
        tracing::info!("embedded PostgreSQL stopped");
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An exclusive lock on `<dir>/.lock`, released when the returned file is dropped.
fn lock_folder(dir: &Path) -> Result<fs::File> {
    use std::os::fd::AsRawFd;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join(".lock"))?;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        bail!(
            "cannot lock {}: {}",
            dir.display(),
            std::io::Error::last_os_error()
        );
    }
    Ok(file)
}

fn chown(path: &Path, user: &RunAs) -> Result<()> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
        .with_context(|| format!("chown {}", path.display()))
}

fn init(
    bin: &Path,
    dir: &Path,
    pgdata: &Path,
    password_file: &Path,
    user: Option<&RunAs>,
) -> Result<()> {
    tracing::info!(dir = %pgdata.display(), "initialising a new PostgreSQL cluster");
    let password = service::crypto::random_token::<24>();
    {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(password_file)?;
        writeln!(f, "{password}")?;
    }
    // initdb reads the password from a file the postgres user can read; it is removed after.
    let pwfile = dir.join(".initdb-pw");
    fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&pwfile)?
        .write_all(password.as_bytes())?;
    fs::create_dir_all(pgdata)?;
    fs::set_permissions(pgdata, fs::Permissions::from_mode(0o700))?;
    if let Some(u) = user {
        chown(&pwfile, u)?;
        chown(pgdata, u)?;
    }
    let mut cmd = Command::new(bin.join("initdb"));
    cmd.arg("-D")
        .arg(pgdata)
        .args([
            "-U",
            SUPERUSER,
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ])
        .arg(format!("--pwfile={}", pwfile.display()));
    if let Some(u) = user {
        cmd.uid(u.uid).gid(u.gid);
    }
    let out = cmd.output().context("run initdb")?;
    let _ = fs::remove_file(&pwfile);
    if !out.status.success() {
        let _ = fs::remove_dir_all(pgdata);
        bail!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The port of a live postmaster on `pgdata` that is ready for connections, from its
/// `postmaster.pid` (line 1: pid, line 4: port, line 8: status).
fn running_port(pgdata: &Path) -> Option<u16> {
    let pidfile = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    let lines: Vec<&str> = pidfile.lines().collect();
    if lines.get(7).map(|s| s.trim()) != Some("ready") {
        return None;
    }
    let pid: i32 = lines.first()?.trim().parse().ok()?;
    // A pid file left by a killed postmaster can name a pid that now belongs to another
    // program: the process must exist and be a postgres.
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    if !program.ends_with(b"postgres") && !program.starts_with(b"postgres") {
        return None;
    }
    lines.get(3)?.trim().parse().ok()
}

/// Starts the postmaster `command` builds from a thread that lives as long as it is
/// supervised, with PR_SET_PDEATHSIG so the child gets SIGINT if that thread (that is, this
/// process) dies. Once the child was ready, an exit nobody asked for (see
/// [`ChildHandle::stopping`]) starts it again after a pause, at most [`MAX_RESTARTS`] times
/// in [`RESTART_WINDOW`].
fn spawn_supervised(
    command: impl Fn() -> std::io::Result<Command> + Send + 'static,
    user: Option<RunAs>,
) -> Result<ChildHandle> {
    let prepare = move |mut cmd: Command| {
        if let Some(u) = &user {
            cmd.uid(u.uid).gid(u.gid);
        }
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Own process group: a Ctrl-C in the terminal reaches us, and we stop it in
                // order.
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        cmd
    };
    let pid = Arc::new(AtomicI32::new(0));
    let ready = Arc::new(AtomicBool::new(false));
    let stopping = Arc::new(AtomicBool::new(false));
    let (pid_tx, pid_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel();
    let (pid_w, ready_r, stopping_r) = (pid.clone(), ready.clone(), stopping.clone());
    std::thread::Builder::new()
        .name("embedded-postgres".into())
        .spawn(move || {
            let mut restarts: Vec<Instant> = Vec::new();
            let mut first = Some(pid_tx);
            loop {
                match command().and_then(|cmd| prepare(cmd).spawn()) {
                    Ok(mut child) => {
                        pid_w.store(child.id() as i32, Ordering::SeqCst);
                        if let Some(tx) = first.take() {
                            let _ = tx.send(Ok(()));
                        }
                        let status = child.wait();
                        if stopping_r.load(Ordering::SeqCst) || !ready_r.load(Ordering::SeqCst) {
                            break;
                        }
                        tracing::error!(?status, "embedded PostgreSQL exited unexpectedly");
                    }
                    Err(e) => {
                        if let Some(tx) = first.take() {
                            let _ = tx.send(Err(e));
                            return;
                        }
                        tracing::error!(error = %e, "embedded PostgreSQL could not be started again");
                    }
                }
                restarts.retain(|t| t.elapsed() < RESTART_WINDOW);
                if restarts.len() >= MAX_RESTARTS {
                    tracing::error!(
                        "embedded PostgreSQL died {MAX_RESTARTS} times in {} s; leaving it down",
                        RESTART_WINDOW.as_secs()
                    );
                    break;
                }
                restarts.push(Instant::now());
                // Its old backends notice the postmaster is gone and leave; a new one cannot
                // start while they still hold the shared memory.
                std::thread::sleep(Duration::from_millis(500 << restarts.len()));
                if stopping_r.load(Ordering::SeqCst) {
                    break;
                }
                tracing::warn!("starting embedded PostgreSQL again");
            }
            let _ = exit_tx.send(());
        })?;
    pid_rx
        .recv()
        .map_err(|_| anyhow!("the PostgreSQL spawner thread died"))?
        .context("start postgres")?;
    Ok(ChildHandle {
        pid,
        ready,
        stopping,
        exited: std::sync::Mutex::new(exit_rx),
    })
}
