//! The delivery worker's half in the service: claiming due deliveries, sending them, and
//! recording each attempt. `server::workers::webhooks` runs [`run_batch`] in a loop.
//!
//! A batch is one transaction: the due rows are claimed with `FOR UPDATE SKIP LOCKED` and
//! stay locked while their attempts are made, then their outcome is written and the
//! transaction commits. Another instance skips locked rows, so no attempt is made twice;
//! an instance that dies mid-batch loses its connection, PostgreSQL rolls the claim back,
//! and the deliveries are made again by whoever claims them next, with the same
//! `webhook-id` (the delivery's id).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use rand::Rng;
use serde_json::json;
use sqlx::PgConnection;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::{Attempt, PING_TYPE, Settings, guard, signing};
use crate::crypto::MasterKey;
use crate::error::{Error, Result};
use crate::{Db, db};

/// The channel that wakes delivery workers when deliveries are queued.
pub const CHANNEL: &str = "tenantry_webhooks";
/// Bytes of a response body kept in the log.
const SNIPPET_BYTES: usize = 512;
/// Bytes of a response body read at most (the rest is not waited for).
const READ_LIMIT: usize = 4096;

/// Wakes the delivery workers when the caller's transaction commits.
pub(crate) async fn wake(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("select pg_notify('tenantry_webhooks', '')")
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes attempts: the HTTP client (which refuses forbidden addresses unless allowed), the
/// settings, and the bound on attempts in flight.
#[derive(Debug)]
pub struct Sender {
    client: reqwest::Client,
    pub settings: Settings,
    in_flight: Arc<Semaphore>,
}

impl Sender {
    pub fn new(settings: Settings) -> Sender {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(std::time::Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Tenantry-Webhooks/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(settings.concurrency);
        if !settings.allow_private {
            builder = builder.dns_resolver(Arc::new(guard::GuardedResolver));
        }
        Sender {
            client: builder.build().expect("the webhook client builds"),
            in_flight: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            settings,
        }
    }

    /// Posts `body` to `url` as message `id`, signed with each of `keys`.
    pub async fn send(&self, url: &str, id: Uuid, keys: &[Vec<u8>], body: &[u8]) -> Outcome {
        let _permit = self.in_flight.acquire().await;
        let started = Instant::now();
        if let Err(problem) = guard::check_url(url, self.settings.allow_private) {
            return Outcome::failed(started, None, None, problem.message);
        }
        let id = id.to_string();
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signing::header(keys, &id, timestamp, body),
            )
            .body(body.to_vec())
            .send()
            .await;
        let mut response = match response {
            Ok(r) => r,
            Err(e) => return Outcome::failed(started, None, None, describe(&e, &self.settings)),
        };
        let status = response.status();
        let mut read = Vec::new();
        while read.len() < READ_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => read.extend_from_slice(&chunk),
                _ => break,
            }
        }
        read.truncate(SNIPPET_BYTES);
        let snippet = (!read.is_empty()).then(|| String::from_utf8_lossy(&read).into_owned());
        if status.is_success() {
            Outcome {
                succeeded: true,
                status: Some(status.as_u16()),
                latency_ms: elapsed_ms(started),
                snippet,
                error: None,
            }
        } else {
            let why = if status.is_redirection() {
                format!("HTTP {status}: redirects are not followed")
            } else {
                format!("HTTP {status}")
            };
            Outcome::failed(started, Some(status.as_u16()), snippet, why)
        }
    }
}

fn elapsed_ms(started: Instant) -> i32 {
    i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX)
}

/// Why a request failed, in words; never the URL (the log shows it beside).
fn describe(e: &reqwest::Error, settings: &Settings) -> String {
    if e.is_timeout() {
        return format!(
            "no response within {} s",
            settings.timeout.as_secs_f64().round()
        );
    }
    let mut innermost: &dyn std::error::Error = e;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let detail = innermost.to_string();
    if e.is_connect() {
        format!("could not connect: {detail}")
    } else {
        format!("request failed: {detail}")
    }
}

/// What one attempt gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub succeeded: bool,
    pub status: Option<u16>,
    pub latency_ms: i32,
    pub snippet: Option<String>,
    pub error: Option<String>,
}

impl Outcome {
    fn failed(started: Instant, status: Option<u16>, snippet: Option<String>, why: String) -> Self {
        Outcome {
            succeeded: false,
            status,
            latency_ms: elapsed_ms(started),
            snippet,
            error: Some(why),
        }
    }

    pub(crate) fn attempt(&self, attempt: i32) -> Attempt {
        Attempt {
            attempt,
            at: OffsetDateTime::now_utc(),
            succeeded: self.succeeded,
            status_code: self.status.map(i32::from),
            latency_ms: self.latency_ms,
            response_snippet: self.snippet.clone(),
            error: self.error.clone(),
        }
    }
}

/// The body of an event's message: `{id, type, timestamp, data}`, where `data` is the
/// event's payload as `/v1/events` shows it (`{id, data}`).
pub fn event_body(
    event_id: Uuid,
    event_type: &str,
    at: OffsetDateTime,
    payload: &serde_json::Value,
) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": event_id,
        "type": event_type,
        "timestamp": crate::rfc3339(at),
        "data": payload,
    }))
    .expect("a JSON value serializes")
}

/// The body of a test ping.
pub(crate) fn ping_body(event_id: Uuid, subscription_id: Uuid, at: OffsetDateTime) -> Vec<u8> {
    use crate::events::catalogue::shapes::{TestMessageData, to_value};
    let data = to_value(TestMessageData {
        message: "A test message from Tenantry: this endpoint is reachable.",
    });
    event_body(
        event_id,
        PING_TYPE,
        at,
        &json!({ "id": subscription_id, "data": data }),
    )
}

/// Where a subscription's messages go and what signs them.
pub(crate) struct Target {
    pub url: String,
    pub keys: Vec<Vec<u8>>,
    pub enabled: bool,
}

async fn targets(
    conn: &mut PgConnection,
    master: &MasterKey,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Target>> {
    let rows = sqlx::query!(
        r#"select id, url, enabled, secret_sealed,
                  case when previous_secret_until > now() then previous_secret_sealed end as previous
           from webhook_subscriptions where tenant_id = $1 and id = any($2)"#,
        tenant_id,
        ids
    )
    .fetch_all(conn)
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let keys = super::keys(
            master,
            tenant_id,
            r.id,
            &r.secret_sealed,
            r.previous.as_deref(),
        )?;
        out.insert(
            r.id,
            Target {
                url: r.url,
                keys,
                enabled: r.enabled,
            },
        );
    }
    Ok(out)
}

/// One subscription's target, if the caller's tenant has it.
pub(crate) async fn target(
    conn: &mut PgConnection,
    master: &MasterKey,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Target>> {
    Ok(targets(conn, master, tenant_id, &[id]).await?.remove(&id))
}

/// Logs a test ping as a finished delivery with its one attempt.
pub(crate) async fn record_ping(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_id: Uuid,
    delivery_id: Uuid,
    event_id: Uuid,
    at: OffsetDateTime,
    outcome: &Outcome,
) -> Result<()> {
    let status = if outcome.succeeded {
        "succeeded"
    } else {
        "failed"
    };
    sqlx::query!(
        "insert into webhook_deliveries (id, tenant_id, subscription_id, event_id, event_type, event_at,
                                         status, attempts, last_attempt_at, delivered_at, last_status, last_error)
         values ($1, $2, $3, $4, $5, $6, $7, 1, now(), case when $7 = 'succeeded' then now() end, $8, $9)",
        delivery_id,
        tenant_id,
        subscription_id,
        event_id,
        PING_TYPE,
        at,
        status,
        outcome.status.map(i32::from),
        outcome.error
    )
    .execute(&mut *conn)
    .await?;
    insert_attempts(
        conn,
        &[(tenant_id, subscription_id, delivery_id, 1, outcome.clone())],
    )
    .await
}

async fn insert_attempts(
    conn: &mut PgConnection,
    attempts: &[(Uuid, Uuid, Uuid, i32, Outcome)],
) -> Result<()> {
    if attempts.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(attempts.len());
    let mut tenants = Vec::with_capacity(attempts.len());
    let mut subs = Vec::with_capacity(attempts.len());
    let mut deliveries = Vec::with_capacity(attempts.len());
    let mut numbers = Vec::with_capacity(attempts.len());
    let mut succeeded = Vec::with_capacity(attempts.len());
    let mut codes: Vec<Option<i32>> = Vec::with_capacity(attempts.len());
    let mut latencies = Vec::with_capacity(attempts.len());
    let mut snippets: Vec<Option<String>> = Vec::with_capacity(attempts.len());
    let mut errors: Vec<Option<String>> = Vec::with_capacity(attempts.len());
    for (tenant, sub, delivery, n, o) in attempts {
        ids.push(Uuid::now_v7());
        tenants.push(*tenant);
        subs.push(*sub);
        deliveries.push(*delivery);
        numbers.push(*n);
        succeeded.push(o.succeeded);
        codes.push(o.status.map(i32::from));
        latencies.push(o.latency_ms);
        snippets.push(o.snippet.clone());
        errors.push(o.error.clone());
    }
    sqlx::query(
        "insert into webhook_attempts (id, tenant_id, subscription_id, delivery_id, attempt, succeeded,
                                       status_code, latency_ms, response_snippet, error)
         select * from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int4[], $6::bool[],
                              $7::int4[], $8::int4[], $9::text[], $10::text[])",
    )
    .bind(ids)
    .bind(tenants)
    .bind(subs)
    .bind(deliveries)
    .bind(numbers)
    .bind(succeeded)
    .bind(codes)
    .bind(latencies)
    .bind(snippets)
    .bind(errors)
    .execute(conn)
    .await?;
    Ok(())
}

/// The wait before attempt `done + 1`, after `done` attempts failed; none when the
/// schedule has run out. Varied by ±20% so failures of many deliveries spread out.
pub fn next_wait(schedule: &[std::time::Duration], done: i32) -> Option<std::time::Duration> {
    let base = schedule.get(usize::try_from(done - 1).ok()?)?;
    let factor = rand::thread_rng().gen_range(0.8..1.2);
    Some(base.mul_f64(factor))
}

struct Due {
    id: Uuid,
    tenant_id: Uuid,
    subscription_id: Uuid,
    event_id: Uuid,
    event_type: String,
    event_at: OffsetDateTime,
    attempts: i32,
}

/// What a batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// Deliveries claimed.
    pub claimed: usize,
    pub succeeded: usize,
    pub failed_attempts: usize,
    /// Subscriptions the server disabled because they kept failing.
    pub disabled: usize,
}

/// Claims up to `limit` due deliveries, makes their attempts, and records them.
pub async fn run_batch(db: &Db, limit: i64) -> Result<BatchReport> {
    let master = db.master_key()?;
    let sender = db.webhooks().clone();
    let mut tx = db.pool().begin().await?;
    let due = sqlx::query_as!(
        Due,
        "select id, tenant_id, subscription_id, event_id, event_type, event_at, attempts
         from webhook_deliveries
         where status = 'pending' and next_at <= now()
         order by next_at limit $1
         for update skip locked",
        limit
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut report = BatchReport {
        claimed: due.len(),
        ..Default::default()
    };
    if due.is_empty() {
        return Ok(report);
    }

    // What the claimed deliveries need, read tenant by tenant under row-level security.
    let mut by_tenant: BTreeMap<Uuid, (Vec<Uuid>, Vec<Uuid>)> = BTreeMap::new();
    for d in &due {
        let (subs, events) = by_tenant.entry(d.tenant_id).or_default();
        subs.push(d.subscription_id);
        events.push(d.event_id);
    }
    let mut subs: HashMap<Uuid, Target> = HashMap::new();
    let mut events: HashMap<Uuid, (OffsetDateTime, serde_json::Value)> = HashMap::new();
    for (tenant_id, (sub_ids, event_ids)) in &by_tenant {
        db::set_tenant(&mut tx, *tenant_id).await?;
        subs.extend(targets(&mut tx, master, *tenant_id, sub_ids).await?);
        let rows = sqlx::query!(
            "select id, created_at, payload from outbox_events where tenant_id = $1 and id = any($2)",
            tenant_id,
            event_ids
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut rows: Vec<_> = rows
            .into_iter()
            .map(|r| (r.id, r.created_at, r.payload))
            .collect();
        // Receivers get the personal values opened (null for a person erased meanwhile).
        crate::events::open_payloads(
            &mut tx,
            db.keyring(),
            *tenant_id,
            rows.iter_mut().map(|(id, _, payload)| (*id, payload)),
        )
        .await?;
        events.extend(
            rows.into_iter()
                .map(|(id, at, payload)| (id, (at, payload))),
        );
    }

    // The attempts, all at once (bounded by the sender's limit).
    let mut sending = tokio::task::JoinSet::new();
    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(due.len());
    let mut paused = Vec::new();
    for (i, d) in due.iter().enumerate() {
        let Some(target) = subs.get(&d.subscription_id) else {
            continue; // deleted meanwhile: its deliveries go with it
        };
        if !target.enabled {
            paused.push(d.id);
            continue;
        }
        let body = if d.event_type == PING_TYPE {
            ping_body(d.event_id, d.subscription_id, d.event_at)
        } else if let Some((at, payload)) = events.get(&d.event_id) {
            event_body(d.event_id, &d.event_type, *at, payload)
        } else {
            let started = Instant::now();
            outcomes.push((
                i,
                Outcome::failed(
                    started,
                    None,
                    None,
                    "the event is no longer stored (past the event retention)".into(),
                ),
            ));
            continue;
        };
        let (sender, url, keys, id) = (
            sender.clone(),
            target.url.clone(),
            target.keys.clone(),
            d.id,
        );
        sending.spawn(async move { (i, sender.send(&url, id, &keys, &body).await) });
    }
    while let Some(done) = sending.join_next().await {
        outcomes.push(done.map_err(|e| Error::internal("a webhook attempt", e))?);
    }

    // Their outcome, in two statements.
    let schedule = &sender.settings.retry_schedule;
    let now = OffsetDateTime::now_utc();
    let mut ids = Vec::with_capacity(outcomes.len());
    let mut statuses = Vec::with_capacity(outcomes.len());
    let mut next_ats = Vec::with_capacity(outcomes.len());
    let mut codes: Vec<Option<i32>> = Vec::with_capacity(outcomes.len());
    let mut errors: Vec<Option<String>> = Vec::with_capacity(outcomes.len());
    let mut attempts = Vec::with_capacity(outcomes.len());
    let mut succeeded_subs: HashSet<(Uuid, Uuid)> = HashSet::new();
    let mut failed_subs: HashSet<(Uuid, Uuid)> = HashSet::new();
    let mut gave_up: Vec<(Uuid, Uuid, Uuid)> = Vec::new();
    for (i, outcome) in outcomes {
        let d = &due[i];
        let done = d.attempts + 1;
        let (status, next_at) = if outcome.succeeded {
            report.succeeded += 1;
            succeeded_subs.insert((d.tenant_id, d.subscription_id));
            ("succeeded", now)
        } else {
            report.failed_attempts += 1;
            failed_subs.insert((d.tenant_id, d.subscription_id));
            match next_wait(schedule, done) {
                Some(wait) => ("pending", now + wait),
                None => {
                    gave_up.push((d.tenant_id, d.subscription_id, d.id));
                    ("failed", now)
                }
            }
        };
        ids.push(d.id);
        statuses.push(status);
        next_ats.push(next_at);
        codes.push(outcome.status.map(i32::from));
        errors.push(outcome.error.clone());
        attempts.push((d.tenant_id, d.subscription_id, d.id, done, outcome));
    }
    sqlx::query(
        "update webhook_deliveries d
         set status = u.status, attempts = d.attempts + 1, next_at = u.next_at,
             last_attempt_at = now(), last_status = u.code, last_error = u.error,
             delivered_at = case when u.status = 'succeeded' then now() else d.delivered_at end
         from unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::int4[], $5::text[])
              as u(id, status, next_at, code, error)
         where d.id = u.id",
    )
    .bind(ids)
    .bind(statuses)
    .bind(next_ats)
    .bind(codes)
    .bind(errors)
    .execute(&mut *tx)
    .await?;
    insert_attempts(&mut tx, &attempts).await?;
    if !paused.is_empty() {
        sqlx::query!(
            "update webhook_deliveries set status = 'paused' where id = any($1)",
            &paused
        )
        .execute(&mut *tx)
        .await?;
    }

    // Each subscription's health: failing since its first failure after a success.
    for tenant_id in by_tenant.keys() {
        let ok: Vec<Uuid> = succeeded_subs
            .iter()
            .filter(|(t, _)| t == tenant_id)
            .map(|(_, s)| *s)
            .collect();
        let failing: Vec<Uuid> = failed_subs
            .iter()
            .filter(|(t, s)| t == tenant_id && !ok.contains(s))
            .map(|(_, s)| *s)
            .collect();
        if ok.is_empty() && failing.is_empty() {
            continue;
        }
        db::set_tenant(&mut tx, *tenant_id).await?;
        sqlx::query!(
            "update webhook_subscriptions
             set failing_since = case when id = any($2) then null else coalesce(failing_since, now()) end
             where tenant_id = $1 and (id = any($2) and failing_since is not null
                                       or id = any($3) and failing_since is null)",
            tenant_id,
            &ok,
            &failing
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    for (tenant_id, sub, delivery) in gave_up {
        if super::disable_failing(db, tenant_id, sub, delivery).await? {
            report.disabled += 1;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_follow_the_schedule_with_jitter_and_run_out() {
        let schedule = super::super::parse_schedule("10s,1h").unwrap();
        for _ in 0..100 {
            let w = next_wait(&schedule, 1).unwrap().as_secs_f64();
            assert!((8.0..12.0).contains(&w), "{w}");
            let w = next_wait(&schedule, 2).unwrap().as_secs_f64();
            assert!((2880.0..4320.0).contains(&w), "{w}");
        }
        assert_eq!(next_wait(&schedule, 3), None);
        assert_eq!(next_wait(&schedule, 0), None);
    }

    #[test]
    fn bodies_follow_the_standard_webhooks_shape() {
        let id = Uuid::now_v7();
        let body: serde_json::Value = serde_json::from_slice(&event_body(
            id,
            "identity.created",
            OffsetDateTime::UNIX_EPOCH,
            &json!({"id": null, "data": {}}),
        ))
        .unwrap();
        assert_eq!(body["type"], "identity.created");
        assert_eq!(body["timestamp"], "1970-01-01T00:00:00Z");
        assert_eq!(body["id"], id.to_string());
        assert_eq!(body["data"], json!({"id": null, "data": {}}));
    }
}
