//! Webhooks: a tenant subscribes URLs to its event types, and every event is delivered to
//! every matching subscription at least once, signed per the Standard Webhooks
//! specification ([`signing`]), retried with backoff, and logged attempt by attempt.
//!
//! The pieces:
//! * subscriptions (this module): CRUD, the secret (sealed with the master key, shown once,
//!   rotated with an overlap during which both secrets sign);
//! * the fan-out ([`fan_out`]): in the change's own transaction, one delivery row per
//!   matching enabled subscription, so a delivery exists exactly when its event committed;
//! * the worker ([`delivery`]): claims due deliveries with `FOR UPDATE SKIP LOCKED` and holds
//!   them for the attempt, so instances share the work and never make the same attempt
//!   twice; a dead instance's claims are released with its connection;
//! * the guard ([`guard`]): URLs that reach private, loopback, link-local or metadata
//!   addresses are refused unless the operator allows them.

pub mod delivery;
pub mod guard;
pub mod signing;

use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::authz::{Permission, perm};
use crate::db::Change;
use crate::error::{Error, FieldError, Result};
use crate::events::catalogue::types;
use crate::pagination::{self, Page};
use crate::resource::{Authorized, Lifecycle, Resource, visible};
use crate::{Ctx, Db, validation};

/// Subscriptions a tenant may have.
pub const MAX_SUBSCRIPTIONS: i64 = 50;
/// Event type patterns one subscription may list.
const MAX_PATTERNS: usize = 50;
/// How long the previous secret keeps signing after a rotation, unless the caller says.
pub const DEFAULT_OVERLAP: Duration = Duration::hours(24);
/// The longest overlap a rotation may ask for.
const MAX_OVERLAP: Duration = Duration::days(7);
/// The type of a test ping (never stored in the outbox).
pub const PING_TYPE: &str = "webhook.test";

/// How the server delivers webhooks (set from its configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Allow URLs that reach private, loopback and link-local addresses.
    pub allow_private: bool,
    /// How long one attempt may take, connection included.
    pub timeout: std::time::Duration,
    /// The waits between attempts: after the first attempt fails, the first wait, and so
    /// on; when they run out the delivery has failed. Each wait is varied by ±20%.
    pub retry_schedule: Vec<std::time::Duration>,
    /// Attempts one instance makes at once.
    pub concurrency: usize,
}

/// The default waits: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, about 28 hours in all.
pub const DEFAULT_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allow_private: false,
            timeout: std::time::Duration::from_secs(10),
            retry_schedule: parse_schedule(DEFAULT_SCHEDULE).expect("the default schedule parses"),
            concurrency: 256,
        }
    }
}

/// Parses `5s,5m,2h,1d` (seconds, minutes, hours, days; milliseconds as `ms`).
pub fn parse_schedule(s: &str) -> std::result::Result<Vec<std::time::Duration>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let split = p
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| format!("{p:?} has no unit (ms, s, m, h or d)"))?;
            let (n, unit) = p.split_at(split);
            let n: u64 = n.parse().map_err(|_| format!("{p:?} is not a duration"))?;
            let ms = match unit {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(format!("{p:?}: the unit is ms, s, m, h or d")),
            };
            Ok(std::time::Duration::from_millis(n * ms))
        })
        .collect()
}

/// A subscription as the tenant sees it; its secret is never part of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subscription {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why the server disabled it (it kept failing); none when enabled or disabled by hand.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<OffsetDateTime>,
    /// The first failed attempt since the last success.
    pub failing_since: Option<OffsetDateTime>,
    /// While a rotation's overlap lasts, the previous secret also signs, until then.
    pub previous_secret_until: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Resource for Subscription {
    const MODULE: &'static str = "webhooks";
    const NOUN: &'static str = "webhook";
    const READ: Permission = perm::WEBHOOKS_READ;
    const EVENTS: Lifecycle = Lifecycle {
        created: types::WEBHOOK_CREATED,
        updated: types::WEBHOOK_UPDATED,
        deleted: types::WEBHOOK_DELETED,
    };

    fn id(&self) -> Uuid {
        self.id
    }

    fn snapshot(&self) -> serde_json::Value {
        json!({
            "id": self.id, "name": self.name, "description": self.description, "url": self.url,
            "event_types": self.event_types, "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
        })
    }

    async fn fetch(
        conn: &mut PgConnection,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Self>> {
        if lock {
            let found = sqlx::query_scalar!(
                "select id from webhook_subscriptions where tenant_id = $1 and id = $2 for update",
                tenant_id,
                id
            )
            .fetch_optional(&mut *conn)
            .await?;
            if found.is_none() {
                return Ok(None);
            }
        }
        Ok(load(conn, tenant_id, Some(id)).await?.pop())
    }
}

/// A subscription with its secret, the one time the secret is shown (create, rotate).
/// Neither `Serialize` nor a `Debug` that prints the secret: it leaves only by the door
/// that answers the caller.
#[derive(Clone)]
pub struct WithSecret {
    pub subscription: Subscription,
    /// `whsec_...`: what receivers verify signatures with.
    pub secret: String,
}

impl std::fmt::Debug for WithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithSecret")
            .field("subscription", &self.subscription)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What a create or an update says; on update, absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub name: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

struct Checked {
    name: Option<String>,
    description: Option<String>,
    url: Option<String>,
    event_types: Option<Vec<String>>,
}

async fn check(db: &Db, input: &Input, creating: bool) -> Result<Checked> {
    let mut errors = Vec::new();
    let name = match (&input.name, creating) {
        (Some(n), _) => validation::text("name", n, 100, true, &mut errors),
        (None, true) => validation::text("name", "", 100, true, &mut errors),
        (None, false) => None,
    };
    let description = input
        .description
        .as_deref()
        .and_then(|d| validation::text("description", d, 500, false, &mut errors));
    let allow_private = db.webhooks().settings.allow_private;
    let url = match (&input.url, creating) {
        (None, false) => None,
        (raw, _) => {
            let raw = raw.as_deref().unwrap_or("").trim();
            if raw.is_empty() {
                errors.push(FieldError::new(
                    "url",
                    "required",
                    "Enter the URL events are posted to.",
                ));
                None
            } else if raw.len() > 2000 {
                errors.push(FieldError::new(
                    "url",
                    "too_long",
                    "Use at most 2000 characters.",
                ));
                None
            } else {
                let checked = match guard::check_url(raw, allow_private) {
                    Ok(url) => guard::check_resolves(&url, allow_private)
                        .await
                        .map(|()| url),
                    Err(problem) => Err(problem),
                };
                match checked {
                    Ok(url) => Some(url.to_string()),
                    Err(problem) => {
                        errors.push(FieldError::new("url", problem.code, problem.message));
                        None
                    }
                }
            }
        }
    };
    let event_types = match (&input.event_types, creating) {
        (None, false) => None,
        (types, _) => check_patterns(types.as_deref().unwrap_or_default(), &mut errors),
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(Checked {
        name,
        description,
        url,
        event_types,
    })
}

fn check_patterns(raw: &[String], errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    let mut patterns: Vec<String> = Vec::new();
    for p in raw.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        if !crate::events::valid_pattern(p) {
            errors.push(FieldError::new(
                "event_types",
                "invalid_pattern",
                format!("{p:?} is not an event type or a pattern such as identity.* or *."),
            ));
            return None;
        }
        if !crate::events::catalogue::matches_any(p) {
            errors.push(FieldError::new(
                "event_types",
                "unknown_type",
                format!("No event type is {p:?}: GET /v1/events/types lists them."),
            ));
            return None;
        }
        if !patterns.iter().any(|q| q == p) {
            patterns.push(p.to_owned());
        }
    }
    if patterns.is_empty() {
        errors.push(FieldError::new(
            "event_types",
            "required",
            "Choose at least one event type, or * for all of them.",
        ));
        return None;
    }
    if patterns.len() > MAX_PATTERNS {
        errors.push(FieldError::new(
            "event_types",
            "too_many",
            format!("Use at most {MAX_PATTERNS} patterns."),
        ));
        return None;
    }
    Some(patterns)
}

/// The associated data that binds a sealed secret to its subscription's row.
fn secret_context(tenant_id: Uuid, id: Uuid) -> Vec<u8> {
    let mut context = b"webhook_subscription:".to_vec();
    context.extend_from_slice(tenant_id.as_bytes());
    context.extend_from_slice(id.as_bytes());
    context
}

struct Row {
    id: Uuid,
    name: String,
    description: String,
    url: String,
    event_types: Vec<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    disabled_at: Option<OffsetDateTime>,
    failing_since: Option<OffsetDateTime>,
    previous_secret_until: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<Row> for Subscription {
    fn from(r: Row) -> Self {
        let now = OffsetDateTime::now_utc();
        Subscription {
            id: r.id,
            name: r.name,
            description: r.description,
            url: r.url,
            event_types: r.event_types,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            disabled_at: r.disabled_at,
            failing_since: r.failing_since,
            previous_secret_until: r.previous_secret_until.filter(|t| *t > now),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

async fn load(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Option<Uuid>,
) -> Result<Vec<Subscription>> {
    let rows = sqlx::query_as!(
        Row,
        "select id, name, description, url, event_types, enabled, disabled_reason, disabled_at,
                failing_since, previous_secret_until, created_at, updated_at
         from webhook_subscriptions
         where tenant_id = $1 and ($2::uuid is null or id = $2)
         order by name",
        tenant_id,
        id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A webhook's 404 said of the thing asked for through it (a delivery).
fn not_found_as(e: Error, resource: &'static str) -> Error {
    match e {
        Error::NotFound { .. } => Error::NotFound { resource },
        other => other,
    }
}

fn name_taken(e: sqlx::Error) -> Error {
    match crate::error::unique_violation(&e) {
        Some("webhook_subscriptions_name_key") => Error::Conflict {
            code: "name_taken",
            message: "Another webhook already has this name.".into(),
            field: Some("name"),
        },
        _ => e.into(),
    }
}

/// The tenant's subscriptions the caller may see, by name.
pub async fn list(ctx: &Ctx, db: &Db) -> Result<Vec<Subscription>> {
    let mut tx = db.read(ctx, perm::WEBHOOKS_READ).await?;
    let tenant_id = tx.tenant_id;
    let all = load(tx.conn(), tenant_id, None).await?;
    Ok(all
        .into_iter()
        .filter(|s| visible(ctx, tenant_id, s))
        .collect())
}

pub async fn get(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Subscription> {
    let mut tx = db.read_object(ctx, perm::WEBHOOKS_READ).await?;
    Ok(tx
        .lookup::<Subscription>(ctx, id, perm::WEBHOOKS_READ)
        .await?
        .into_inner())
}

/// Creates a subscription with a fresh secret, returned this once.
pub async fn create(ctx: &Ctx, db: &Db, input: Input) -> Result<WithSecret> {
    let tenant_id = ctx.tenant_id()?;
    // Authorized before the URL's name is resolved: nobody without the permission makes
    // this server look anything up.
    ctx.authorize(
        perm::WEBHOOKS_CREATE,
        crate::authz::Target::collection(tenant_id, "webhooks"),
    )?;
    let checked = check(db, &input, true).await?;
    let master = db.master_key()?.clone();
    let mut tx = db.change(ctx, perm::WEBHOOKS_CREATE).await?;
    let count = sqlx::query_scalar!(
        r#"select count(*) as "n!" from webhook_subscriptions where tenant_id = $1"#,
        tenant_id
    )
    .fetch_one(tx.conn())
    .await?;
    if count >= MAX_SUBSCRIPTIONS {
        return Err(Error::Conflict {
            code: "limit_reached",
            message: format!("A tenant may have {MAX_SUBSCRIPTIONS} webhooks; delete one first."),
            field: None,
        });
    }
    let id = Uuid::now_v7();
    let secret = signing::new_secret();
    let sealed = master.seal(secret.as_bytes(), &secret_context(tenant_id, id));
    sqlx::query!(
        "insert into webhook_subscriptions (tenant_id, id, name, description, url, event_types, enabled, secret_sealed)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        tenant_id,
        id,
        checked.name.expect("checked"),
        checked.description.unwrap_or_default(),
        checked.url.expect("checked"),
        &checked.event_types.expect("checked"),
        input.enabled.unwrap_or(true),
        sealed
    )
    .execute(tx.conn())
    .await
    .map_err(name_taken)?;
    let subscription = tx.reread::<Subscription>(id).await?;
    tx.created(&subscription).await?;
    tx.commit().await?;
    Ok(WithSecret {
        subscription,
        secret,
    })
}

/// Changes a subscription. Disabling it pauses its pending deliveries; enabling it again
/// resumes them and clears what the server noted when it disabled it.
pub async fn update(ctx: &Ctx, db: &Db, id: Uuid, input: Input) -> Result<Subscription> {
    // Authorized on this very webhook before its new URL's name is resolved.
    db.authorized::<Subscription>(ctx, id, perm::WEBHOOKS_UPDATE)
        .await?;
    let checked = check(db, &input, false).await?;
    let mut tx = db.change_object(ctx, perm::WEBHOOKS_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Subscription>(id, perm::WEBHOOKS_UPDATE).await?;
    sqlx::query!(
        "update webhook_subscriptions set
            name = coalesce($3, name),
            description = coalesce($4, description),
            url = coalesce($5, url),
            event_types = coalesce($6, event_types),
            enabled = coalesce($7, enabled),
            disabled_reason = case when coalesce($7, enabled) then null else disabled_reason end,
            disabled_at = case when coalesce($7, enabled) then null else disabled_at end,
            failing_since = case when $7 and not enabled then null else failing_since end,
            updated_at = now()
         where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        checked.name,
        checked.description,
        checked.url,
        checked.event_types.as_deref(),
        input.enabled
    )
    .execute(tx.conn())
    .await
    .map_err(name_taken)?;
    if let Some(enabled) = input.enabled
        && enabled != before.enabled
    {
        set_paused(tx.conn(), tenant_id, &before, !enabled).await?;
    }
    let after = tx.reread::<Subscription>(id).await?;
    tx.updated(&before, &after).await?;
    tx.commit().await?;
    Ok(after)
}

/// Pauses a subscription's pending deliveries, or resumes its paused ones now.
async fn set_paused(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription: &Authorized<Subscription>,
    paused: bool,
) -> Result<()> {
    let id = subscription.id;
    let (from, to) = if paused {
        ("pending", "paused")
    } else {
        ("paused", "pending")
    };
    sqlx::query!(
        "update webhook_deliveries set status = $4, next_at = now()
         where tenant_id = $1 and subscription_id = $2 and status = $3",
        tenant_id,
        id,
        from,
        to
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes a subscription with its deliveries and their log.
pub async fn delete(ctx: &Ctx, db: &Db, id: Uuid) -> Result<()> {
    let mut tx = db.change_object(ctx, perm::WEBHOOKS_DELETE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Subscription>(id, perm::WEBHOOKS_DELETE).await?;
    sqlx::query!(
        "delete from webhook_subscriptions where tenant_id = $1 and id = $2",
        tenant_id,
        before.id
    )
    .execute(tx.conn())
    .await?;
    tx.deleted(&before).await?;
    tx.commit().await?;
    Ok(())
}

/// Gives a subscription a new secret, returned this once. The previous secret keeps
/// signing (a second signature in the header) for `overlap` (default a day, at most a
/// week, zero to stop it at once), so receivers can switch without losing a message.
pub async fn rotate_secret(
    ctx: &Ctx,
    db: &Db,
    id: Uuid,
    overlap: Option<Duration>,
) -> Result<WithSecret> {
    let mut tx = db.change_object(ctx, perm::WEBHOOKS_MANAGE).await?;
    let tenant_id = tx.tenant_id;
    let before = tx.lookup::<Subscription>(id, perm::WEBHOOKS_MANAGE).await?;
    let overlap = overlap.unwrap_or(DEFAULT_OVERLAP);
    if overlap < Duration::ZERO || overlap > MAX_OVERLAP {
        return Err(Error::validation(
            "overlap_seconds",
            "out_of_range",
            "The overlap is between 0 seconds and 7 days.",
        ));
    }
    let master = db.master_key()?.clone();
    let secret = signing::new_secret();
    let sealed = master.seal(secret.as_bytes(), &secret_context(tenant_id, id));
    let until = (overlap > Duration::ZERO).then(|| OffsetDateTime::now_utc() + overlap);
    sqlx::query!(
        "update webhook_subscriptions set
            previous_secret_sealed = case when $4::timestamptz is null then null else secret_sealed end,
            previous_secret_until = $4,
            secret_sealed = $3,
            updated_at = now()
         where tenant_id = $1 and id = $2",
        tenant_id,
        id,
        sealed,
        until
    )
    .execute(tx.conn())
    .await?;
    let subscription = tx.reread::<Subscription>(id).await?;
    tx.changed(
        types::WEBHOOK_SECRET_ROTATED,
        &before,
        json!({
            "id": id,
            "previous_secret_until": subscription.previous_secret_until.map(crate::rfc3339),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(WithSecret {
        subscription,
        secret,
    })
}

/// The signing keys of a subscription: the current one, then the previous one while its
/// overlap lasts.
pub(crate) fn keys(
    master: &crate::crypto::MasterKey,
    tenant_id: Uuid,
    id: Uuid,
    current: &[u8],
    previous: Option<&[u8]>,
) -> Result<Vec<Vec<u8>>> {
    let context = secret_context(tenant_id, id);
    let mut keys = Vec::with_capacity(2);
    for sealed in std::iter::once(current).chain(previous) {
        let secret = master.open(sealed, &context)?;
        let secret =
            std::str::from_utf8(&secret).map_err(|e| Error::internal("webhook secret", e))?;
        keys.push(
            signing::key_of(secret)
                .ok_or_else(|| Error::Internal("a stored webhook secret does not decode".into()))?,
        );
    }
    Ok(keys)
}

/// Creates the deliveries of an event, in the transaction that writes it: one per enabled
/// subscription of the tenant whose patterns match its type. Wakes the delivery workers
/// (`NOTIFY tenantry_webhooks`, sent when the transaction commits) when there is any.
pub(crate) async fn fan_out(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    event_id: Uuid,
    event_type: &str,
) -> Result<()> {
    let created = sqlx::query_scalar!(
        r#"with created as (
               insert into webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type)
               select tenantry_uuid_v7(), s.tenant_id, s.id, $2, $3
               from webhook_subscriptions s
               where s.tenant_id = $1 and s.enabled
                 and exists (select 1 from unnest(s.event_types) p
                             where p = $3 or (right(p, 1) = '*' and starts_with($3, left(p, -1))))
               returning 1)
           select count(*) as "n!" from created"#,
        tenant_id,
        event_id,
        event_type
    )
    .fetch_one(&mut *conn)
    .await?;
    if created > 0 {
        delivery::wake(conn).await?;
    }
    Ok(())
}

/// One delivery of an event to a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Delivery {
    /// Also the `webhook-id` of every attempt.
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `succeeded`, `failed` or `paused`.
    pub status: String,
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    pub next_at: Option<OffsetDateTime>,
    pub event_at: OffsetDateTime,
    pub last_attempt_at: Option<OffsetDateTime>,
    pub delivered_at: Option<OffsetDateTime>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Attempt {
    pub attempt: i32,
    pub at: OffsetDateTime,
    pub succeeded: bool,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub response_snippet: Option<String>,
    pub error: Option<String>,
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    /// `pending`, `succeeded`, `failed` or `paused`.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

const STATUSES: [&str; 4] = ["pending", "succeeded", "failed", "paused"];

/// A subscription's deliveries, newest first.
pub async fn deliveries(
    ctx: &Ctx,
    db: &Db,
    subscription_id: Uuid,
    query: &DeliveryQuery,
) -> Result<Page<Delivery>> {
    let mut tx = db.read_object(ctx, perm::WEBHOOKS_READ).await?;
    let tenant_id = tx.tenant_id;
    tx.lookup::<Subscription>(ctx, subscription_id, perm::WEBHOOKS_READ)
        .await?;
    let limit = pagination::limit(query.limit)?;
    if let Some(s) = query.status.as_deref()
        && !STATUSES.contains(&s)
    {
        return Err(Error::validation(
            "status",
            "invalid_value",
            "status is pending, succeeded, failed or paused",
        ));
    }
    let cursor = query
        .cursor
        .as_deref()
        .map(pagination::decode_cursor)
        .transpose()?;
    let rows = sqlx::query_as!(
        Delivery,
        r#"select id, subscription_id, event_id, event_type, status, attempts,
                  case when status = 'pending' then next_at end as next_at,
                  event_at, last_attempt_at, delivered_at, last_status, last_error
           from webhook_deliveries
           where tenant_id = $1 and subscription_id = $2
             and ($3::text is null or status = $3)
             and ($4::uuid is null or id < $4)
           order by id desc limit $5"#,
        tenant_id,
        subscription_id,
        query.status,
        cursor,
        i64::from(limit) + 1
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(pagination::page(rows, limit, |d| d.id))
}

async fn load_delivery(conn: &mut PgConnection, tenant_id: Uuid, id: Uuid) -> Result<Delivery> {
    // Through the subscription, which row-level security must let the caller see.
    sqlx::query_as!(
        Delivery,
        r#"select d.id, d.subscription_id, d.event_id, d.event_type, d.status, d.attempts,
                  case when d.status = 'pending' then d.next_at end as next_at,
                  d.event_at, d.last_attempt_at, d.delivered_at, d.last_status, d.last_error
           from webhook_deliveries d
           join webhook_subscriptions s on s.tenant_id = d.tenant_id and s.id = d.subscription_id
           where d.tenant_id = $1 and d.id = $2"#,
        tenant_id,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(Error::NotFound {
        resource: "delivery",
    })
}

/// One delivery with every attempt, oldest first.
pub async fn delivery(ctx: &Ctx, db: &Db, id: Uuid) -> Result<(Delivery, Vec<Attempt>)> {
    let mut tx = db.read_object(ctx, perm::WEBHOOKS_READ).await?;
    let tenant_id = tx.tenant_id;
    let delivery = load_delivery(tx.conn(), tenant_id, id).await?;
    // A delivery is seen by those who may see its webhook.
    tx.lookup::<Subscription>(ctx, delivery.subscription_id, perm::WEBHOOKS_READ)
        .await
        .map_err(|e| not_found_as(e, "delivery"))?;
    let attempts = sqlx::query_as!(
        Attempt,
        "select attempt, at, succeeded, status_code, latency_ms, response_snippet, error
         from webhook_attempts where delivery_id = $1 and tenant_id = $2 order by attempt, at",
        id,
        tenant_id
    )
    .fetch_all(tx.conn())
    .await?;
    Ok((delivery, attempts))
}

/// Queues one more attempt of a delivery, now.
pub async fn retry(ctx: &Ctx, db: &Db, id: Uuid) -> Result<Delivery> {
    let mut tx = db.change_object(ctx, perm::WEBHOOKS_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let before = load_delivery(tx.conn(), tenant_id, id).await?;
    let subscription = tx
        .lookup::<Subscription>(before.subscription_id, perm::WEBHOOKS_UPDATE)
        .await
        .map_err(|e| not_found_as(e, "delivery"))?;
    if !subscription.enabled {
        return Err(Error::Conflict {
            code: "webhook_disabled",
            message: "The webhook is disabled: enable it to retry its deliveries.".into(),
            field: None,
        });
    }
    sqlx::query!(
        "update webhook_deliveries set status = 'pending', next_at = now() where id = $1 and tenant_id = $2",
        id,
        tenant_id
    )
    .execute(tx.conn())
    .await?;
    delivery::wake(tx.conn()).await?;
    let after = load_delivery(tx.conn(), tenant_id, id).await?;
    tx.record(Change {
        action: types::WEBHOOK_DELIVERY_RETRIED,
        target_type: Subscription::NOUN,
        target_id: Some(subscription.id),
        before: None,
        after: Some(json!({
            "delivery_id": id, "event_id": before.event_id, "event_type": before.event_type,
            "previous_status": before.status,
        })),
    })
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// The most events one replay may queue.
pub const MAX_REPLAY: i64 = 100_000;

/// Delivers again every stored event of `[from, to)` that the subscription's patterns
/// match: deliveries that exist are queued again (same `webhook-id`), missing ones (events
/// from before the subscription) are created. Returns how many were queued.
pub async fn replay(
    ctx: &Ctx,
    db: &Db,
    id: Uuid,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<i64> {
    let mut tx = db.change_object(ctx, perm::WEBHOOKS_UPDATE).await?;
    let tenant_id = tx.tenant_id;
    let sub = tx.lookup::<Subscription>(id, perm::WEBHOOKS_UPDATE).await?;
    if from >= to {
        return Err(Error::validation(
            "from",
            "out_of_range",
            "from must be before to.",
        ));
    }
    if !sub.enabled {
        return Err(Error::Conflict {
            code: "webhook_disabled",
            message: "The webhook is disabled: enable it to replay events to it.".into(),
            field: None,
        });
    }
    let matching = sqlx::query_scalar!(
        r#"select count(*) as "n!" from outbox_events e
           where e.tenant_id = $1 and e.created_at >= $2 and e.created_at < $3
             and exists (select 1 from unnest($4::text[]) p
                         where p = e.event_type or (right(p, 1) = '*' and starts_with(e.event_type, left(p, -1))))"#,
        tenant_id,
        from,
        to,
        &sub.event_types
    )
    .fetch_one(tx.conn())
    .await?;
    if matching > MAX_REPLAY {
        return Err(Error::validation(
            "from",
            "too_many",
            format!("{matching} events are in this range; replay at most {MAX_REPLAY} at once."),
        ));
    }
    let queued = sqlx::query_scalar!(
        r#"with queued as (
               insert into webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, event_at)
               select tenantry_uuid_v7(), e.tenant_id, $4, e.id, e.event_type, e.created_at
               from outbox_events e
               where e.tenant_id = $1 and e.created_at >= $2 and e.created_at < $3
                 and exists (select 1 from unnest($5::text[]) p
                             where p = e.event_type or (right(p, 1) = '*' and starts_with(e.event_type, left(p, -1))))
               order by e.id
               on conflict (subscription_id, event_id) do update
                   set status = 'pending', next_at = now()
               returning 1)
           select count(*) as "n!" from queued"#,
        tenant_id,
        from,
        to,
        id,
        &sub.event_types
    )
    .fetch_one(tx.conn())
    .await?;
    delivery::wake(tx.conn()).await?;
    tx.record(Change {
        action: types::WEBHOOK_REPLAYED,
        target_type: Subscription::NOUN,
        target_id: Some(sub.id),
        before: None,
        after: Some(json!({
            "from": crate::rfc3339(from), "to": crate::rfc3339(to), "queued": queued,
        })),
    })
    .await?;
    tx.commit().await?;
    Ok(queued)
}

/// Sends a test message (`webhook.test`) to a subscription now, and logs it as a delivery
/// of its own. Returns the delivery and its attempt.
pub async fn ping(ctx: &Ctx, db: &Db, id: Uuid) -> Result<(Delivery, Attempt)> {
    let subscription = db
        .authorized::<Subscription>(ctx, id, perm::WEBHOOKS_UPDATE)
        .await?;
    let tenant_id = ctx.tenant_id()?;
    let target = {
        let mut tx = db.begin_tenant(tenant_id).await?;
        delivery::target(&mut tx, db.master_key()?, tenant_id, subscription.id)
            .await?
            .ok_or(Error::NotFound {
                resource: "webhook",
            })?
    };
    let delivery_id = Uuid::now_v7();
    let event_id = Uuid::now_v7();
    let now = OffsetDateTime::now_utc();
    let body = delivery::ping_body(event_id, id, now);
    let outcome = db
        .webhooks()
        .send(&target.url, delivery_id, &target.keys, &body)
        .await;
    // The log of an attempt, not a change of the tenant's data: no audit record.
    let mut tx = db.begin_tenant(tenant_id).await?;
    delivery::record_ping(&mut tx, tenant_id, id, delivery_id, event_id, now, &outcome).await?;
    let delivery = load_delivery(&mut tx, tenant_id, delivery_id).await?;
    tx.commit().await?;
    Ok((delivery, outcome.attempt(1)))
}

/// Delivery figures over a range.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Figures {
    pub attempts: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// `succeeded / attempts`; none without attempts.
    pub success_rate: Option<f64>,
    /// Attempt latency percentiles, in milliseconds; none without attempts.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    /// Deliveries waiting for an attempt now (whatever the range).
    pub pending: i64,
}

impl Figures {
    fn new(
        attempts: i64,
        succeeded: i64,
        p50_ms: Option<f64>,
        p95_ms: Option<f64>,
        pending: i64,
    ) -> Self {
        Figures {
            attempts,
            succeeded,
            failed: attempts - succeeded,
            success_rate: (attempts > 0).then(|| succeeded as f64 / attempts as f64),
            p50_ms,
            p95_ms,
            pending,
        }
    }
}

/// Delivery figures of one subscription over a range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubscriptionStats {
    pub subscription_id: Uuid,
    pub name: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Attempts per time bucket, for the console's chart.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct StatsBucket {
    pub bucket_start: OffsetDateTime,
    pub succeeded: i64,
    pub failed: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub from: OffsetDateTime,
    pub to: OffsetDateTime,
    /// `hour` or `day`.
    pub bucket: &'static str,
    /// Over every attempt of the subscriptions asked for (percentiles of all attempts).
    pub total: Figures,
    pub subscriptions: Vec<SubscriptionStats>,
    pub series: Vec<StatsBucket>,
}

/// Attempts, success rate and latency percentiles per subscription and in all over
/// `[from, to)` (default: the last 24 hours), and attempts per hour (per day over more
/// than 3 days), of one subscription or all.
pub async fn stats(
    ctx: &Ctx,
    db: &Db,
    from: Option<OffsetDateTime>,
    to: Option<OffsetDateTime>,
    subscription_id: Option<Uuid>,
) -> Result<Stats> {
    let to = to.unwrap_or_else(OffsetDateTime::now_utc);
    let from = from.unwrap_or(to - Duration::hours(24));
    if from >= to || to - from > Duration::days(366) {
        return Err(Error::validation(
            "from",
            "out_of_range",
            "from must be before to, and the range at most 366 days.",
        ));
    }
    let bucket = if to - from > Duration::days(3) {
        "day"
    } else {
        "hour"
    };
    let mut tx = db.read(ctx, perm::WEBHOOKS_READ).await?;
    let tenant_id = tx.tenant_id;
    // The webhooks counted: the one asked for, or every one the caller may see.
    let counted: Vec<Uuid> = match subscription_id {
        Some(id) => vec![
            tx.lookup::<Subscription>(ctx, id, perm::WEBHOOKS_READ)
                .await?
                .id,
        ],
        None => load(tx.conn(), tenant_id, None)
            .await?
            .into_iter()
            .filter(|s| visible(ctx, tenant_id, s))
            .map(|s| s.id)
            .collect(),
    };
    let subscriptions = sqlx::query!(
        r#"select s.id, s.name,
                  count(a.id) as "attempts!",
                  count(a.id) filter (where a.succeeded) as "succeeded!",
                  percentile_cont(0.5) within group (order by a.latency_ms) as p50,
                  percentile_cont(0.95) within group (order by a.latency_ms) as p95,
                  (select count(*) from webhook_deliveries d
                   where d.tenant_id = s.tenant_id and d.subscription_id = s.id
                     and d.status = 'pending') as "pending!"
           from webhook_subscriptions s
           left join webhook_attempts a on a.tenant_id = s.tenant_id and a.subscription_id = s.id
                and a.at >= $2 and a.at < $3
           where s.tenant_id = $1 and s.id = any($4)
           group by s.tenant_id, s.id, s.name
           order by s.name"#,
        tenant_id,
        from,
        to,
        &counted
    )
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| SubscriptionStats {
        subscription_id: r.id,
        name: r.name,
        figures: Figures::new(r.attempts, r.succeeded, r.p50, r.p95, r.pending),
    })
    .collect::<Vec<_>>();
    let all = sqlx::query!(
        r#"select count(*) as "attempts!",
                  count(*) filter (where a.succeeded) as "succeeded!",
                  percentile_cont(0.5) within group (order by a.latency_ms) as p50,
                  percentile_cont(0.95) within group (order by a.latency_ms) as p95
           from webhook_attempts a
           join webhook_subscriptions s on s.tenant_id = a.tenant_id and s.id = a.subscription_id
           where a.tenant_id = $1 and a.at >= $2 and a.at < $3
             and a.subscription_id = any($4)"#,
        tenant_id,
        from,
        to,
        &counted
    )
    .fetch_one(tx.conn())
    .await?;
    let total = Figures::new(
        all.attempts,
        all.succeeded,
        all.p50,
        all.p95,
        subscriptions.iter().map(|s| s.figures.pending).sum(),
    );
    let series = sqlx::query_as!(
        StatsBucket,
        r#"select date_trunc($5, a.at, 'UTC') as "bucket_start!",
                  count(*) filter (where a.succeeded) as "succeeded!",
                  count(*) filter (where not a.succeeded) as "failed!"
           from webhook_attempts a
           join webhook_subscriptions s on s.tenant_id = a.tenant_id and s.id = a.subscription_id
           where a.tenant_id = $1 and a.at >= $2 and a.at < $3
             and a.subscription_id = any($4)
           group by 1 order by 1"#,
        tenant_id,
        from,
        to,
        &counted,
        bucket
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(Stats {
        from,
        to,
        bucket,
        total,
        subscriptions,
        series,
    })
}

/// Disables a subscription that kept failing: `delivery` ran out of retries, and no
/// attempt to the subscription has succeeded since that delivery's first attempt.
/// Records `webhook.disabled` (the tenant's notice; the console shows a banner).
pub(crate) async fn disable_failing(
    db: &Db,
    tenant_id: Uuid,
    id: Uuid,
    delivery: Uuid,
) -> Result<bool> {
    let ctx = Ctx::system();
    let mut tx = db.change_in(&ctx, tenant_id).await?;
    let Ok(before) = tx.lookup::<Subscription>(id, perm::WEBHOOKS_UPDATE).await else {
        return Ok(false);
    };
    let reason = "Every attempt failed for as long as deliveries are retried (about a day).";
    let disabled = sqlx::query!(
        "update webhook_subscriptions
         set enabled = false, disabled_reason = $4, disabled_at = now(), updated_at = now()
         where tenant_id = $1 and id = $2 and enabled and failing_since is not null
           and failing_since <= (select min(at) from webhook_attempts where delivery_id = $3)",
        tenant_id,
        id,
        delivery,
        reason
    )
    .execute(tx.conn())
    .await?
    .rows_affected();
    if disabled == 0 {
        return Ok(false);
    }
    set_paused(tx.conn(), tenant_id, &before, true).await?;
    let after = tx.reread::<Subscription>(id).await?;
    tx.changed(types::WEBHOOK_DISABLED, &before, after.snapshot())
        .await?;
    tx.commit().await?;
    tracing::warn!(%tenant_id, webhook = %id, "webhook disabled: it kept failing");
    Ok(true)
}

/// Removes deliveries (and their attempts) finished more than `days` days ago: the log is
/// kept as long as the events.
pub async fn prune(db: &Db, days: u32) -> Result<u64> {
    let removed = sqlx::query!(
        "delete from webhook_deliveries
         where status in ('succeeded', 'failed')
           and created_at < now() - make_interval(days => $1)",
        i32::try_from(days).unwrap_or(i32::MAX)
    )
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let now = OffsetDateTime::now_utc();
        let w = WithSecret {
            subscription: Subscription {
                id: Uuid::now_v7(),
                name: "n".into(),
                description: String::new(),
                url: "https://hooks.example.com".into(),
                event_types: vec!["*".into()],
                enabled: true,
                disabled_reason: None,
                disabled_at: None,
                failing_since: None,
                previous_secret_until: None,
                created_at: now,
                updated_at: now,
            },
            secret: signing::new_secret(),
        };
        let printed = format!("{w:?}");
        assert!(!printed.contains(&w.secret), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn schedules_parse_with_units() {
        let s = parse_schedule("5s, 5m,2h,1d,250ms").unwrap();
        assert_eq!(
            s,
            [5_000, 300_000, 7_200_000, 86_400_000, 250].map(std::time::Duration::from_millis)
        );
        let total: std::time::Duration = Settings::default().retry_schedule.iter().sum();
        assert!(total > std::time::Duration::from_secs(20 * 3600));
        assert!(total < std::time::Duration::from_secs(30 * 3600));
        assert!(parse_schedule("5").is_err());
        assert!(parse_schedule("5y").is_err());
        assert!(parse_schedule("s").is_err());
    }

    #[test]
    fn patterns_are_checked_against_the_catalogue() {
        let mut e = Vec::new();
        assert_eq!(
            check_patterns(
                &["identity.*".into(), " identity.* ".into(), "*".into()],
                &mut e
            ),
            Some(vec!["identity.*".to_owned(), "*".to_owned()])
        );
        assert!(e.is_empty());
        assert!(check_patterns(&["nothing.*".into()], &mut e).is_none());
        assert_eq!(e[0].code, "unknown_type");
        e.clear();
        assert!(check_patterns(&[], &mut e).is_none());
        assert_eq!(e[0].code, "required");
    }
}
