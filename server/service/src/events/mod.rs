//! Domain events: written to the outbox in the change's transaction, so an event exists
//! exactly when its change committed. Delivery (webhooks) reads the outbox later.

use serde_json::json;
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::db::Change;
use crate::error::{Error, Result};
use crate::pagination::{self, Page};

pub mod catalogue;

/// Writes the event of `change`; `sealer` seals the personal values of its data (after the
/// catalogue's check, which sees them as the event's schema says).
pub(crate) async fn emit(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    change: &Change,
    audit_id: Uuid,
    sealer: Option<&crate::privacy::personal::Sealer<'_>>,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    let data = change.after.as_ref().or(change.before.as_ref());
    let mut payload = json!({ "id": change.target_id, "data": data });
    #[cfg(feature = "event-checks")]
    catalogue::check(change.action.as_str(), change.target_type, &payload)
        .map_err(Error::Internal)?;
    if let Some(sealer) = sealer {
        sealer.seal(data_spot(tenant_id, id), &mut payload["data"]);
    }
    sqlx::query!(
        "insert into outbox_events (tenant_id, id, event_type, subject_type, subject_id, payload, audit_id)
         values ($1, $2, $3, $4, $5, $6, $7)",
        tenant_id,
        id,
        change.action.as_str(),
        change.target_type,
        change.target_id,
        payload,
        audit_id
    )
    .execute(&mut *conn)
    .await?;
    crate::webhooks::fan_out(conn, tenant_id, id, change.action.as_str()).await?;
    Ok(id)
}

/// Where an event's data lives, for sealing and opening its personal values.
pub(crate) fn data_spot(tenant: Uuid, event: Uuid) -> crate::privacy::personal::Spot<'static> {
    crate::privacy::personal::Spot {
        tenant,
        table: "outbox_events",
        row: event,
        path: "data",
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub event_type: String,
    pub subject_type: String,
    pub subject_id: Option<Uuid>,
    pub payload: serde_json::Value,
    pub audit_id: Option<Uuid>,
}

/// The events about one subject, oldest first.
pub async fn for_subject(
    ctx: &crate::Ctx,
    db: &crate::Db,
    subject_id: Uuid,
) -> Result<Vec<OutboxEvent>> {
    let mut tx = db.read(ctx, crate::authz::perm::AUDIT_READ).await?;
    let mut rows = sqlx::query_as!(
        OutboxEvent,
        "select id, event_type, subject_type, subject_id, payload, audit_id
         from outbox_events where tenant_id = $1 and subject_id = $2 order by id",
        tx.tenant_id,
        subject_id
    )
    .fetch_all(tx.conn())
    .await?;
    let tenant_id = tx.tenant_id;
    let (conn, keyring) = tx.parts();
    open_payloads(
        conn,
        keyring,
        tenant_id,
        rows.iter_mut().map(|e| (e.id, &mut e.payload)),
    )
    .await?;
    Ok(rows)
}

/// Opens the personal values of a webhook body's or a stored event's data (`null` once
/// the person is erased), in the open transaction `conn` scoped to `tenant`.
pub(crate) async fn open_payloads<'a>(
    conn: &mut PgConnection,
    keyring: &crate::privacy::keys::Keyring,
    tenant: Uuid,
    payloads: impl Iterator<Item = (Uuid, &'a mut serde_json::Value)>,
) -> Result<()> {
    let mut data: Vec<_> = payloads
        .map(|(id, payload)| (data_spot(tenant, id), &mut payload["data"]))
        .collect();
    crate::privacy::personal::open_all(conn, keyring, tenant, &mut data).await
}

/// One event as programs read it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Event {
    pub id: Uuid,
    /// `identity.created`, `memory.deleted`, ...
    pub event_type: String,
    pub subject_type: String,
    pub subject_id: Option<Uuid>,
    /// `{ "id": <subject id>, "data": <the subject after the change, or before a removal> }`.
    pub payload: serde_json::Value,
    /// The audit record of the change (actor, request, before/after).
    pub audit_id: Option<Uuid>,
    /// Who made the change, from that record.
    pub actor_type: Option<String>,
    pub actor_id: Option<Uuid>,
    /// The acting identity's name (or email), while it exists.
    pub actor_label: Option<String>,
    pub occurred_at: time::OffsetDateTime,
}

/// Which events to list; every field narrows the list.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Event types, each exact (`identity.created`) or a prefix wildcard (`identity.*`, `*`).
    pub types: Vec<String>,
    /// Events about this identity or made by it.
    pub identity_id: Option<Uuid>,
    pub subject_id: Option<Uuid>,
    /// `occurred_at >= from`.
    pub from: Option<time::OffsetDateTime>,
    /// `occurred_at < to`.
    pub to: Option<time::OffsetDateTime>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

const EVENT_COLUMNS: &str = "e.id, e.event_type, e.subject_type, e.subject_id, e.payload, \
    e.audit_id, a.actor_type, a.actor_id, \
    null::text as actor_label, e.created_at as occurred_at";
const EVENT_FROM: &str = "from outbox_events e \
    left join audit_log a on a.tenant_id = e.tenant_id and a.id = e.audit_id";

/// Makes events ready to show: actors named and personal values opened (names are
/// sealed: opened here, not joined).
async fn present(tx: &mut crate::db::ReadTx, rows: &mut [Event]) -> Result<()> {
    let tenant_id = tx.tenant_id;
    let (conn, keyring) = tx.parts();
    crate::identities::sealed::name_each(
        conn,
        keyring,
        tenant_id,
        rows,
        |e| {
            e.actor_id
                .filter(|_| e.actor_type.as_deref() == Some("identity"))
        },
        |e, label| e.actor_label = label,
    )
    .await?;
    open_payloads(
        conn,
        keyring,
        tenant_id,
        rows.iter_mut().map(|e| (e.id, &mut e.payload)),
    )
    .await
}

/// Whether `name` is of the types `pattern` (`area.verb`, `area.*` or `*`) names.
pub fn type_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Checks one type pattern: `area.verb`, `area.*` or `*`, of lowercase letters, digits,
/// underscores and dots.
pub fn valid_pattern(p: &str) -> bool {
    let body = p.strip_suffix('*').unwrap_or(p);
    !p.is_empty()
        && p.len() <= 100
        && (body.is_empty() || body.ends_with('.') || !p.ends_with('*'))
        && body
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

impl EventQuery {
    fn push_filters(&self, q: &mut QueryBuilder<Postgres>) -> Result<()> {
        let patterns: Vec<&str> = self
            .types
            .iter()
            .flat_map(|t| t.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(bad) = patterns.iter().find(|p| !valid_pattern(p)) {
            return Err(Error::validation(
                "type",
                "invalid_pattern",
                format!("{bad:?} is not an event type or a pattern such as identity.* or *"),
            ));
        }
        if let Some(unknown) = patterns.iter().find(|p| !catalogue::matches_any(p)) {
            return Err(Error::validation(
                "type",
                "unknown_type",
                format!("no event type is {unknown:?}: GET /v1/events/types lists them"),
            ));
        }
        if !patterns.is_empty() && !patterns.contains(&"*") {
            let exact: Vec<String> = patterns
                .iter()
                .filter(|p| !p.ends_with('*'))
                .map(|p| (*p).to_owned())
                .collect();
            let prefixes: Vec<String> = patterns
                .iter()
                .filter_map(|p| p.strip_suffix('*'))
                .map(|p| format!("{}%", p.replace('_', "\\_")))
                .collect();
            q.push(" and (e.event_type = any(").push_bind(exact);
            q.push(") or e.event_type like any(").push_bind(prefixes);
            q.push("))");
        }
        if let Some(i) = self.identity_id {
            q.push(" and (e.subject_id = ").push_bind(i);
            q.push(" or a.actor_id = ").push_bind(i).push(")");
        }
        if let Some(s) = self.subject_id {
            q.push(" and e.subject_id = ").push_bind(s);
        }
        if let Some(f) = self.from {
            q.push(" and e.created_at >= ").push_bind(f);
        }
        if let Some(t) = self.to {
            q.push(" and e.created_at < ").push_bind(t);
        }
        Ok(())
    }
}

/// The tenant's events, newest first.
pub async fn list(ctx: &crate::Ctx, db: &crate::Db, query: &EventQuery) -> Result<Page<Event>> {
    let limit = pagination::limit(query.limit)?;
    let mut tx = db.read(ctx, crate::authz::perm::AUDIT_READ).await?;
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "select {EVENT_COLUMNS} {EVENT_FROM} where e.tenant_id = "
    ));
    q.push_bind(tx.tenant_id);
    query.push_filters(&mut q)?;
    if let Some(c) = query.cursor.as_deref() {
        q.push(" and e.id < ")
            .push_bind(pagination::decode_cursor(c)?);
    }
    q.push(" order by e.id desc limit ")
        .push_bind(i64::from(limit) + 1);
    let mut rows: Vec<Event> = q.build_query_as().fetch_all(tx.conn()).await?;
    present(&mut tx, &mut rows).await?;
    Ok(pagination::page(rows, limit, |e| e.id))
}

/// One event of the tenant.
pub async fn get(ctx: &crate::Ctx, db: &crate::Db, id: Uuid) -> Result<Event> {
    let mut tx = db.read(ctx, crate::authz::perm::AUDIT_READ).await?;
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "select {EVENT_COLUMNS} {EVENT_FROM} where e.tenant_id = "
    ));
    q.push_bind(tx.tenant_id);
    q.push(" and e.id = ").push_bind(id);
    let mut event: Vec<Event> = q
        .build_query_as()
        .fetch_optional(tx.conn())
        .await?
        .into_iter()
        .collect();
    present(&mut tx, &mut event).await?;
    event.pop().ok_or(Error::NotFound { resource: "event" })
}

/// The events about `person` or made by them, oldest first, ready to show (for an export
/// of their data; the caller authorized).
pub(crate) async fn about(tx: &mut crate::db::ReadTx, person: Uuid) -> Result<Vec<Event>> {
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "select {EVENT_COLUMNS} {EVENT_FROM} where e.tenant_id = "
    ));
    q.push_bind(tx.tenant_id);
    q.push(" and (e.subject_id = ")
        .push_bind(person)
        .push(" or (a.actor_type = 'identity' and a.actor_id = ")
        .push_bind(person)
        .push(")) order by e.id");
    let mut rows: Vec<Event> = q.build_query_as().fetch_all(tx.conn()).await?;
    present(tx, &mut rows).await?;
    Ok(rows)
}

/// How many events of each type happened in each time bucket.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stats {
    /// `hour` or `day`.
    pub bucket: &'static str,
    pub from: time::OffsetDateTime,
    pub to: time::OffsetDateTime,
    pub total: i64,
    /// Per type over the whole range, most frequent first.
    pub by_type: Vec<TypeCount>,
    /// Per bucket start and type, oldest first; buckets without events are left out.
    pub series: Vec<BucketCount>,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct TypeCount {
    pub event_type: String,
    pub count: i64,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct BucketCount {
    pub bucket_start: time::OffsetDateTime,
    pub event_type: String,
    pub count: i64,
}

/// The longest range stats cover: a year of days, or 31 days of hours.
const MAX_STAT_DAYS: i64 = 366;
const MAX_STAT_HOURS: i64 = 31 * 24;

/// Counts of the tenant's events by type over `[from, to)` (default: the last 7 days), per
/// `bucket` (`hour` or `day`, default `day`), optionally only of `types` (patterns as in
/// [`EventQuery`]).
pub async fn stats(
    ctx: &crate::Ctx,
    db: &crate::Db,
    query: &EventQuery,
    bucket: Option<&str>,
) -> Result<Stats> {
    let bucket = match bucket.unwrap_or("day") {
        "day" => "day",
        "hour" => "hour",
        _ => {
            return Err(Error::validation(
                "bucket",
                "invalid_value",
                "bucket is hour or day",
            ));
        }
    };
    let to = query.to.unwrap_or_else(time::OffsetDateTime::now_utc);
    let from = query.from.unwrap_or(to - time::Duration::days(7));
    let span = to - from;
    let too_long = match bucket {
        "hour" => span > time::Duration::hours(MAX_STAT_HOURS),
        _ => span > time::Duration::days(MAX_STAT_DAYS),
    };
    if span <= time::Duration::ZERO || too_long {
        return Err(Error::validation(
            "from",
            "out_of_range",
            format!(
                "from must be before to, and the range at most {MAX_STAT_HOURS} hours by hour or {MAX_STAT_DAYS} days by day"
            ),
        ));
    }
    let query = EventQuery {
        from: Some(from),
        to: Some(to),
        ..query.clone()
    };
    let mut tx = db.read(ctx, crate::authz::perm::AUDIT_READ).await?;
    let mut q = QueryBuilder::<Postgres>::new("select date_trunc(");
    q.push_bind(bucket);
    q.push(
        ", e.created_at, 'UTC') as bucket_start, e.event_type, count(*) as count \
         from outbox_events e left join audit_log a on a.tenant_id = e.tenant_id and a.id = e.audit_id \
         where e.tenant_id = ",
    );
    q.push_bind(tx.tenant_id);
    query.push_filters(&mut q)?;
    q.push(" group by 1, 2 order by 1, 2");
    let series: Vec<BucketCount> = q.build_query_as().fetch_all(tx.conn()).await?;
    let mut by_type: std::collections::BTreeMap<&str, i64> = Default::default();
    for s in &series {
        *by_type.entry(s.event_type.as_str()).or_default() += s.count;
    }
    let mut by_type: Vec<TypeCount> = by_type
        .into_iter()
        .map(|(event_type, count)| TypeCount {
            event_type: event_type.to_owned(),
            count,
        })
        .collect();
    by_type.sort_by(|a, b| b.count.cmp(&a.count).then(a.event_type.cmp(&b.event_type)));
    Ok(Stats {
        bucket,
        from,
        to,
        total: by_type.iter().map(|t| t.count).sum(),
        by_type,
        series,
    })
}

/// Events removed per statement while pruning.
const PRUNE_BATCH: i32 = 5_000;

/// Removes events older than `days` days from every tenant, in batches (migration 015's
/// `tenantry_events_prune`). Returns how many.
pub async fn prune(db: &crate::Db, days: u32) -> Result<i64> {
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    let mut removed = 0;
    for tenant_id in db.tenant_ids().await? {
        loop {
            let mut tx = db.begin_tenant(tenant_id).await?;
            let n = sqlx::query_scalar!(
                r#"select tenantry_events_prune($1, $2, $3) as "removed!""#,
                tenant_id,
                days,
                PRUNE_BATCH
            )
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            removed += n;
            if n < i64::from(PRUNE_BATCH) {
                break;
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, days, "old events pruned");
    }
    Ok(removed)
}
