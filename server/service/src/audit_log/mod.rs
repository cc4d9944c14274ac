//! The audit trail: one record per change, written when the change's transaction commits,
//! chained per tenant (migration 013 says how), and read, filtered and verified here.

use serde_json::Value;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::ctx::Ctx;
use crate::db::Change;
use crate::error::Result;
use crate::pagination::{self, Page};
use crate::validation::Choice;

mod export;
mod seal;
pub use export::*;
pub use seal::{SEAL_BATCH, SWEEP_MIN_AGE, SealQueue, seal, seal_pending};

/// How what a record tells of ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    /// An authorization refused it.
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

impl Choice for Outcome {
    const FIELD: &'static str = "outcome";
    const NAMES: &'static [(&'static str, Self)] = &[
        ("success", Outcome::Success),
        ("failure", Outcome::Failure),
        ("denied", Outcome::Denied),
    ];
}

/// A change's audit record, waiting for its transaction to commit.
pub(crate) struct Pending {
    pub id: Uuid,
    pub change: Change,
}

/// Inserts a transaction's audit records in one statement, in the order they were
/// recorded, unsealed: once they commit, the sealer links them to the tenant's chain in
/// that order (see [`seal`]).
pub(crate) async fn write(
    conn: &mut PgConnection,
    ctx: &Ctx,
    tenant_id: Uuid,
    pending: &[Pending],
) -> Result<Option<String>> {
    let (actor_type, actor_id) = ctx.actor();
    let ip = ctx.ip.map(|ip| ip.to_string());
    let ids: Vec<Uuid> = pending.iter().map(|p| p.id).collect();
    let actions: Vec<&str> = pending.iter().map(|p| p.change.action.as_str()).collect();
    let target_types: Vec<&str> = pending.iter().map(|p| p.change.target_type).collect();
    let target_ids: Vec<Option<Uuid>> = pending.iter().map(|p| p.change.target_id).collect();
    let befores: Vec<Option<Value>> = pending.iter().map(|p| p.change.before.clone()).collect();
    let afters: Vec<Option<Value>> = pending.iter().map(|p| p.change.after.clone()).collect();
    // The same statement reads what the transaction noted it changed of callers (see
    // `crate::auth::callers`), for the committing instance to forget at once.
    let noted = sqlx::query_scalar!(
        r#"with written as (
               insert into audit_log
                   (tenant_id, id, actor_type, actor_id, action, target_type, target_id,
                    before, after, request_id, ip, user_agent)
               select $1, r.id, $2, $3, r.action, r.target_type, r.target_id, r.before, r.after,
                      $4, $5::text::inet, $6
               from unnest($7::uuid[], $8::text[], $9::text[], $10::uuid[], $11::jsonb[], $12::jsonb[])
                    with ordinality as r(id, action, target_type, target_id, before, after, n)
               order by r.n
               returning 1)
           select current_setting('tenantry.callers_changed', true) as "noted""#,
        tenant_id,
        actor_type,
        actor_id,
        ctx.request_id,
        ip,
        ctx.user_agent.as_deref(),
        &ids,
        &actions as &[&str],
        &target_types as &[&str],
        &target_ids as &[Option<Uuid>],
        &befores as &[Option<Value>],
        &afters as &[Option<Value>],
    )
    .fetch_one(conn)
    .await?;
    Ok(noted.filter(|n| !n.is_empty()))
}

/// Who did something and from where, as the audit trail records it.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub actor_type: &'static str,
    pub actor_id: Option<Uuid>,
    pub request_id: String,
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

impl Origin {
    /// The request's caller as the actor.
    pub fn of(ctx: &Ctx) -> Origin {
        let (actor_type, actor_id) = ctx.actor();
        Origin {
            actor_type,
            actor_id,
            request_id: ctx.request_id.clone(),
            ip: ctx.ip,
            user_agent: ctx.user_agent.clone(),
        }
    }

    /// Someone not (yet) known: a sign-in that failed.
    pub fn anonymous(ctx: &Ctx) -> Origin {
        Origin {
            actor_type: "anonymous",
            actor_id: None,
            ..Origin::of(ctx)
        }
    }

    /// The identity that has just proved who it is.
    pub fn identity(ctx: &Ctx, identity_id: Uuid) -> Origin {
        Origin {
            actor_type: "identity",
            actor_id: Some(identity_id),
            ..Origin::of(ctx)
        }
    }
}

/// Something that happened without changing data (a sign-in, a denied authorization),
/// recorded in a transaction of its own; the sealer links it like any other record.
#[derive(Debug, Clone)]
pub(crate) struct Occurrence {
    pub action: &'static str,
    pub target_type: &'static str,
    pub target_id: Option<Uuid>,
    pub outcome: Outcome,
    pub detail: Value,
}

pub(crate) async fn write_occurrence(
    db: &crate::Db,
    tenant_id: Uuid,
    origin: &Origin,
    o: Occurrence,
) -> Result<()> {
    let mut tx = db.begin_tenant(tenant_id).await?;
    sqlx::query!(
        "insert into audit_log
             (tenant_id, id, actor_type, actor_id, action, target_type, target_id, outcome,
              after, request_id, ip, user_agent)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::inet, $12)",
        tenant_id,
        Uuid::now_v7(),
        origin.actor_type,
        origin.actor_id,
        o.action,
        o.target_type,
        o.target_id,
        o.outcome.as_str(),
        o.detail,
        origin.request_id,
        origin.ip.map(|ip| ip.to_string()),
        origin.user_agent.as_deref(),
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    db.sealer().note(tenant_id);
    Ok(())
}

/// Records a denied authorization off the request's path: the denial is already the
/// request's answer, and its record must not wait for (or be lost with) the request's own
/// transaction, which rolls back. At most [`MAX_DENIALS_IN_FLIGHT`] are written at once; a
/// flood beyond that is logged and not recorded one by one.
pub(crate) fn record_denial(db: &crate::Db, tenant_id: Uuid, origin: Origin, o: Occurrence) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if IN_FLIGHT.fetch_add(1, Ordering::AcqRel) >= MAX_DENIALS_IN_FLIGHT {
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
        tracing::warn!(tenant = %tenant_id, action = o.action, "too many denials at once: this one is not in the audit trail");
        return;
    }
    let db = db.clone();
    runtime.spawn(async move {
        if let Err(e) = write_occurrence(&db, tenant_id, &origin, o).await {
            tracing::error!(error = %e, "recording a denied authorization failed");
        }
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    });
}

pub(crate) const MAX_DENIALS_IN_FLIGHT: usize = 64;

impl AuditRecord {
    /// The record's hash in the chain, as hex.
    pub fn hash_hex(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One audit record as stored.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: Uuid,
    /// Its place in the tenant's hash chain.
    pub seq: i64,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    /// The actor's display name or email, while the actor still exists.
    pub actor_label: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<Uuid>,
    pub outcome: Outcome,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub occurred_at: time::OffsetDateTime,
    /// SHA-256 of the record's canonical content and the previous record's hash.
    pub hash: Vec<u8>,
}

const COLUMNS: &str = "a.id, a.seq, a.actor_type, a.actor_id, \
    null::text as actor_label, a.action, a.target_type, \
    a.target_id, a.outcome, a.before, a.after, a.request_id, host(a.ip) as ip, a.user_agent, \
    a.occurred_at, a.hash";
const FROM: &str = "from audit_log a";

/// Makes records ready to show: actors named and personal values in `before` and `after`
/// opened (`null` once the person is erased). Names are sealed: opened here, not joined.
pub(crate) async fn present(tx: &mut crate::db::ReadTx, rows: &mut [AuditRecord]) -> Result<()> {
    let tenant_id = tx.tenant_id;
    let (conn, keyring) = tx.parts();
    crate::identities::sealed::name_each(
        conn,
        keyring,
        tenant_id,
        rows,
        |r| r.actor_id,
        |r, label| r.actor_label = label,
    )
    .await?;
    let mut values = Vec::new();
    for r in rows.iter_mut() {
        for (path, value) in [("before", &mut r.before), ("after", &mut r.after)] {
            if let Some(value) = value {
                let spot = crate::privacy::personal::Spot {
                    tenant: tenant_id,
                    table: "audit_log",
                    row: r.id,
                    path,
                };
                values.push((spot, value));
            }
        }
    }
    crate::privacy::personal::open_all(conn, keyring, tenant_id, &mut values).await
}

/// `select` of the tenant's sealed records (a record committed a moment ago may still be
/// waiting for its place in the chain; the next read shows it), for more conditions.
fn select_sealed(tenant_id: Uuid) -> QueryBuilder<Postgres> {
    let mut q =
        QueryBuilder::<Postgres>::new(format!("select {COLUMNS} {FROM} where a.tenant_id = "));
    q.push_bind(tenant_id);
    q.push(" and a.seq is not null");
    q
}

/// A read of the caller's trail, authorized, after sealing what its tenant has waiting:
/// it then sees every record committed before it.
pub(crate) async fn read_sealed(ctx: &Ctx, db: &crate::Db) -> Result<crate::db::ReadTx> {
    sealed_read(db, authorize_read(ctx)?).await
}

/// Seals the tenant's waiting records, then opens a read of it (authorized already).
async fn sealed_read(db: &crate::Db, tenant_id: Uuid) -> Result<crate::db::ReadTx> {
    seal(db, tenant_id).await?;
    db.read_in(tenant_id).await
}

/// Authorizes reading the caller's trail; its tenant.
fn authorize_read(ctx: &Ctx) -> Result<Uuid> {
    let permission = crate::authz::perm::AUDIT_READ;
    let tenant_id = ctx.tenant_id()?;
    ctx.authorize(
        permission,
        crate::authz::Target::collection(tenant_id, permission.module),
    )?;
    Ok(tenant_id)
}

/// Which records to list; every field narrows the list.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor_id: Option<Uuid>,
    /// An action (`identity.created`), or a prefix ending in `*` (`identity.*`).
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<Uuid>,
    pub outcome: Option<String>,
    pub request_id: Option<String>,
    /// `occurred_at >= from`.
    pub from: Option<time::OffsetDateTime>,
    /// `occurred_at < to`.
    pub to: Option<time::OffsetDateTime>,
    pub limit: Option<u32>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

fn encode_seq(seq: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(seq.to_be_bytes())
}

fn decode_seq(cursor: &str) -> Result<i64> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map(i64::from_be_bytes)
        .ok_or_else(|| crate::Error::BadRequest("invalid cursor".into()))
}

impl AuditQuery {
    fn push_filters(&self, q: &mut QueryBuilder<Postgres>) -> Result<()> {
        if let Some(a) = self.actor_id {
            q.push(" and a.actor_id = ").push_bind(a);
        }
        if let Some(action) = self
            .action
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match action.strip_suffix('*') {
                Some(prefix) => {
                    let escaped = prefix
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    q.push(" and a.action like ")
                        .push_bind(format!("{escaped}%"));
                }
                None => {
                    q.push(" and a.action = ").push_bind(action.to_owned());
                }
            }
        }
        if let Some(t) = self.target_type.as_deref().filter(|t| !t.is_empty()) {
            q.push(" and a.target_type = ").push_bind(t.to_owned());
        }
        if let Some(t) = self.target_id {
            q.push(" and a.target_id = ").push_bind(t);
        }
        if let Some(o) = Outcome::read_opt(self.outcome.as_deref())? {
            q.push(" and a.outcome = ").push_bind(o.as_str());
        }
        if let Some(r) = self.request_id.as_deref().filter(|r| !r.is_empty()) {
            q.push(" and a.request_id = ").push_bind(r.to_owned());
        }
        if let Some(f) = self.from {
            q.push(" and a.occurred_at >= ").push_bind(f);
        }
        if let Some(t) = self.to {
            q.push(" and a.occurred_at < ").push_bind(t);
        }
        Ok(())
    }
}

/// The tenant's audit records, newest first (by their place in the chain).
pub async fn list(ctx: &Ctx, db: &crate::Db, query: &AuditQuery) -> Result<Page<AuditRecord>> {
    let limit = pagination::limit(query.limit)?;
    let after = query.cursor.as_deref().map(decode_seq).transpose()?;
    let mut tx = read_sealed(ctx, db).await?;
    let mut q = select_sealed(tx.tenant_id);
    query.push_filters(&mut q)?;
    if let Some(seq) = after {
        q.push(" and a.seq < ").push_bind(seq);
    }
    q.push(" order by a.seq desc limit ")
        .push_bind(i64::from(limit) + 1);
    let mut rows: Vec<AuditRecord> = q.build_query_as().fetch_all(tx.conn()).await?;
    present(&mut tx, &mut rows).await?;
    let mut page = pagination::page(rows, limit, |r| r.id);
    page.next_cursor = page
        .next_cursor
        .and(page.items.last().map(|r| encode_seq(r.seq)));
    Ok(page)
}

/// One audit record.
pub async fn get(ctx: &Ctx, db: &crate::Db, id: Uuid) -> Result<AuditRecord> {
    let mut tx = read_sealed(ctx, db).await?;
    let mut q = select_sealed(tx.tenant_id);
    q.push(" and a.id = ").push_bind(id);
    let mut record: Vec<AuditRecord> = q
        .build_query_as()
        .fetch_optional(tx.conn())
        .await?
        .into_iter()
        .collect();
    present(&mut tx, &mut record).await?;
    record.pop().ok_or(crate::Error::NotFound {
        resource: "audit record",
    })
}

/// The audit records about one target, newest first.
pub async fn for_target(
    ctx: &Ctx,
    db: &crate::Db,
    target_type: &str,
    target_id: Uuid,
) -> Result<Vec<AuditRecord>> {
    let mut tx = read_sealed(ctx, db).await?;
    let mut q = select_sealed(tx.tenant_id);
    q.push(" and a.target_type = ")
        .push_bind(target_type.to_owned());
    q.push(" and a.target_id = ").push_bind(target_id);
    q.push(" order by a.seq desc");
    let mut rows: Vec<AuditRecord> = q.build_query_as().fetch_all(tx.conn()).await?;
    present(&mut tx, &mut rows).await?;
    Ok(rows)
}

/// The records where `person` is the actor or the target, oldest first, ready to show
/// (for an export of their data; the caller authorized).
pub(crate) async fn about(tx: &mut crate::db::ReadTx, person: Uuid) -> Result<Vec<AuditRecord>> {
    let mut q = select_sealed(tx.tenant_id);
    q.push(" and (a.actor_id = ")
        .push_bind(person)
        .push(" or a.target_id = ")
        .push_bind(person)
        .push(") order by a.seq");
    let mut rows: Vec<AuditRecord> = q.build_query_as().fetch_all(tx.conn()).await?;
    present(tx, &mut rows).await?;
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// Retention

/// Removes, in every tenant, the audit records older than its retention (its own setting,
/// else its plan's default: free 90 days, pro 365, enterprise 2,555). Only a prefix of the
/// chain goes; a checkpoint keeps the rest verifiable, and an `audit.pruned` record says
/// what went (migration 013, `tenantry_audit_prune`). Returns how many records went.
pub async fn prune_all(db: &crate::Db) -> Result<i64> {
    let mut total = 0;
    for tenant_id in db.tenant_ids().await? {
        let mut tx = db.begin_tenant(tenant_id).await?;
        let removed = sqlx::query_scalar!(
            r#"select tenantry_audit_prune($1) as "removed!""#,
            tenant_id
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        if removed > 0 {
            tracing::info!(tenant = %tenant_id, removed, "old audit records pruned");
        }
        total += removed;
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------
// Verification of the hash chain

/// Records checked per query while verifying.
const VERIFY_CHUNK: i64 = 5_000;

/// The hash before a tenant's first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// Why a link of the chain does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Broken {
    /// The record's content no longer gives its hash: the record was edited.
    HashMismatch,
    /// The record does not point at the hash of the one before it: a record before it was
    /// edited together with its hash, or replaced.
    LinkBroken,
    /// A sequence number is missing: a record was removed.
    Missing,
    /// The tenant's chain head is past the last record: records at the end were removed.
    Truncated,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BrokenLink {
    pub seq: i64,
    /// The record at `seq`, when there is one.
    pub id: Option<Uuid>,
    pub reason: Broken,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    /// The first and last sequence numbers checked (none when the range is empty).
    pub from_seq: Option<i64>,
    pub to_seq: Option<i64>,
    pub checked: i64,
    /// The first link that does not hold; `None`: the range is intact.
    pub broken: Option<BrokenLink>,
    /// The chain's length so far (the head's sequence number).
    pub head_seq: i64,
    /// Records committed after the chain was last sealed, not yet in it (and so not
    /// checked): normally none, or a few for a few milliseconds.
    pub unsealed: i64,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.broken.is_none()
    }
}

/// Checks the tenant's chain from `from_seq` to `to_seq` (both inclusive; default: from
/// the oldest record kept to the head), and stops at the first broken link. The record
/// before the range (or the pruning checkpoint, or the genesis hash) anchors it.
pub async fn verify(
    ctx: &Ctx,
    db: &crate::Db,
    from_seq: Option<i64>,
    to_seq: Option<i64>,
) -> Result<Verification> {
    let tenant_id = authorize_read(ctx)?;
    if let (Some(a), Some(b)) = (from_seq, to_seq)
        && a > b
    {
        return Err(crate::Error::validation(
            "to_seq",
            "out_of_range",
            "The range ends before it starts.",
        ));
    }
    // One snapshot for the whole check: the sealing job may link the chain again meanwhile
    // (privacy::reseal), and chunks read at two moments would disagree.
    seal(db, tenant_id).await?;
    let mut tx = db.read_snapshot_in(tenant_id).await?;
    let head_seq = sqlx::query_scalar!(
        "select seq from audit_chain_heads where tenant_id = $1",
        tenant_id
    )
    .fetch_optional(tx.conn())
    .await?
    .unwrap_or(0);
    // Where the chain starts now: after the last pruning checkpoint, if any.
    let checkpoint = sqlx::query!(
        "select seq, hash from audit_checkpoints where tenant_id = $1 order by seq desc limit 1",
        tenant_id
    )
    .fetch_optional(tx.conn())
    .await?;
    let first_kept = checkpoint.as_ref().map_or(1, |c| c.seq + 1);
    let from = from_seq.unwrap_or(first_kept).max(first_kept).max(1);
    let to = to_seq.unwrap_or(head_seq).min(head_seq);
    let mut out = Verification {
        from_seq: None,
        to_seq: None,
        checked: 0,
        broken: None,
        head_seq,
        unsealed: seal::unsealed(tx.conn(), tenant_id).await?,
    };
    if from > to {
        return Ok(out);
    }
    // The anchor: the hash the record at `from` must point at.
    let mut expected: Vec<u8> = if from == 1 {
        GENESIS.to_vec()
    } else if checkpoint.as_ref().is_some_and(|c| c.seq == from - 1) {
        checkpoint.map(|c| c.hash).unwrap_or_default()
    } else {
        match sqlx::query_scalar!(
            r#"select hash as "hash!" from audit_log where tenant_id = $1 and seq = $2"#,
            tenant_id,
            from - 1
        )
        .fetch_optional(tx.conn())
        .await?
        {
            Some(h) => h,
            None => {
                out.broken = Some(BrokenLink {
                    seq: from - 1,
                    id: None,
                    reason: Broken::Missing,
                });
                return Ok(out);
            }
        }
    };
    let mut next = from;
    while next <= to {
        let upto = (next + VERIFY_CHUNK - 1).min(to);
        let rows = sqlx::query!(
            r#"select a.seq as "seq!", a.id, a.prev_hash as "prev_hash!", a.hash as "hash!",
                      tenantry_audit_digest(a) as "digest!"
               from audit_log a
               where a.tenant_id = $1 and a.seq between $2 and $3
               order by a.seq"#,
            tenant_id,
            next,
            upto
        )
        .fetch_all(tx.conn())
        .await?;
        for r in rows {
            let fail = |reason, seq, id| Some(BrokenLink { seq, id, reason });
            if r.seq != next {
                out.broken = fail(Broken::Missing, next, None);
            } else if r.prev_hash != expected {
                out.broken = fail(Broken::LinkBroken, r.seq, Some(r.id));
            } else if r.digest != r.hash {
                out.broken = fail(Broken::HashMismatch, r.seq, Some(r.id));
            }
            if out.broken.is_some() {
                return Ok(out);
            }
            out.from_seq.get_or_insert(r.seq);
            out.to_seq = Some(r.seq);
            out.checked += 1;
            expected = r.hash;
            next += 1;
        }
        if next <= upto {
            // The chunk ended early: the records from `next` on are missing, up to a later
            // record (a gap) or to the head (the end was cut off).
            let later = sqlx::query_scalar!(
                r#"select exists (select 1 from audit_log where tenant_id = $1 and seq > $2) as "e!""#,
                tenant_id,
                next
            )
            .fetch_one(tx.conn())
            .await?;
            out.broken = Some(BrokenLink {
                seq: next,
                id: None,
                reason: if later {
                    Broken::Missing
                } else {
                    Broken::Truncated
                },
            });
            return Ok(out);
        }
    }
    Ok(out)
}
