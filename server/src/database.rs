//! Choosing the database: `DATABASE_URL` when given, else the embedded cluster in the data
//! folder. Also the master key, which lives beside the embedded data when not configured.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use service::crypto::MasterKey;

use crate::config::Global;
use crate::embedded_pg::{EmbeddedPostgres, Options};

pub const EMBEDDED_DATABASE: &str = "tenantry";

pub struct Database {
    /// As the owner of the schema: migrations and the command line's work.
    pub url: String,
    /// As the application's login role: the server's pool.
    pub app_url: String,
    /// The cluster we run, stopped when this is dropped or `stop` is called.
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Resolves the database and applies pending migrations.
    pub async fn open(global: &Global) -> Result<Database> {
        let mut db = match &global.database_url {
            Some(url) => Database {
                url: url.clone(),
                app_url: global
                    .app_database_url
                    .clone()
                    .unwrap_or_else(|| url.clone()),
                embedded: None,
            },
            None => {
                let dir = global.data_dir.join("postgres");
                let pg = tokio::task::spawn_blocking(move || {
                    EmbeddedPostgres::start(&dir, Options::default())
                })
                .await??;
                pg.ensure_database(EMBEDDED_DATABASE).await?;
                let url = pg.url(EMBEDDED_DATABASE);
                Database {
                    app_url: url.clone(),
                    url,
                    embedded: Some(pg),
                }
            }
        };
        service::Db::migrate(&db.url)
            .await
            .map_err(|e| anyhow::anyhow!("{e}: {}", detail(&e)))?;
        match &db.embedded {
            Some(pg) => db.app_url = pg.app_url(EMBEDDED_DATABASE).await?,
            None if global.app_database_url.is_none() => tracing::warn!(
                "no TENANTRY_APP_DATABASE_URL: the server's connections use DATABASE_URL's role \
                 and switch to tenantry_app; give it a login role of its own to close RESET ROLE"
            ),
            None => {}
        }
        Ok(db)
    }

    pub async fn stop(mut self) {
        if let Some(mut pg) = self.embedded.take() {
            let _ = tokio::task::spawn_blocking(move || pg.stop()).await;
        }
    }
}

fn detail(e: &service::Error) -> String {
    match e {
        service::Error::Internal(d) | service::Error::Unavailable(d) => d.clone(),
        other => other.to_string(),
    }
}

/// The configured master key, or the one generated into `<data_dir>/master.key`.
pub fn master_key(global: &Global) -> Result<MasterKey> {
    if let Some(spec) = &global.master_key {
        return MasterKey::parse(spec).map_err(|e| anyhow::anyhow!("{e}"));
    }
    let path = global.data_dir.join("master.key");
    if path.exists() {
        let spec = fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
        return MasterKey::parse(spec.trim())
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    let (key, spec) = MasterKey::generate();
    write_secret(&path, &spec)?;
    tracing::warn!(
        path = %path.display(),
        "generated a new master key; back it up, or set TENANTRY_MASTER_KEY in production"
    );
    Ok(key)
}

fn write_secret(path: &Path, content: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut f = fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    writeln!(f, "{content}")?;
    Ok(())
}
