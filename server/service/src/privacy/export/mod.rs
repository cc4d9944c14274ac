//! Export of everything held about a person (GDPR Art. 15 and 20; docs/data-protection.md,
//! "Export").
//!
//! Asking for one ([`start`]) authorizes `privacy:export` on the identity, stores the
//! export as queued with the hash of a one-time link's secret, wakes the export workers
//! (`NOTIFY tenantry_exports`) and hands the link out once. A worker on any instance
//! ([`run_due`], on the server's own runtime, never the request's) claims it under a lease
//! that its progress renews, and gathers the person's profile, roles and groups, sessions
//! and devices, API keys (never their secrets), SSO links, memories, the audit records
//! where they are actor or target, and the events about them or made by them into one
//! JSON document ([`Document`], whose JSON Schema is [`schema`]), reporting its progress
//! as it goes, and stores it sealed under the person's key. The link downloads it once,
//! until it expires ([`LINK_HOURS`]); the document is deleted as it is handed over.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authz::perm;
use crate::crypto::{constant_time_eq, random_bytes, sha256};
use crate::ctx::Ctx;
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, Result};
use crate::events::catalogue::{shapes, types};
use crate::identities::{self, Identity};
use crate::privacy::envelope::Place;
use crate::privacy::lease::{Stop, held};
use crate::resource::Resource;

mod document;

use document::gather;
pub use document::schema;

/// The document's `format`.
pub const FORMAT: &str = "tenantry.export/v1";
/// How long a link works after it is handed out.
pub const LINK_HOURS: i64 = 24;
/// A queued export no worker took for this long, or a running one whose lease ran out this
/// long ago, is shown as failed (no worker runs, or every attempt was interrupted).
const STALE_MINUTES: i64 = 15;
/// How long a worker's claim on an export lasts unless its progress renews it.
const LEASE_SECS: i32 = 120;
/// Claims of one export before it is marked failed (each claim after the first follows a
/// worker that went away mid-way).
const MAX_ATTEMPTS: i32 = 3;
/// The channel that wakes the export workers.
pub const CHANNEL: &str = "tenantry_exports";

/// Where an export stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ExportStatus))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Ready,
    Downloaded,
    Failed,
    Expired,
}

/// An export as its requesters see it (never its document or its link).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Export {
    pub id: Uuid,
    pub identity_id: Uuid,
    pub requested_by: Option<Uuid>,
    pub status: Status,
    /// 0-100.
    pub progress: i32,
    /// What the job is gathering (`memories`, `audit records`, ...), or gathered last.
    pub step: String,
    /// The document's size, once it is ready.
    pub size_bytes: Option<i64>,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub downloaded_at: Option<OffsetDateTime>,
    /// When the download link stops working.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// An export just asked for, and its link: the only time the link is shown.
#[derive(Debug, Clone)]
pub struct Started {
    pub export: Export,
    /// `/v1/privacy/exports/download/ex1.…`: downloads the document once, without
    /// signing in, until [`Export::expires_at`].
    pub link: String,
}

struct Row {
    id: Uuid,
    identity_id: Uuid,
    requested_by: Option<Uuid>,
    status: String,
    progress: i32,
    step: String,
    size_bytes: Option<i64>,
    error: Option<String>,
    created_at: OffsetDateTime,
    lease_until: Option<OffsetDateTime>,
    finished_at: Option<OffsetDateTime>,
    downloaded_at: Option<OffsetDateTime>,
    expires_at: OffsetDateTime,
}

impl From<Row> for Export {
    fn from(r: Row) -> Export {
        let now = OffsetDateTime::now_utc();
        let stale = now - time::Duration::minutes(STALE_MINUTES);
        let status = match r.status.as_str() {
            "queued" if r.created_at < stale => Status::Failed,
            "running" if r.lease_until.is_none_or(|l| l < stale) => Status::Failed,
            "queued" => Status::Queued,
            "running" => Status::Running,
            "ready" if r.expires_at <= now => Status::Expired,
            "ready" => Status::Ready,
            "downloaded" => Status::Downloaded,
            _ => Status::Failed,
        };
        let error = match (status, r.status.as_str()) {
            (Status::Failed, "queued" | "running") => {
                Some("The export was interrupted (its server stopped); ask for it again.".into())
            }
            _ => r.error,
        };
        Export {
            id: r.id,
            identity_id: r.identity_id,
            requested_by: r.requested_by,
            status,
            progress: r.progress,
            step: r.step,
            size_bytes: r.size_bytes,
            error,
            created_at: r.created_at,
            finished_at: r.finished_at,
            downloaded_at: r.downloaded_at,
            expires_at: r.expires_at,
        }
    }
}

async fn load(conn: &mut sqlx::PgConnection, tenant_id: Uuid, id: Uuid) -> Result<Option<Export>> {
    Ok(sqlx::query_as!(
        Row,
        "select id, identity_id, requested_by, status, progress, step, size_bytes, error,
                created_at, lease_until, finished_at, downloaded_at, expires_at
         from privacy_exports where tenant_id = $1 and id = $2",
        tenant_id,
        id
    )
    .fetch_optional(conn)
    .await?
    .map(Export::from))
}

fn format_token(tenant: Uuid, id: Uuid, secret: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(64);
    raw.extend_from_slice(tenant.as_bytes());
    raw.extend_from_slice(id.as_bytes());
    raw.extend_from_slice(secret);
    format!("ex1.{}", URL_SAFE_NO_PAD.encode(raw))
}

fn parse_token(token: &str) -> Option<(Uuid, Uuid, [u8; 32])> {
    let raw = URL_SAFE_NO_PAD.decode(token.strip_prefix("ex1.")?).ok()?;
    if raw.len() != 64 {
        return None;
    }
    let tenant = Uuid::from_slice(&raw[..16]).ok()?;
    let id = Uuid::from_slice(&raw[16..32]).ok()?;
    Some((tenant, id, raw[32..].try_into().ok()?))
}

/// The path of the download link of `token`.
pub fn download_path(token: &str) -> String {
    format!("/v1/privacy/exports/download/{token}")
}

/// Asks for an export of identity `id`: needs `privacy:export` on it (owners and admins
/// hold it). A worker takes the job at once (see the module's text).
pub async fn start(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Started> {
    let mut tx = db.change_object(ctx, perm::PRIVACY_EXPORT).await?;
    let tenant_id = tx.tenant_id;
    tx.lookup::<Identity>(id, perm::PRIVACY_EXPORT).await?;
    let export_id = Uuid::now_v7();
    let secret = random_bytes::<32>();
    let token = format_token(tenant_id, export_id, &secret);
    let requested_by = ctx.caller().ok().map(|c| c.identity_id);
    sqlx::query!(
        "insert into privacy_exports (tenant_id, id, identity_id, requested_by, token_hash,
                                      expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(hours => $6))",
        tenant_id,
        export_id,
        id,
        requested_by,
        &sha256(&secret)[..],
        LINK_HOURS as i32,
    )
    .execute(tx.conn())
    .await?;
    let export = load(tx.conn(), tenant_id, export_id)
        .await?
        .ok_or_else(|| Error::Internal("an export vanished as it was made".into()))?;
    tx.record(Change {
        action: types::IDENTITY_EXPORT_REQUESTED,
        target_type: Identity::NOUN,
        target_id: Some(id),
        before: None,
        after: Some(shapes::to_value(shapes::ExportData { export_id })),
    })
    .await?;
    // Delivered when the export is committed, to the workers of every instance.
    sqlx::query!("select pg_notify($1, '')", CHANNEL)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(Started {
        export,
        link: download_path(&token),
    })
}

/// One export of the caller's tenant: needs `privacy:read`, and is not found for a caller
/// from whom a rule hides the person it is of.
pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Export> {
    let not_found = || Error::NotFound { resource: "export" };
    let mut tx = db.read(ctx, perm::PRIVACY_READ).await?;
    let tenant_id = tx.tenant_id;
    let export = load(tx.conn(), tenant_id, id)
        .await?
        .ok_or_else(not_found)?;
    tx.lookup::<Identity>(ctx, export.identity_id, perm::PRIVACY_READ)
        .await
        .map_err(|e| match e {
            Error::NotFound { .. } => not_found(),
            other => other,
        })?;
    Ok(export)
}

/// Makes up to `limit` of the exports waiting for a worker, across tenants, `at_once` at a
/// time; returns how many this worker claimed. Instances share the work: each export is
/// claimed in a transaction of its tenant, and one that another worker holds is skipped.
pub async fn run_due(db: &Db, limit: i32, at_once: usize) -> Result<usize> {
    let due = sqlx::query!(
        r#"select tenant_id as "tenant_id!", id as "id!" from tenantry_privacy_exports_due($1)"#,
        limit
    )
    .fetch_all(db.pool())
    .await?;
    let mut claimed = 0;
    let mut jobs = tokio::task::JoinSet::new();
    for e in due {
        while jobs.len() >= at_once.max(1) {
            claimed += usize::from(jobs.join_next().await.is_some_and(|r| r.unwrap_or(false)));
        }
        let job = Job {
            db: db.clone(),
            tenant_id: e.tenant_id,
            id: e.id,
            attempt: 0,
        };
        jobs.spawn(async move {
            let id = job.id;
            match job.claim().await {
                Ok(Some(job)) => {
                    job.run().await;
                    true
                }
                Ok(None) => false,
                Err(err) => {
                    tracing::warn!(export = %id, error = %err, "a data export could not be claimed");
                    false
                }
            }
        });
    }
    while let Some(r) = jobs.join_next().await {
        claimed += usize::from(r.unwrap_or(false));
    }
    Ok(claimed)
}

/// One export as a worker holds it. `attempt` is the claim this worker made: every write
/// it makes names it, so a worker whose lease ran out and whose export another worker
/// took since changes nothing any more (it learns so at its next progress report, and
/// stops).
struct Job {
    db: Db,
    tenant_id: Uuid,
    id: Uuid,
    attempt: i32,
}

impl Job {
    /// Claims the export when it is queued or its last worker's lease ran out; an export
    /// claimed [`MAX_ATTEMPTS`] times already is given up instead (and audited).
    async fn claim(mut self) -> Result<Option<Job>> {
        let mut tx = self.db.begin_tenant(self.tenant_id).await?;
        let attempt = sqlx::query_scalar!(
            "update privacy_exports
             set status = 'running', attempts = attempts + 1, step = 'starting',
                 lease_until = now() + make_interval(secs => $3),
                 started_at = coalesce(started_at, now())
             where tenant_id = $1 and id = $2
               and (status = 'queued' or (status = 'running' and lease_until < now()))
             returning attempts",
            self.tenant_id,
            self.id,
            LEASE_SECS as f64
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(attempt) = attempt else {
            return Ok(None);
        };
        self.attempt = attempt;
        if attempt <= MAX_ATTEMPTS {
            tx.commit().await?;
            return Ok(Some(self));
        }
        tracing::warn!(export = %self.id, "a data export was interrupted {MAX_ATTEMPTS} times and is given up");
        self.fail(
            tx,
            "interrupted",
            "The export was interrupted each time it was made; ask for it again.",
        )
        .await?;
        Ok(None)
    }

    /// Makes the export; a failure is recorded on it (and logged and audited).
    async fn run(self) {
        match self.build().await {
            Ok(()) => {}
            Err(Stop::Lost) => {
                tracing::info!(export = %self.id, "a data export was taken by another worker; this one stops");
            }
            Err(Stop::Failed(e)) => {
                tracing::warn!(export = %self.id, error = %e, "a data export failed");
                let failed = async {
                    let tx = self.db.begin_tenant(self.tenant_id).await?;
                    self.fail(
                        tx,
                        "error",
                        "The export could not be made; ask for it again.",
                    )
                    .await
                };
                if let Err(e) = failed.await {
                    tracing::warn!(export = %self.id, error = %e, "a failed data export could not be marked");
                }
            }
        }
    }

    /// Marks the export failed in `tx` (only while it is this job's) and audits it.
    async fn fail(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        reason: &'static str,
        message: &str,
    ) -> Result<()> {
        let person = sqlx::query_scalar!(
            "update privacy_exports
             set status = 'failed', error = $4, finished_at = now()
             where tenant_id = $1 and id = $2 and attempts = $3 and status = 'running'
             returning identity_id",
            self.tenant_id,
            self.id,
            self.attempt,
            message
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(person) = person else {
            return Ok(());
        };
        let data = shapes::ExportFailedData {
            export_id: self.id,
            reason,
        };
        self.audit(
            tx,
            types::IDENTITY_EXPORT_FAILED,
            person,
            shapes::to_value(data),
        )
        .await
    }

    /// Records `action` about `person` as the server's own work, and commits `tx`.
    async fn audit(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Postgres>,
        action: crate::events::catalogue::Event,
        person: Uuid,
        after: serde_json::Value,
    ) -> Result<()> {
        let system = Ctx::system();
        let mut tx = ChangeTx::wrap(tx, &system, self.tenant_id, &self.db);
        tx.record(Change {
            action,
            target_type: Identity::NOUN,
            target_id: Some(person),
            before: None,
            after: Some(after),
        })
        .await?;
        tx.commit().await
    }

    /// Records how far the job got, in a transaction of its own (so the requester sees
    /// it), and renews the lease; [`Stop::Lost`] when the export is no longer this job's.
    async fn progress(&self, percent: i32, step: &str) -> std::result::Result<(), Stop> {
        let mut tx = self.db.begin_tenant(self.tenant_id).await?;
        let rows = sqlx::query!(
            "update privacy_exports
             set progress = $4, step = $5, lease_until = now() + make_interval(secs => $6)
             where tenant_id = $1 and id = $2 and attempts = $3 and status = 'running'",
            self.tenant_id,
            self.id,
            self.attempt,
            percent,
            step,
            LEASE_SECS as f64
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        held(rows)
    }

    async fn build(&self) -> std::result::Result<(), Stop> {
        let (tenant_id, id) = (self.tenant_id, self.id);
        let person = {
            let mut tx = self.db.begin_tenant(tenant_id).await?;
            sqlx::query_scalar!(
                "select identity_id from privacy_exports where tenant_id = $1 and id = $2",
                tenant_id,
                id
            )
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(Error::NotFound { resource: "export" })?
        };
        self.progress(5, "profile").await?;
        let document = gather(self, person).await?;
        let json =
            serde_json::to_vec(&document).map_err(|e| Error::internal("serialise an export", e))?;
        self.progress(95, "sealing").await?;
        let mut tx = self.db.begin_tenant(tenant_id).await?;
        let keys = self.db.keyring().tenant_in(&mut tx, tenant_id).await?;
        let key = identities::sealed::subject_key(&mut tx, &keys, tenant_id, person).await?;
        let sealed = keys.seal_for_subject(&key, place(tenant_id, id), &json);
        let size_bytes = json.len() as i64;
        let done = sqlx::query!(
            "update privacy_exports
             set status = 'ready', progress = 100, step = 'ready', document = $4,
                 size_bytes = $5, finished_at = now()
             where tenant_id = $1 and id = $2 and attempts = $3 and status = 'running'",
            tenant_id,
            id,
            self.attempt,
            sealed,
            size_bytes
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !done {
            return Err(Stop::Lost);
        }
        let data = shapes::ExportReadyData {
            export_id: id,
            size_bytes,
        };
        self.audit(
            tx,
            types::IDENTITY_EXPORT_READY,
            person,
            shapes::to_value(data),
        )
        .await?;
        Ok(())
    }
}

fn place(tenant: Uuid, id: Uuid) -> Place<'static> {
    Place {
        tenant,
        table: "privacy_exports",
        column: "document",
        row: id,
    }
}

/// The document behind a download link: once, until the link expires; the document is
/// deleted as it is handed over. Anyone holding the link may use it (no sign-in); a link
/// that is unknown, forged, used or expired is told apart only as "gone" or "not ready".
pub async fn download(request: &Ctx, db: &Db, token: &str) -> Result<(Uuid, Vec<u8>)> {
    let _slot = db.anonymous_slot().await?;
    let (tenant_id, id, secret) =
        parse_token(token).ok_or(Error::NotFound { resource: "export" })?;
    let mut tx = db.begin_tenant(tenant_id).await?;
    let row = sqlx::query!(
        r#"select identity_id, token_hash, status, document, expires_at < now() as "expired!"
           from privacy_exports where tenant_id = $1 and id = $2 for update"#,
        tenant_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let presented = sha256(&secret);
    let Some(row) = row.filter(|r| constant_time_eq(&r.token_hash, &presented)) else {
        return Err(Error::NotFound { resource: "export" });
    };
    match (row.status.as_str(), row.expired, row.document) {
        (_, true, _) | ("downloaded" | "failed", _, _) => Err(Error::Conflict {
            code: "export_gone",
            message: "This link was used already or has expired; ask for a new export.".into(),
            field: None,
        }),
        ("ready", false, Some(sealed)) => {
            let keyring = db.keyring();
            let keys = keyring.tenant_in(&mut tx, tenant_id).await?;
            let key =
                identities::sealed::subject_key(&mut tx, &keys, tenant_id, row.identity_id).await?;
            let json = keys.open_bytes_for_subject(&key, place(tenant_id, id), &sealed)?;
            sqlx::query!(
                "update privacy_exports
                 set status = 'downloaded', document = null, downloaded_at = now()
                 where tenant_id = $1 and id = $2",
                tenant_id,
                id
            )
            .execute(&mut *tx)
            .await?;
            let system = Ctx {
                principal: crate::Principal::System,
                ..request.clone()
            };
            let mut tx = ChangeTx::wrap(tx, &system, tenant_id, db);
            tx.record(Change {
                action: types::IDENTITY_EXPORT_DOWNLOADED,
                target_type: Identity::NOUN,
                target_id: Some(row.identity_id),
                before: None,
                after: Some(shapes::to_value(shapes::ExportData { export_id: id })),
            })
            .await?;
            tx.commit().await?;
            Ok((id, json))
        }
        _ => Err(Error::Conflict {
            code: "export_not_ready",
            message: "The export is still being made; try again in a moment.".into(),
            field: None,
        }),
    }
}
