//! Key jobs (docs/data-protection.md, "Key jobs"): background work over everything a tenant
//! holds sealed, one job at a time per tenant.
//!
//! * **Sealing** ([`Kind::Seal`]) seals what rows written before field-level encryption
//!   still hold in plain text: identities' addresses and names, invitations' addresses and
//!   messages, memories' text, SSO links' addresses. The server queues one for each tenant
//!   that needs it when it starts ([`queue_sealing`]); an owner may ask for one.
//! * **Rotation** ([`Kind::Rotate`]) makes a new version of the tenant's data key (every
//!   instance seals under it from then on), wraps every data subject's and invitation's key
//!   again under it and seals again what an older version sealed directly (memories with no
//!   owner), then removes the older versions once nothing names them.
//!
//! Owners start them (`settings:update`); whoever may read the settings follows them. A
//! worker on any instance ([`run_due`]) claims a job under a lease that each batch renews,
//! and each batch's work and its count commit together, fenced by the claim (as exports
//! are): a worker that went away leaves the job to the next claim, which finds what is left
//! from the rows themselves (a plain column, an envelope's header naming an older version)
//! and goes on. The server keeps answering throughout: batches are small and skip the rows
//! a request holds (they are taken on a later pass).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::authz::{Target, perm};
use crate::ctx::Ctx;
use crate::db::{Change, ChangeTx, Db};
use crate::error::{Error, Result};
use crate::events::catalogue::{shapes, types};
use crate::privacy::envelope::KeyRef;
use crate::privacy::keys::TenantKeys;
use crate::privacy::lease::{Step, Stop, held};

/// The channel that wakes the key-job workers.
pub const CHANNEL: &str = "tenantry_key_jobs";
/// How long a worker's claim lasts unless a batch renews it.
const LEASE_SECS: i32 = 120;
/// Claims of one job before it is marked failed.
const MAX_ATTEMPTS: i32 = 5;
/// Rows per batch (each batch is one short transaction).
const BATCH: i64 = 100;
/// How long after a new data key is made the rotation waits before it removes the older
/// versions: every instance has heard of the new key by then (an instance that cannot
/// hear keeps keys for a second), so nothing seals under an older one any more.
const SETTLE: Duration = Duration::from_secs(10);
/// Attempts at removing the older data keys, each after a pass over what they still seal.
const REMOVAL_PASSES: u32 = 5;
/// Passes over rows that requests held, before a job gives up on them.
const MAX_WAITS: u32 = 100;

/// What a job does.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = KeyJobKind))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Seal what is stored in plain text.
    Seal,
    /// Rotate the tenant's data key.
    Rotate,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Seal => "seal",
            Kind::Rotate => "rotate",
        }
    }

    fn parse(s: &str) -> Result<Kind> {
        Kind::named(s).ok_or_else(|| Error::Internal(format!("a key job of kind {s:?}")))
    }

    fn named(s: &str) -> Option<Kind> {
        match s {
            "seal" => Some(Kind::Seal),
            "rotate" => Some(Kind::Rotate),
            _ => None,
        }
    }
}

/// Where a job stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = KeyJobStatus))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Done,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }
}

/// A key job as the console and the API show it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyJob {
    pub id: Uuid,
    pub kind: Kind,
    pub status: Status,
    /// Rows to do in all (counted when the job starts, again when it resumes).
    pub total: i64,
    /// Rows done.
    pub done: i64,
    /// 0-100.
    pub percent: i32,
    /// What the job works on now (`identities`, `memories`, ...), or `""`.
    pub step: String,
    /// A rotation: the data key's version it seals under, once made.
    pub data_key_version: Option<i32>,
    /// Who asked for it; `null`: the server (the sealing it queues at start-up).
    pub requested_by: Option<Uuid>,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

struct Row {
    id: Uuid,
    kind: String,
    status: String,
    total: i64,
    done: i64,
    step: String,
    data_key_version: Option<i32>,
    requested_by: Option<Uuid>,
    error: Option<String>,
    created_at: OffsetDateTime,
    started_at: Option<OffsetDateTime>,
    finished_at: Option<OffsetDateTime>,
}

impl TryFrom<Row> for KeyJob {
    type Error = Error;

    fn try_from(r: Row) -> Result<KeyJob> {
        let status = match r.status.as_str() {
            "queued" => Status::Queued,
            "running" => Status::Running,
            "done" => Status::Done,
            _ => Status::Failed,
        };
        let percent = match (status, r.total) {
            (Status::Done, _) => 100,
            (_, 0) => 0,
            (_, total) => ((r.done.min(total) * 100) / total) as i32,
        };
        Ok(KeyJob {
            id: r.id,
            kind: Kind::parse(&r.kind)?,
            status,
            total: r.total,
            done: r.done,
            percent,
            step: r.step,
            data_key_version: r.data_key_version,
            requested_by: r.requested_by,
            error: r.error,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        })
    }
}

/// Rows still holding personal data in plain text, by table.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = PlainRows))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Plain {
    pub identities: i64,
    pub invitations: i64,
    pub memories: i64,
    pub sso_links: i64,
    /// Audit records holding a person's values in plain text (sealing them links the
    /// chain again: docs/data-protection.md).
    pub audit_records: i64,
    /// Events holding a person's values in plain text.
    pub events: i64,
}

impl Plain {
    pub fn total(&self) -> i64 {
        self.identities
            + self.invitations
            + self.memories
            + self.sso_links
            + self.audit_records
            + self.events
    }
}

/// The tenant's field-level encryption, as the console's Settings and `GET /v1/encryption`
/// show it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Encryption {
    /// The data key's version that seals now (`null` until the tenant first sealed
    /// anything).
    pub data_key_version: Option<i32>,
    /// When that version was made.
    #[serde(with = "time::serde::rfc3339::option")]
    pub data_key_created_at: Option<OffsetDateTime>,
    /// Older versions still held (a rotation removes them when it ends).
    pub older_versions: Vec<i32>,
    /// Data subjects with a key of their own.
    pub subject_keys: i64,
    /// What is still stored in plain text (written before field-level encryption).
    pub plain: Plain,
    /// The newest job, running or finished.
    pub job: Option<KeyJob>,
}

/// Job `id` of the tenant, or (`None`) its newest.
async fn load_job(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Option<Uuid>,
) -> Result<Option<KeyJob>> {
    sqlx::query_as!(
        Row,
        "select id, kind, status, total, done, step, data_key_version, requested_by, error,
                created_at, started_at, finished_at
         from key_jobs where tenant_id = $1 and ($2::uuid is null or id = $2)
         order by created_at desc limit 1",
        tenant_id,
        id
    )
    .fetch_optional(conn)
    .await?
    .map(KeyJob::try_from)
    .transpose()
}

async fn plain(conn: &mut PgConnection, tenant_id: Uuid) -> Result<Plain> {
    let r = sqlx::query!(
        r#"select
             (select count(*) from identities where tenant_id = $1 and display_name_sealed is null) as "identities!",
             (select count(*) from invitations where tenant_id = $1 and email is not null) as "invitations!",
             (select count(*) from memories where tenant_id = $1 and text is not null) as "memories!",
             (select count(*) from sso_links where tenant_id = $1 and email is not null) as "sso_links!""#,
        tenant_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let (audit_records, events) = super::reseal::plain_copies(conn, tenant_id).await?;
    Ok(Plain {
        identities: r.identities,
        invitations: r.invitations,
        memories: r.memories,
        sso_links: r.sso_links,
        audit_records,
        events,
    })
}

/// Whether `table` may still hold plain rows.
async fn plain_in(conn: &mut PgConnection, tenant_id: Uuid, table: Table) -> Result<bool> {
    let table = match table {
        Table::AuditRecords | Table::Events => {
            let (audit, events) = super::reseal::plain_copies(conn, tenant_id).await?;
            return Ok(match table {
                Table::AuditRecords => audit > 0,
                _ => events > 0,
            });
        }
        Table::Identities => "identities",
        Table::Invitations => "invitations",
        Table::Memories => "memories",
        Table::SsoLinks => "sso_links",
    };
    // Only the branch named runs.
    Ok(sqlx::query_scalar!(
        r#"select case $2::text
             when 'identities' then exists (select 1 from identities
                                            where tenant_id = $1 and display_name_sealed is null)
             when 'invitations' then exists (select 1 from invitations
                                             where tenant_id = $1 and email is not null)
             when 'memories' then exists (select 1 from memories
                                          where tenant_id = $1 and text is not null)
             else exists (select 1 from sso_links where tenant_id = $1 and email is not null)
           end as "left!""#,
        tenant_id,
        table
    )
    .fetch_one(conn)
    .await?)
}

/// The audit record (and event) of a key job's start or end: `job` is its id, kind and
/// status; `rows` what it did; `version` a rotation's new data key.
fn job_change(
    action: crate::events::catalogue::Event,
    tenant_id: Uuid,
    (job_id, kind, status): (Uuid, Kind, Status),
    rows: i64,
    version: Option<i32>,
) -> Change {
    Change {
        action,
        target_type: "tenant",
        target_id: Some(tenant_id),
        before: None,
        after: Some(shapes::to_value(shapes::KeyJobData {
            job_id,
            kind,
            status,
            rows,
            data_key_version: version,
        })),
    }
}

fn settings(tenant_id: Uuid) -> Target {
    Target::collection(tenant_id, "settings")
}

/// The tenant's encryption: its data key, what is not sealed yet and the newest job.
/// Needs `settings:read`.
pub async fn get(ctx: &Ctx, db: &Db) -> Result<Encryption> {
    let tenant_id = ctx.tenant_id()?;
    ctx.authorize(perm::SETTINGS_READ, settings(tenant_id))?;
    let mut tx = db.read_in(tenant_id).await?;
    let conn = tx.conn();
    let versions = sqlx::query!(
        "select version, created_at from tenant_keys
         where tenant_id = $1 and purpose = 'data' order by version desc",
        tenant_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let subject_keys = sqlx::query_scalar!(
        r#"select count(*) as "n!" from subject_keys where tenant_id = $1"#,
        tenant_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let plain = plain(&mut *conn, tenant_id).await?;
    let job = load_job(&mut *conn, tenant_id, None).await?;
    Ok(Encryption {
        data_key_version: versions.first().map(|v| v.version),
        data_key_created_at: versions.first().map(|v| v.created_at),
        older_versions: versions.iter().skip(1).map(|v| v.version).collect(),
        subject_keys,
        plain,
        job,
    })
}

/// One key job of the caller's tenant. Needs `settings:read`.
pub async fn job(ctx: &Ctx, db: &Db, id: Uuid) -> Result<KeyJob> {
    let tenant_id = ctx.tenant_id()?;
    ctx.authorize(perm::SETTINGS_READ, settings(tenant_id))?;
    let mut tx = db.read_in(tenant_id).await?;
    load_job(tx.conn(), tenant_id, Some(id))
        .await?
        .ok_or(Error::NotFound {
            resource: "key job",
        })
}

/// [`start`] for a kind a form names (`seal`, `rotate`): the caller is authorized before
/// the name is read, so one who may not start a job learns nothing from a bad one.
pub async fn start_named(ctx: &Ctx, db: &Db, kind: &str) -> Result<KeyJob> {
    ctx.authorize(perm::SETTINGS_UPDATE, settings(ctx.tenant_id()?))?;
    let kind = Kind::named(kind).ok_or_else(|| {
        Error::validation("kind", "invalid_value", "Choose sealing or a rotation.")
    })?;
    start(ctx, db, kind).await
}

/// Starts a key job: needs `settings:update` (owners). Refused with `409 key_job_running`
/// while another job of the tenant is queued or running. A worker takes it at once.
pub async fn start(ctx: &Ctx, db: &Db, kind: Kind) -> Result<KeyJob> {
    let tenant_id = ctx.tenant_id()?;
    ctx.authorize(perm::SETTINGS_UPDATE, settings(tenant_id))?;
    let mut tx = db.change_in(ctx, tenant_id).await?;
    let id = Uuid::now_v7();
    let requested_by = ctx.caller().ok().map(|c| c.identity_id);
    let inserted = sqlx::query!(
        "insert into key_jobs (tenant_id, id, kind, requested_by) values ($1, $2, $3, $4)
         on conflict (tenant_id) where status in ('queued', 'running') do nothing",
        tenant_id,
        id,
        kind.as_str(),
        requested_by
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(Error::Conflict {
            code: "key_job_running",
            message: "A key job is already queued or running for this tenant; wait for it to end."
                .into(),
            field: None,
        });
    }
    tx.record(job_change(
        types::TENANT_KEY_JOB_STARTED,
        tenant_id,
        (id, kind, Status::Queued),
        0,
        None,
    ))
    .await?;
    let job = load_job(tx.conn(), tenant_id, Some(id))
        .await?
        .ok_or_else(|| Error::Internal("a key job vanished as it was made".into()))?;
    sqlx::query!("select pg_notify($1, '')", CHANNEL)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(job)
}

/// Queues a sealing job for the tenant, by the server, unless one is open, in the
/// transaction `conn` (scoped to the tenant): the workers hear of it as it commits.
pub(crate) async fn queue_sealing_in(conn: &mut PgConnection, tenant_id: Uuid) -> Result<()> {
    sqlx::query!(
        "insert into key_jobs (tenant_id, id, kind) values ($1, $2, 'seal')
         on conflict (tenant_id) where status in ('queued', 'running') do nothing",
        tenant_id,
        Uuid::now_v7()
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("select pg_notify($1, '')", CHANNEL)
        .execute(conn)
        .await?;
    Ok(())
}

/// Queues a sealing job, by the server, for every tenant that still holds personal data in
/// plain text and has no job open (the server calls it as it starts); returns how many.
pub async fn queue_sealing(db: &Db) -> Result<i32> {
    let queued = sqlx::query_scalar!(r#"select tenantry_queue_sealing() as "n!""#)
        .fetch_one(db.pool())
        .await?;
    if queued > 0 {
        sqlx::query!("select pg_notify($1, '')", CHANNEL)
            .execute(db.pool())
            .await?;
    }
    Ok(queued)
}

/// Runs up to `limit` jobs that are queued, or whose worker went away, one after another;
/// returns how many this worker claimed.
pub async fn run_due(db: &Db, limit: i32) -> Result<usize> {
    let due = sqlx::query!(
        r#"select tenant_id as "tenant_id!", id as "id!" from tenantry_key_jobs_due($1)"#,
        limit
    )
    .fetch_all(db.pool())
    .await?;
    let mut claimed = 0;
    for j in due {
        let job = Job {
            db: db.clone(),
            tenant_id: j.tenant_id,
            id: j.id,
            attempt: 0,
        };
        match job.claim().await {
            Ok(Some((job, kind, version))) => {
                claimed += 1;
                job.run(kind, version).await;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(job = %j.id, error = %e, "a key job could not be claimed"),
        }
    }
    Ok(claimed)
}

/// One job as a worker holds it; `attempt` is its claim, which every write names.
struct Job {
    db: Db,
    tenant_id: Uuid,
    id: Uuid,
    attempt: i32,
}

/// A table the sealing job works through, in order.
#[derive(Clone, Copy, Debug)]
enum Table {
    Identities,
    Invitations,
    Memories,
    SsoLinks,
    /// Copies in the events and the trail come last (the people's keys exist by then),
    /// the trail's at the very end: a chain that does not verify stops the job there.
    Events,
    AuditRecords,
}

impl Table {
    const ALL: [Table; 6] = [
        Table::Identities,
        Table::Invitations,
        Table::Memories,
        Table::SsoLinks,
        Table::Events,
        Table::AuditRecords,
    ];

    fn name(self) -> &'static str {
        match self {
            Table::Identities => "identities",
            Table::Invitations => "invitations",
            Table::Memories => "memories",
            Table::SsoLinks => "sso links",
            Table::AuditRecords => "audit records",
            Table::Events => "events",
        }
    }
}

/// What a rotation wraps or seals again, in order.
#[derive(Clone, Copy, Debug)]
enum Wrapped {
    SubjectKeys,
    InvitationKeys,
    Memories,
}

impl Wrapped {
    const ALL: [Wrapped; 3] = [
        Wrapped::SubjectKeys,
        Wrapped::InvitationKeys,
        Wrapped::Memories,
    ];

    fn name(self) -> &'static str {
        match self {
            Wrapped::SubjectKeys => "people's keys",
            Wrapped::InvitationKeys => "invitations' keys",
            Wrapped::Memories => "memories without an owner",
        }
    }
}

impl Job {
    /// Claims the job when it is queued or its worker's lease ran out; one claimed
    /// [`MAX_ATTEMPTS`] times already is marked failed instead.
    async fn claim(mut self) -> Result<Option<(Job, Kind, Option<i32>)>> {
        let mut tx = self.db.begin_tenant(self.tenant_id).await?;
        let claimed = sqlx::query!(
            "update key_jobs
             set status = 'running', attempts = attempts + 1,
                 lease_until = now() + make_interval(secs => $3),
                 started_at = coalesce(started_at, now())
             where tenant_id = $1 and id = $2
               and (status = 'queued' or (status = 'running' and lease_until < now()))
             returning attempts, kind, data_key_version, requested_by",
            self.tenant_id,
            self.id,
            f64::from(LEASE_SECS)
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(claimed) = claimed else {
            return Ok(None);
        };
        self.attempt = claimed.attempts;
        let kind = Kind::parse(&claimed.kind)?;
        if claimed.attempts == 1 && claimed.requested_by.is_none() {
            // Queued by the server (at start-up): audited as its owners' own are, by
            // `system`, when it first runs.
            let system = Ctx::system();
            let mut tx = ChangeTx::wrap(tx, &system, self.tenant_id, &self.db);
            tx.record(job_change(
                types::TENANT_KEY_JOB_STARTED,
                self.tenant_id,
                (self.id, kind, Status::Running),
                0,
                None,
            ))
            .await?;
            tx.commit().await?;
            return Ok(Some((self, kind, claimed.data_key_version)));
        }
        if claimed.attempts <= MAX_ATTEMPTS {
            tx.commit().await?;
            return Ok(Some((self, kind, claimed.data_key_version)));
        }
        tracing::warn!(job = %self.id, "a key job was interrupted {MAX_ATTEMPTS} times and is given up");
        self.finish(
            tx,
            kind,
            Err("The job was interrupted each time it ran; start it again."),
        )
        .await?;
        Ok(None)
    }

    async fn run(self, kind: Kind, version: Option<i32>) {
        let outcome = match kind {
            Kind::Seal => self.seal().await,
            Kind::Rotate => self.rotate(version).await,
        };
        let ended = async {
            let tx = self.db.begin_tenant(self.tenant_id).await?;
            match outcome {
                Ok(()) => self.finish(tx, kind, Ok(())).await,
                Err(Stop::Lost) => {
                    tracing::info!(job = %self.id, "a key job was taken by another worker; this one stops");
                    Ok(())
                }
                Err(Stop::Failed(e)) => {
                    tracing::warn!(job = %self.id, error = %e, "a key job failed");
                    let message = match &e {
                        Error::Conflict { code, .. } if *code == super::reseal::CHAIN_BROKEN => {
                            "The audit chain does not verify, so the records written before \
                             encryption were left as they are (sealing them would link the \
                             chain again and hide the break); everything else was sealed. \
                             Verify the chain from the Audit screen."
                        }
                        _ => "The job failed; start it again (it goes on where it stopped).",
                    };
                    self.finish(tx, kind, Err(message)).await
                }
            }
        };
        if let Err(e) = ended.await {
            tracing::warn!(job = %self.id, error = %e, "a key job's end could not be recorded");
        }
    }

    /// Marks the job done or failed (only while it is this worker's), audits it by the
    /// server, and commits.
    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        kind: Kind,
        outcome: std::result::Result<(), &str>,
    ) -> Result<()> {
        let (status, error) = match outcome {
            Ok(()) => (Status::Done, None),
            Err(message) => (Status::Failed, Some(message)),
        };
        let ended = sqlx::query!(
            "update key_jobs set status = $4, error = $5, step = '', finished_at = now()
             where tenant_id = $1 and id = $2 and attempts = $3 and status = 'running'
             returning done, data_key_version",
            self.tenant_id,
            self.id,
            self.attempt,
            status.as_str(),
            error
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(ended) = ended else {
            return Ok(());
        };
        let system = Ctx::system();
        let mut tx = ChangeTx::wrap(tx, &system, self.tenant_id, &self.db);
        tx.record(job_change(
            types::TENANT_KEY_JOB_FINISHED,
            self.tenant_id,
            (self.id, kind, status),
            ended.done,
            ended.data_key_version,
        ))
        .await?;
        tx.commit().await?;
        if status == Status::Done {
            tracing::info!(job = %self.id, kind = kind.as_str(), rows = ended.done, "a key job is done");
            if kind == Kind::Rotate {
                // An erasure while the rotation ran could not queue sealing for the copies
                // it left in plain text: queue it now.
                let mut tx = self.db.begin_tenant(self.tenant_id).await?;
                let (audit, events) = super::reseal::plain_copies(&mut tx, self.tenant_id).await?;
                if audit + events > 0 {
                    queue_sealing_in(&mut tx, self.tenant_id).await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Records the step and the rows to do, and renews the lease.
    async fn report(&self, conn: &mut PgConnection, step: &str, done: i64) -> Step<()> {
        let rows = sqlx::query!(
            "update key_jobs
             set step = $4, done = done + $5, lease_until = now() + make_interval(secs => $6)
             where tenant_id = $1 and id = $2 and attempts = $3 and status = 'running'",
            self.tenant_id,
            self.id,
            self.attempt,
            step,
            done,
            f64::from(LEASE_SECS)
        )
        .execute(conn)
        .await?
        .rows_affected();
        held(rows)
    }

    /// Sets the total to what is done plus `left`.
    async fn plan(&self, left: i64) -> Step<()> {
        let mut tx = self.db.begin_tenant(self.tenant_id).await?;
        let rows = sqlx::query!(
            "update key_jobs set total = done + $4
             where tenant_id = $1 and id = $2 and attempts = $3 and status = 'running'",
            self.tenant_id,
            self.id,
            self.attempt,
            left
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        held(rows)
    }

    /// Runs batches of `work` until none is left; rows a request held are taken on a later
    /// pass. Each batch commits with its count, fenced by the claim.
    async fn drain(&self, work: Work<'_>) -> Step<()> {
        let mut waits = 0;
        let relinks = matches!(work, Work::Seal(Table::AuditRecords));
        loop {
            if relinks {
                // One batch verifies and links the whole chain again: the lease is renewed
                // before it, not only after.
                let mut tx = self.db.begin_tenant(self.tenant_id).await?;
                self.report(&mut tx, work.name(), 0).await?;
                tx.commit().await?;
            }
            let keys = self.db.tenant_keys(self.tenant_id).await?;
            let mut tx = self.db.begin_tenant(self.tenant_id).await?;
            let (did, more) = work.batch(&mut tx, &keys, self.tenant_id).await?;
            self.report(&mut tx, work.name(), did).await?;
            tx.commit().await?;
            if relinks && did > 0 {
                // Its `audit.resealed` record, linked at once.
                crate::audit_log::seal(&self.db, self.tenant_id).await?;
            }
            match (did, more) {
                (_, false) => return Ok(()),
                (0, true) => {
                    waits += 1;
                    if waits > MAX_WAITS {
                        return Err(Stop::Failed(Error::Internal(format!(
                            "rows of {} stayed held by other transactions",
                            work.name()
                        ))));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                _ => waits = 0,
            }
        }
    }

    async fn seal(&self) -> Step<()> {
        let left = {
            let mut tx = self.db.begin_tenant(self.tenant_id).await?;
            plain(&mut tx, self.tenant_id).await?.total()
        };
        self.plan(left).await?;
        for table in Table::ALL {
            self.drain(Work::Seal(table)).await?;
        }
        Ok(())
    }

    async fn rotate(&self, version: Option<i32>) -> Step<()> {
        let keyring = self.db.keyring();
        let version = match version {
            Some(v) => v,
            None => {
                let mut tx = self.db.begin_tenant(self.tenant_id).await?;
                // Made once the tenant has keys at all (a tenant that never sealed anything
                // gets its first version here and a second one now).
                keyring.tenant_in(&mut tx, self.tenant_id).await?;
                let v = keyring.add_data_key(&mut tx, self.tenant_id).await? as i32;
                let rows = sqlx::query!(
                    "update key_jobs set data_key_version = $4
                     where tenant_id = $1 and id = $2 and attempts = $3 and status = 'running'",
                    self.tenant_id,
                    self.id,
                    self.attempt,
                    v
                )
                .execute(&mut *tx)
                .await?
                .rows_affected();
                held(rows)?;
                tx.commit().await?;
                v
            }
        };
        // This instance seals under the new version from now on, whatever it held.
        keyring.heard(&self.tenant_id.to_string());
        let header = KeyRef::Tenant(version as u32).header().to_vec();
        let left = {
            let mut tx = self.db.begin_tenant(self.tenant_id).await?;
            rotation_left(&mut tx, self.tenant_id, &header).await?
        };
        self.plan(left).await?;
        self.rewrap_all(version, &header).await?;
        // Wait until every instance has heard of the new version, take what was sealed
        // under an older one in the meantime, then remove the older versions.
        let made = {
            let mut tx = self.db.begin_tenant(self.tenant_id).await?;
            sqlx::query_scalar!(
                "select created_at from tenant_keys
                 where tenant_id = $1 and purpose = 'data' and version = $2",
                self.tenant_id,
                version
            )
            .fetch_one(&mut *tx)
            .await?
        };
        {
            let mut tx = self.db.begin_tenant(self.tenant_id).await?;
            self.report(
                &mut tx,
                "waiting for every server to seal under the new key",
                0,
            )
            .await?;
            tx.commit().await?;
        }
        let since = OffsetDateTime::now_utc() - made;
        if let Ok(since) = Duration::try_from(since)
            && since < SETTLE
        {
            tokio::time::sleep(SETTLE - since).await;
        }
        // Take what was sealed under an older version meanwhile, then remove the older
        // versions with the tables locked against writes: SHARE waits for the writes in
        // flight, and the delete's snapshot then holds what they committed. A version that
        // any row still names is not removed; the next pass takes that row.
        for _ in 0..REMOVAL_PASSES {
            let left = {
                let mut tx = self.db.begin_tenant(self.tenant_id).await?;
                rotation_left(&mut tx, self.tenant_id, &header).await?
            };
            self.plan(left).await?;
            self.rewrap_all(version, &header).await?;
            let mut tx = self.db.begin_tenant(self.tenant_id).await?;
            self.report(&mut tx, "removing the older versions", 0)
                .await?;
            sqlx::query("lock table subject_keys, invitations, memories in share mode")
                .execute(&mut *tx)
                .await?;
            let kept = sqlx::query_scalar!(
                r#"with gone as (
                   delete from tenant_keys k
                   where k.tenant_id = $1 and k.purpose = 'data' and k.version < $2
                     and not exists (select 1 from subject_keys s where s.tenant_id = $1
                                     and substring(s.wrapped from 1 for 6) <> $3)
                     and not exists (select 1 from invitations v where v.tenant_id = $1
                                     and substring(v.key_wrapped from 1 for 6) <> $3)
                     and not exists (select 1 from memories m where m.tenant_id = $1
                                     and substring(m.text_sealed from 1 for 2) = '\x0101'::bytea
                                     and substring(m.text_sealed from 1 for 6) <> $3)
                   returning k.version
               )
               select count(*) as "n!" from tenant_keys
               where tenant_id = $1 and purpose = 'data' and version < $2
                 and version not in (select version from gone)"#,
                self.tenant_id,
                version,
                &header
            )
            .fetch_one(&mut *tx)
            .await?;
            if kept == 0 {
                tx.commit().await?;
                keyring.heard(&self.tenant_id.to_string());
                return Ok(());
            }
        }
        Err(Stop::Failed(Error::Internal(
            "rows sealed under an older data key kept appearing while it was being removed".into(),
        )))
    }

    async fn rewrap_all(&self, version: i32, header: &[u8]) -> Step<()> {
        for what in Wrapped::ALL {
            self.drain(Work::Rewrap(what, version, header)).await?;
        }
        Ok(())
    }
}

/// One kind of batch a job runs.
#[derive(Clone, Copy)]
enum Work<'a> {
    Seal(Table),
    /// What to wrap or seal again, under the data key of this version, whose envelopes
    /// start with these bytes.
    Rewrap(Wrapped, i32, &'a [u8]),
}

impl Work<'_> {
    fn name(&self) -> &'static str {
        match self {
            Work::Seal(table) => table.name(),
            Work::Rewrap(what, ..) => what.name(),
        }
    }

    /// Runs one batch: how many rows it did, and whether any may be left.
    async fn batch(
        &self,
        conn: &mut PgConnection,
        keys: &TenantKeys,
        tenant_id: Uuid,
    ) -> Step<(i64, bool)> {
        match *self {
            Work::Seal(table) => seal_batch(conn, keys, tenant_id, table).await,
            Work::Rewrap(what, version, header) => {
                if keys.data_version() != version as u32 {
                    return Err(Stop::Failed(Error::Internal(format!(
                        "the data key of version {version} does not seal (version {} does)",
                        keys.data_version()
                    ))));
                }
                rewrap_batch(conn, keys, tenant_id, what, header).await
            }
        }
    }
}

/// What a rotation to the data key whose envelopes start with `header` has left to do.
async fn rotation_left(conn: &mut PgConnection, tenant_id: Uuid, header: &[u8]) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"select
             (select count(*) from subject_keys where tenant_id = $1
                and substring(wrapped from 1 for 6) <> $2)
           + (select count(*) from invitations where tenant_id = $1
                and substring(key_wrapped from 1 for 6) <> $2)
           + (select count(*) from memories where tenant_id = $1
                and substring(text_sealed from 1 for 2) = '\x0101'::bytea
                and substring(text_sealed from 1 for 6) <> $2) as "n!""#,
        tenant_id,
        header
    )
    .fetch_one(conn)
    .await?)
}

/// Wraps or seals again one batch of `what` under the data key that seals now; how many
/// rows, and whether any may be left.
async fn rewrap_batch(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant_id: Uuid,
    what: Wrapped,
    header: &[u8],
) -> Step<(i64, bool)> {
    let mut did = 0;
    let left = match what {
        Wrapped::SubjectKeys => {
            let rows = sqlx::query!(
                "select identity_id, wrapped from subject_keys
                 where tenant_id = $1 and substring(wrapped from 1 for 6) <> $2
                 order by identity_id limit $3 for update skip locked",
                tenant_id,
                header,
                BATCH
            )
            .fetch_all(&mut *conn)
            .await?;
            for r in &rows {
                let again = keys.rewrap_subject_key(r.identity_id, &r.wrapped)?;
                sqlx::query!(
                    "update subject_keys set wrapped = $3 where tenant_id = $1 and identity_id = $2",
                    tenant_id,
                    r.identity_id,
                    again
                )
                .execute(&mut *conn)
                .await?;
                did += 1;
            }
            rows.len() as i64 == BATCH
        }
        Wrapped::InvitationKeys => {
            let rows = sqlx::query!(
                r#"select id, key_wrapped as "key_wrapped!" from invitations
                   where tenant_id = $1 and substring(key_wrapped from 1 for 6) <> $2
                   order by id limit $3 for update skip locked"#,
                tenant_id,
                header,
                BATCH
            )
            .fetch_all(&mut *conn)
            .await?;
            for r in &rows {
                let again = keys.rewrap_subject_key(r.id, &r.key_wrapped)?;
                sqlx::query!(
                    "update invitations set key_wrapped = $3 where tenant_id = $1 and id = $2",
                    tenant_id,
                    r.id,
                    again
                )
                .execute(&mut *conn)
                .await?;
                did += 1;
            }
            rows.len() as i64 == BATCH
        }
        Wrapped::Memories => {
            let rows = sqlx::query!(
                r#"select id, text_sealed as "text_sealed!" from memories
                   where tenant_id = $1
                     and substring(text_sealed from 1 for 2) = '\x0101'::bytea
                     and substring(text_sealed from 1 for 6) <> $2
                   order by id limit $3 for update skip locked"#,
                tenant_id,
                header,
                BATCH
            )
            .fetch_all(&mut *conn)
            .await?;
            for r in &rows {
                let again = crate::memories::sealed::reseal(keys, tenant_id, r.id, &r.text_sealed)?;
                sqlx::query!(
                    "update memories set text_sealed = $3 where tenant_id = $1 and id = $2",
                    tenant_id,
                    r.id,
                    again
                )
                .execute(&mut *conn)
                .await?;
                did += 1;
            }
            rows.len() as i64 == BATCH
        }
    };
    // A batch that found fewer rows than it asked for may have skipped rows a request
    // held: ask again whether any is left.
    let more = left || rotation_left_in(conn, tenant_id, what, header).await? > 0;
    Ok((did, more))
}

async fn rotation_left_in(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    what: Wrapped,
    header: &[u8],
) -> Result<i64> {
    let n = match what {
        Wrapped::SubjectKeys => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from subject_keys where tenant_id = $1
               and substring(wrapped from 1 for 6) <> $2"#,
                tenant_id,
                header
            )
            .fetch_one(conn)
            .await?
        }
        Wrapped::InvitationKeys => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from invitations where tenant_id = $1
               and substring(key_wrapped from 1 for 6) <> $2"#,
                tenant_id,
                header
            )
            .fetch_one(conn)
            .await?
        }
        Wrapped::Memories => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from memories where tenant_id = $1
               and substring(text_sealed from 1 for 2) = '\x0101'::bytea
               and substring(text_sealed from 1 for 6) <> $2"#,
                tenant_id,
                header
            )
            .fetch_one(conn)
            .await?
        }
    };
    Ok(n)
}

/// Seals one batch of `table`'s plain rows; how many, and whether any may be left.
async fn seal_batch(
    conn: &mut PgConnection,
    keys: &TenantKeys,
    tenant_id: Uuid,
    table: Table,
) -> Step<(i64, bool)> {
    let did = match table {
        Table::Identities => {
            crate::identities::sealed::seal_plain(conn, keys, tenant_id, BATCH).await?
        }
        Table::Invitations => crate::invitations::seal_plain(conn, keys, tenant_id, BATCH).await?,
        Table::Memories => {
            crate::memories::sealed::seal_plain(conn, keys, tenant_id, BATCH).await?
        }
        Table::SsoLinks => crate::sso::flow::seal_plain(conn, keys, tenant_id, BATCH).await?,
        Table::AuditRecords => {
            let did = super::reseal::audit(conn, keys, tenant_id).await?;
            return Ok((did, plain_in(conn, tenant_id, table).await?));
        }
        Table::Events => super::reseal::events(conn, keys, tenant_id, BATCH).await? as u64,
    };
    let more = did as i64 == BATCH || plain_in(conn, tenant_id, table).await?;
    Ok((did as i64, more))
}
