//! Configuration: command-line flags, each with its `TENANTRY_*` environment variable.
//! Secrets are read from the environment and never printed (`hide_env_values`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tenantry",
    version,
    about = "Multi-tenant identity, access-control and memory platform"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// PostgreSQL URL. Without it, Tenantry runs its own cluster in the data folder.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// With DATABASE_URL: the URL the server's pool connects with, as a login role that is
    /// neither superuser nor owner of the tables and may `SET ROLE tenantry_app` (or is
    /// it). Unset, the pool uses DATABASE_URL and switches role, which a statement that
    /// found its way in could undo (`RESET ROLE`). The embedded cluster needs none: it
    /// gives `tenantry_app` a login of its own.
    #[arg(
        long,
        env = "TENANTRY_APP_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub app_database_url: Option<String>,

    /// Folder for the embedded PostgreSQL cluster and the generated master key.
    #[arg(
        long,
        env = "TENANTRY_DATA_DIR",
        default_value = ".tenantry",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Master key(s) sealing secrets at rest: base64 of 32 bytes, or `2:<b64>,1:<b64>`
    /// (the first seals, all open). Default: generated once into `<data-dir>/master.key`.
    #[arg(
        long,
        env = "TENANTRY_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub master_key: Option<String>,

    /// Log format: `text`, or `json` (one JSON object per line).
    #[arg(long, env = "TENANTRY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Log filter (tracing EnvFilter syntax).
    #[arg(
        long,
        env = "TENANTRY_LOG",
        default_value = "info,sqlx=warn,tower_sessions=warn",
        global = true
    )]
    pub log: String,

    /// Largest number of pooled database connections.
    #[arg(
        long,
        env = "TENANTRY_DB_MAX_CONNECTIONS",
        default_value_t = 20,
        global = true
    )]
    pub db_max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once at start-up: the size of the `serve` variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the console and the API (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage keys: JWT signing keys, and the master key's rotation.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and its owner; prints the owner's one-time password.
    Create(TenantCreateArgs),
}

#[derive(Debug, Args)]
pub struct TenantCreateArgs {
    /// URL-safe identifier, e.g. `acme`.
    #[arg(long)]
    pub slug: String,
    /// Display name, e.g. "Acme Corp".
    #[arg(long)]
    pub name: String,
    /// The plan's name: `free`, `pro`, `enterprise`, or one the operator made.
    #[arg(long, default_value = "free")]
    pub plan: String,
    /// Email of the tenant's first owner.
    #[arg(long)]
    pub owner_email: String,
    /// The owner's password; generated and printed once when absent.
    #[arg(long, env = "TENANTRY_OWNER_PASSWORD", hide_env_values = true)]
    pub owner_password: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new JWT signing key and retire the current one. Tokens it signed keep
    /// verifying until they expire; running servers pick the new key up on their next
    /// unknown `kid` or restart.
    Rotate,
    /// Seal everything the master key seals (each tenant's keys, the signing keys, webhook
    /// and SSO secrets, queued mail) again under the first key of `TENANTRY_MASTER_KEY`.
    /// Put the new key first (`2:<new>,1:<old>`), run this, then drop the old key. Rows
    /// sealed under tenants' and people's keys are not touched. Safe to run again, and
    /// while servers run.
    RotateMaster,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TENANTRY_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Folder of the built console (wasm, JS, CSS, assets).
    #[arg(long, env = "TENANTRY_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Bearer token of the super-admin, who manages tenants through /v1/admin. Unset: off.
    #[arg(long, env = "TENANTRY_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Password of admin@demo.test when the demo tenant is created (first start only).
    #[arg(long, env = "TENANTRY_DEMO_PASSWORD", hide_env_values = true)]
    pub demo_password: Option<String>,

    /// Create the demo tenant on first start.
    #[arg(long, env = "TENANTRY_SEED_DEMO", default_value_t = true, action = clap::ArgAction::Set)]
    pub seed_demo: bool,

    /// Mark cookies Secure. Default: on, unless listening on a loopback address without
    /// TENANTRY_TRUST_PROXY or TENANTRY_TRUSTED_PROXIES (behind a proxy, the browser talks
    /// HTTPS to the proxy).
    #[arg(long, env = "TENANTRY_COOKIE_SECURE", action = clap::ArgAction::Set)]
    pub cookie_secure: Option<bool>,

    /// Lifetime of API access tokens, in seconds.
    #[arg(long, env = "TENANTRY_ACCESS_TOKEN_TTL", default_value_t = 900)]
    pub access_token_ttl: i64,

    /// Lifetime of API refresh tokens, in seconds.
    #[arg(long, env = "TENANTRY_REFRESH_TOKEN_TTL", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl: i64,

    /// Idle lifetime of console sessions, in seconds.
    #[arg(long, env = "TENANTRY_SESSION_TTL", default_value_t = 12 * 3600)]
    pub session_ttl: i64,

    /// Trust the last address of X-Forwarded-For (the one the proxy in front added) as the
    /// client's, whoever sent the request (behind one proxy only; prefer
    /// TENANTRY_TRUSTED_PROXIES).
    #[arg(long, env = "TENANTRY_TRUST_PROXY", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_proxy: bool,

    /// The proxies in front of this server, as CIDRs (`10.0.0.0/8,2001:db8::/32`): from a
    /// request one of them sent, the client is the right-most X-Forwarded-For address that is
    /// not one of them. Used for rate limits, throttles, sessions and the audit trail.
    #[arg(long, env = "TENANTRY_TRUSTED_PROXIES", value_delimiter = ',', value_parser = Cidr::parse)]
    pub trusted_proxies: Vec<Cidr>,

    /// SMTP server for outgoing mail: `smtp://host:port` (plain), `smtp+starttls://` or
    /// `smtps://`, with optional `user:password@`. Unset: mail is not sent; the log names
    /// its recipient and subject, and the console's outbox shows an invitation's link to
    /// those who may invite (a reset link to nobody).
    #[arg(long, env = "TENANTRY_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing mail.
    #[arg(
        long,
        env = "TENANTRY_MAIL_FROM",
        default_value = "Tenantry <no-reply@tenantry.local>"
    )]
    pub mail_from: String,

    /// The address people reach this server at, for links in mail
    /// (`https://id.example.com`). Default: `http://` and the listen address.
    #[arg(long, env = "TENANTRY_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// An OpenAI-compatible embeddings endpoint (`https://api.openai.com/v1` or its
    /// `/embeddings`). Unset: memories are embedded in process by the local
    /// all-MiniLM-L6-v2 model. Changing the model re-embeds stored memories.
    #[arg(long, env = "TENANTRY_EMBEDDINGS_URL")]
    pub embeddings_url: Option<String>,

    /// The model to ask the endpoint for (e.g. `text-embedding-3-small`).
    #[arg(long, env = "TENANTRY_EMBEDDINGS_MODEL")]
    pub embeddings_model: Option<String>,

    /// The endpoint's API key, sent as a bearer token.
    #[arg(long, env = "TENANTRY_EMBEDDINGS_KEY", hide_env_values = true)]
    pub embeddings_key: Option<String>,

    /// Seconds one embeddings request may take before it is abandoned (and retried).
    #[arg(long, env = "TENANTRY_EMBEDDINGS_TIMEOUT", default_value_t = 10)]
    pub embeddings_timeout: u64,

    /// Days events stay readable at /v1/events before the cleanup removes them (1-3650).
    #[arg(long, env = "TENANTRY_EVENT_RETENTION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub event_retention_days: u32,

    /// Let webhooks reach private, loopback and link-local addresses (local use and tests
    /// only: otherwise a tenant could make this server call its own network).
    #[arg(long, env = "TENANTRY_WEBHOOKS_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhooks_allow_private: bool,

    /// Seconds one webhook attempt may take, connection included (1-60).
    #[arg(long, env = "TENANTRY_WEBHOOKS_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=60))]
    pub webhooks_timeout: u64,

    /// The waits between attempts of a failing delivery (`5s,5m,...`; units ms, s, m, h,
    /// d); when they run out the delivery has failed, and a webhook that failed all along
    /// is disabled.
    #[arg(long, env = "TENANTRY_WEBHOOKS_RETRY_SCHEDULE", default_value = service::webhooks::DEFAULT_SCHEDULE)]
    pub webhooks_retry_schedule: String,

    /// Delivery loops of this instance (each holds a database connection while it works;
    /// 0-64, and 0: this instance delivers nothing).
    #[arg(long, env = "TENANTRY_WEBHOOKS_WORKERS", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(0..=64))]
    pub webhooks_workers: u64,

    /// A bearer token `/metrics` asks for (`Authorization: Bearer ...`); unset, the
    /// metrics are open (bind to a private address, or set this).
    #[arg(long, env = "TENANTRY_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Without TENANTRY_SMTP_URL, write whole mails to the log, their one-time links (a
    /// password reset link is a credential) included. Off: the log names the recipient and
    /// the subject only.
    #[arg(long, env = "TENANTRY_MAIL_LOG_BODIES", default_value_t = false, action = clap::ArgAction::Set)]
    pub mail_log_bodies: bool,

    /// Seconds one request to an SSO identity provider may take (discovery, keys, the code
    /// exchange, userinfo), connection included (1-120).
    #[arg(long, env = "TENANTRY_SSO_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=120))]
    pub sso_timeout: u64,

    /// Let SSO provider URLs (an issuer and the endpoints its discovery document names)
    /// reach private, loopback and link-local addresses (local use and tests only).
    #[arg(long, env = "TENANTRY_SSO_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub sso_allow_private: bool,

    /// Seconds an identity provider's clock may differ from this server's when its ID
    /// tokens are checked: a token is accepted until `exp` plus this, and refused when its
    /// `iat` is further than this in the future (0-600).
    #[arg(long, env = "TENANTRY_SSO_CLOCK_SKEW", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(0..=600))]
    pub sso_clock_skew: u64,

    /// Rate limits (`true`/`false`): each tenant's requests, each identity's (by kind, from
    /// the tenant's plan) and each address's before sign-in; see docs/api.md.
    #[arg(long, env = "TENANTRY_RATE_LIMITS", default_value_t = true, action = clap::ArgAction::Set)]
    pub rate_limits: bool,

    /// Keep the rate limits' buckets in Redis or Valkey (`redis://host:6379/0`) instead of
    /// PostgreSQL; the same algorithm, one script per check. Unset: PostgreSQL.
    #[arg(long, env = "TENANTRY_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Requests a second one client address may make before it signs in (sign-in, token,
    /// password reset, invitations, SSO); an IPv6 address counts by its /64.
    #[arg(long, env = "TENANTRY_ANONYMOUS_RATE", default_value_t = 10.0,
          value_parser = positive_rate)]
    pub anonymous_rate: f64,

    /// How many of those requests one address may make at once (1-100000).
    #[arg(long, env = "TENANTRY_ANONYMOUS_BURST", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub anonymous_burst: u32,

    /// Runtimes that render the console, apart from the API's, each with one thread (so a
    /// render never runs on two threads at once); a stalled one is skipped while the others
    /// serve (1-16).
    #[arg(long, env = "TENANTRY_CONSOLE_RUNTIMES", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=16))]
    pub console_runtimes: u16,

    /// Largest number of database connections each console runtime holds (a pool of its own,
    /// opened as needed; 1-100).
    #[arg(long, env = "TENANTRY_CONSOLE_DB_CONNECTIONS", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub console_db_connections: u32,

    /// Seconds a console runtime may go without answering before it counts as stalled:
    /// `/readyz` then answers 503 and it gets no new requests (1-600).
    #[arg(long, env = "TENANTRY_CONSOLE_STALL_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub console_stall_secs: u64,
}

/// A block of addresses: an address and how many of its leading bits count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: std::net::IpAddr,
    bits: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `2001:db8::/32`, or one address (`192.0.2.7`).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let addr: std::net::IpAddr = addr.parse().map_err(|_| {
            format!("{s:?} is not an address or a CIDR block (10.0.0.0/8, ::1/128)")
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, bits })
    }

    /// Whether `ip` is in the block (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let masked = |v: u128, width: u32| {
            let keep = u32::from(self.bits);
            if keep == 0 { 0 } else { v >> (width - keep) }
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), 32) == masked(u128::from(u32::from(ip)), 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128) == masked(u128::from(ip), 128)
            }
            _ => false,
        }
    }
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 1_000_000.0 => Ok(r),
        _ => Err("a number of requests a second, above 0 and at most 1000000".into()),
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        let cli = Cli::parse_from(["tenantry", "serve"]);
        match cli.command {
            Some(Command::Serve(args)) => args,
            _ => unreachable!("parsing `serve` yields serve arguments"),
        }
    }
}

impl ServeArgs {
    /// This server's rate limiter.
    /// The rate limiter, connected to Redis when `TENANTRY_REDIS_URL` says so (an error
    /// when Redis cannot be reached at start).
    pub async fn limiter(&self) -> Result<service::limits::Limiter, service::Error> {
        let limiter = service::limits::Limiter::new(
            self.rate_limits,
            service::limits::Limit {
                rate: self.anonymous_rate,
                burst: self.anonymous_burst,
            },
        );
        match &self.redis_url {
            Some(url) if !url.trim().is_empty() => {
                Ok(limiter.with_redis(service::limits::redis_store::connect(url.trim()).await?))
            }
            _ => Ok(limiter),
        }
    }

    /// How this server talks to SSO identity providers.
    pub fn sso_settings(&self) -> service::sso::oidc::Settings {
        service::sso::oidc::Settings {
            timeout: std::time::Duration::from_secs(self.sso_timeout),
            clock_skew: std::time::Duration::from_secs(self.sso_clock_skew),
            allow_private: self.sso_allow_private,
        }
    }

    /// How webhooks are delivered.
    pub fn webhook_settings(&self) -> anyhow::Result<service::webhooks::Settings> {
        let retry_schedule = service::webhooks::parse_schedule(&self.webhooks_retry_schedule)
            .map_err(|e| anyhow::anyhow!("TENANTRY_WEBHOOKS_RETRY_SCHEDULE: {e}"))?;
        Ok(service::webhooks::Settings {
            allow_private: self.webhooks_allow_private,
            timeout: std::time::Duration::from_secs(self.webhooks_timeout),
            retry_schedule,
            ..Default::default()
        })
    }

    /// The configured embedding provider; `None` means the local model.
    pub fn embedder(
        &self,
    ) -> anyhow::Result<Option<std::sync::Arc<dyn service::memories::embeddings::Provider>>> {
        let Some(url) = self
            .embeddings_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        else {
            return Ok(None);
        };
        let provider = service::memories::openai::OpenAi::new(
            url,
            self.embeddings_model.as_deref().unwrap_or_default(),
            self.embeddings_key.clone(),
            std::time::Duration::from_secs(self.embeddings_timeout.max(1)),
        )
        .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        Ok(Some(std::sync::Arc::new(provider)))
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.addr))
    }

    pub fn cookie_secure(&self) -> bool {
        self.cookie_secure.unwrap_or(
            !self.addr.ip().is_loopback() || self.trust_proxy || !self.trusted_proxies.is_empty(),
        )
    }
}

/// The configuration reference, written from the definitions above: one Markdown row per
/// setting that has an environment variable (every subcommand's, in the order they are
/// declared), with its flag, its default and its help. docs/configuration.md holds it
/// between two markers; a test fails when they disagree, and rewrites the file when run
/// with `TENANTRY_WRITE_DOCS=1`.
pub fn reference() -> String {
    use clap::CommandFactory;
    fn rows(command: &clap::Command, seen: &mut Vec<String>, out: &mut String) {
        for arg in command.get_arguments() {
            let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
                continue;
            };
            if seen.iter().any(|s| s == env) {
                continue;
            }
            seen.push(env.to_owned());
            let flag = arg
                .get_long()
                .map(|l| format!("`--{l}`"))
                .unwrap_or_default();
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| format!("`{}`", v.to_string_lossy()))
                .collect();
            let default = if defaults.is_empty() {
                "unset".to_owned()
            } else {
                defaults.join(", ")
            };
            let help = arg
                .get_long_help()
                .or(arg.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default();
            let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push_str(&format!(
                "| `{env}` | {flag} | {default} | {} |\n",
                help.replace('|', "\\|")
            ));
        }
        for sub in command.get_subcommands() {
            rows(sub, seen, out);
        }
    }
    let mut out = String::from("| variable | flag | default | meaning |\n|---|---|---|---|\n");
    rows(&Cli::command(), &mut Vec::new(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    const BEGIN: &str = "<!-- BEGIN generated by server::config::reference -->\n";
    const END: &str = "<!-- END generated -->\n";

    #[test]
    fn the_configuration_docs_list_every_setting_as_the_flags_define_it() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let (head, rest) = doc.split_once(BEGIN).expect("the begin marker");
        let (table, tail) = rest.split_once(END).expect("the end marker");
        let expected = super::reference();
        if std::env::var_os("TENANTRY_WRITE_DOCS").is_some() {
            std::fs::write(path, format!("{head}{BEGIN}{expected}{END}{tail}")).unwrap();
            return;
        }
        assert!(
            table == expected,
            "docs/configuration.md is out of date with the flags: run \
             `TENANTRY_WRITE_DOCS=1 cargo test -p server --lib config` and commit it\n{expected}"
        );
        for env in ["DATABASE_URL", "TENANTRY_ADDR", "TENANTRY_SSO_CLOCK_SKEW"] {
            assert!(expected.contains(&format!("`{env}`")), "{env}");
        }
        // `.env.example` names every one of them too.
        let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../.env.example");
        let example = std::fs::read_to_string(example).unwrap();
        for row in expected.lines().skip(2) {
            let env = row.split('`').nth(1).unwrap_or_default();
            assert!(
                example.contains(&format!("{env}=")),
                ".env.example lacks {env}"
            );
        }
        assert!(expected.contains("| `TENANTRY_WEBHOOKS_TIMEOUT` | `--webhooks-timeout` | `10` |"));
    }
}
