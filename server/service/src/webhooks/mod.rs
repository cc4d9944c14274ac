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

mod deliveries;
pub mod delivery;
pub mod guard;
pub mod signing;
mod stats;

pub use deliveries::*;
pub use stats::*;

use serde::Serialize;
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::authz::{Permission, perm};
use crate::error::{Error, FieldError, Result};
use crate::events::catalogue::{shapes, types};
use crate::pagination::{self, Page};
use crate::resource::{Authorized, Lifecycle, Resource, visible};
use crate::{Ctx, Db, validation};

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
        shapes::to_value(shapes::WebhookData {
            id: self.id,
            name: &self.name,
            description: &self.description,
            url: &self.url,
            event_types: &self.event_types,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason.as_deref(),
        })
    }

    async fn fetch(
        conn: &mut PgConnection,
        _keyring: &crate::privacy::keys::Keyring,
        tenant_id: Uuid,
        id: Uuid,
        lock: bool,
    ) -> Result<Option<Self>> {
        if lock && !crate::resource::lock_row(conn, "webhook_subscriptions", tenant_id, id).await? {
            return Ok(None);
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

/// Seals a tenant's webhook secrets (current and previous) again under the master key that
/// seals now (`tenantry keys rotate-master`); returns how many subscriptions changed.
pub(crate) async fn reseal_secrets(
    db: &Db,
    master: &crate::crypto::MasterKey,
    tenant_id: Uuid,
) -> Result<usize> {
    let mut tx = db.begin_tenant(tenant_id).await?;
    let rows = sqlx::query!(
        "select id, secret_sealed, previous_secret_sealed from webhook_subscriptions
         where tenant_id = $1 for update",
        tenant_id
    )
    .fetch_all(&mut *tx)
    .await?;
    let context = |id: &Uuid| secret_context(tenant_id, *id);
    let previous = rows
        .iter()
        .filter_map(|r| Some((r.id, r.previous_secret_sealed.clone()?)))
        .collect::<Vec<_>>();
    let (ids, sealed) =
        master.reseal_rows(rows.into_iter().map(|r| (r.id, r.secret_sealed)), context)?;
    let (previous_ids, previous_sealed) = master.reseal_rows(previous, context)?;
    sqlx::query!(
        "update webhook_subscriptions s set secret_sealed = v.sealed
         from unnest($2::uuid[], $3::bytea[]) as v (id, sealed)
         where s.tenant_id = $1 and s.id = v.id",
        tenant_id,
        &ids,
        &sealed
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update webhook_subscriptions s set previous_secret_sealed = v.sealed
         from unnest($2::uuid[], $3::bytea[]) as v (id, sealed)
         where s.tenant_id = $1 and s.id = v.id",
        tenant_id,
        &previous_ids,
        &previous_sealed
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut changed = ids;
    changed.extend(previous_ids);
    changed.sort_unstable();
    changed.dedup();
    Ok(changed.len())
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
    tx.within_quota(crate::limits::Quota::Webhooks, 1).await?;
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
        shapes::to_value(shapes::SecretRotatedData {
            id,
            previous_secret_until: subscription.previous_secret_until.map(shapes::Time),
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
