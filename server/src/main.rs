//! `tenantry`: serve (default), migrate, tenant create, keys rotate, keys rotate-master.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use server::config::{
    Cli, Command, Global, KeysCommand, ServeArgs, TenantCommand, TenantCreateArgs,
};
use server::database::{self, Database};
use server::{startup, telemetry, workers};

fn main() -> ExitCode {
    // Settings may also come from a .env file in the working directory (see .env.example).
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    telemetry::init(cli.global.log_format, &cli.global.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let global = cli.global;
    match cli
        .command
        .unwrap_or_else(|| Command::Serve(ServeArgs::default()))
    {
        Command::Serve(args) => serve(&global, args).await,
        Command::Migrate => {
            let db = Database::open(&global).await?;
            println!("migrations applied");
            db.stop().await;
            Ok(())
        }
        Command::Tenant(TenantCommand::Create(args)) => create_tenant(&global, args).await,
        Command::Keys(KeysCommand::RotateMaster) => {
            let master = database::master_key(&global)?;
            let done = with_service(&global, async |db| {
                service::privacy::rotate_master(db, &master)
                    .await
                    .map_err(anyhow_service)
            })
            .await?;
            println!(
                "sealed again under master key version {}: {} tenant keys of {} tenants, \
                 {} signing keys, {} webhook secrets, {} SSO client secrets, {} queued mails; \
                 older master keys may now be removed from TENANTRY_MASTER_KEY",
                master.sealing_version(),
                done.tenant_keys,
                done.tenants,
                done.signing_keys,
                done.webhook_secrets,
                done.sso_secrets,
                done.queued_mail
            );
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate) => {
            let master = database::master_key(&global)?;
            let kid = with_service(&global, async |db| {
                service::auth::keys::KeyRing::rotate(db, &master)
                    .await
                    .map_err(anyhow_service)
            })
            .await?;
            println!(
                "new signing key {kid} is active; the old keys verify until their tokens expire"
            );
            Ok(())
        }
    }
}

/// Runs `work` on a small service handle over the database `global` names (starting the
/// embedded cluster when there is no `DATABASE_URL`), then closes and stops what it opened.
async fn with_service<T>(
    global: &Global,
    work: impl AsyncFnOnce(&service::Db) -> Result<T>,
) -> Result<T> {
    let database = Database::open(global).await?;
    let result = async {
        // Personal fields are sealed (a tenant's owner, say): the handle holds the master key.
        let db = service::Db::connect(&database.url, 2)
            .await
            .map_err(anyhow_service)?
            .with_master_key(database::master_key(global)?);
        let result = work(&db).await;
        db.close().await;
        result
    }
    .await;
    database.stop().await;
    result
}

fn anyhow_service(e: service::Error) -> anyhow::Error {
    match e {
        service::Error::Internal(d) | service::Error::Unavailable(d) => anyhow::anyhow!(d),
        service::Error::Validation(fields) => anyhow::anyhow!(
            "{}",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!(other.public_message()),
    }
}

async fn create_tenant(global: &Global, args: TenantCreateArgs) -> Result<()> {
    let created = with_service(global, async |db| {
        service::tenants::create(
            &service::Ctx::system(),
            db,
            service::tenants::NewTenant {
                slug: args.slug,
                name: args.name,
                plan: Some(args.plan),
                owner_email: args.owner_email,
                owner_password: args.owner_password,
            },
        )
        .await
        .map_err(anyhow_service)
    })
    .await?;
    println!(
        "tenant {} ({}) created with owner {}",
        created.tenant.slug,
        created.tenant.plan.as_str(),
        created.owner.email.as_deref().unwrap_or_default()
    );
    if let Some(pw) = created.generated_password {
        println!("owner password (shown once): {pw}");
    }
    Ok(())
}

async fn serve(global: &Global, args: ServeArgs) -> Result<()> {
    let master = database::master_key(global)?;
    let database = Database::open(global).await?;
    let result = serve_with(global, args, &database, master).await;
    database.stop().await;
    result
}

async fn serve_with(
    global: &Global,
    args: ServeArgs,
    database: &Database,
    master: service::crypto::MasterKey,
) -> Result<()> {
    let db = service::Db::connect(&database.app_url, global.db_max_connections)
        .await
        .map_err(anyhow_service)?
        .with_master_key(master.clone())
        .with_webhooks(args.webhook_settings()?)
        .with_sso(args.sso_settings())
        .with_limiter(args.limiter().await.map_err(anyhow_service)?);
    if !args.rate_limits {
        tracing::warn!("TENANTRY_RATE_LIMITS=false: requests are not rate limited");
    }
    if args.webhooks_allow_private {
        tracing::warn!(
            "TENANTRY_WEBHOOKS_ALLOW_PRIVATE: webhooks may reach private and loopback addresses"
        );
    }
    let db = match args.embedder()? {
        Some(provider) => {
            tracing::info!(
                model = provider.model(),
                "memories are embedded by an OpenAI-compatible endpoint"
            );
            db.with_embedder(provider)
        }
        None => db,
    };
    let mailer = workers::mail::Mailer::new(
        args.smtp_url.as_deref(),
        &args.mail_from,
        &args.public_url(),
    )?
    .logging_bodies(args.mail_log_bodies);
    if args.mail_log_bodies && args.smtp_url.is_none() {
        tracing::warn!(
            "TENANTRY_MAIL_LOG_BODIES: mails, with their one-time links, are written to the log"
        );
    }
    if !mailer.smtp_configured() {
        tracing::info!(
            "no TENANTRY_SMTP_URL: outgoing mail is written to the log and shown in the console's outbox"
        );
    }
    if args.seed_demo
        && let Some(demo) = service::tenants::ensure_demo(&db, args.demo_password.clone())
            .await
            .map_err(anyhow_service)?
    {
        eprintln!();
        eprintln!(
            "  Demo tenant created: sign in at http://{}/login",
            args.addr
        );
        eprintln!("    tenant:   {}", demo.tenant.slug);
        eprintln!("    email:    {}", service::tenants::DEMO_OWNER);
        match demo.generated_password {
            Some(pw) => eprintln!(
                "    password: {pw}   (shown once; set TENANTRY_DEMO_PASSWORD to choose it)"
            ),
            None => eprintln!("    password: the value of TENANTRY_DEMO_PASSWORD"),
        }
        eprintln!();
    }
    let addr = args.addr;
    if !args.site_root.join("pkg").exists() {
        tracing::warn!(site_root = %args.site_root.display(), "the console's site folder has no pkg/: build it with `make build` (pages will not hydrate)");
    }
    let event_retention_days = args.event_retention_days;
    let webhook_workers = args.webhooks_workers as usize;
    let state = startup::build_state(db.clone(), master, args).await?;
    let key_reload = workers::spawn_key_reload(state.tokens.keys.clone());
    let router = startup::build_router(state);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listen on {addr}"))?;
    let cleanup = workers::spawn_cleanup(db.clone(), event_retention_days);
    let cache_listener = workers::spawn_cache_listener(db.clone());
    let audit_sealer = workers::spawn_audit_sealer(db.clone());
    let usage_flush = workers::spawn_usage_flush(db.clone());
    let mail_sender = workers::mail::spawn_mailer(db.clone(), mailer);
    let memories_worker = workers::memories::spawn(db.clone());
    let exports_worker = workers::spawn_exports(db.clone());
    let retention_worker = workers::spawn_retention(db.clone());
    let key_jobs_worker = workers::spawn_key_jobs(db.clone());
    let webhook_deliverer =
        (webhook_workers > 0).then(|| workers::webhooks::spawn(db.clone(), webhook_workers));
    tracing::info!("Tenantry is serving http://{addr}");
    // Human messages go to stderr; stdout carries only the logs (JSON lines if asked).
    eprintln!("Tenantry is serving http://{addr}  (Ctrl-C stops it)");
    let served = startup::serve(listener, router, startup::shutdown_signal()).await;
    cleanup.abort();
    key_reload.abort();
    cache_listener.abort();
    audit_sealer.abort();
    usage_flush.abort();
    // What the limits counted since the last flush.
    if let Err(e) = service::limits::usage::flush(&db).await {
        tracing::warn!(error = ?e, "rate limit counts not saved at shutdown");
    }
    mail_sender.abort();
    memories_worker.abort();
    exports_worker.abort();
    retention_worker.abort();
    key_jobs_worker.abort();
    if let Some(w) = webhook_deliverer {
        w.abort();
    }
    // Requests still running after the grace period hold pooled connections; do not let
    // them keep the process (and its embedded PostgreSQL) alive.
    if tokio::time::timeout(std::time::Duration::from_secs(5), db.close())
        .await
        .is_err()
    {
        tracing::warn!("database connections still busy at shutdown; closing anyway");
    }
    served
}
