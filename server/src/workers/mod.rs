//! Work off the request path. Each worker is a loop on a timer whose every query can run on
//! any number of instances at once (deletes of expired rows are idempotent).

pub mod mail;
pub mod memories;
pub mod webhooks;

use std::future::Future;
use std::time::Duration;

use service::Db;
use tokio::task::JoinHandle;

/// Runs `work` at once, then again each time `channel` is notified (by any instance) or
/// `every` has passed, until the server stops. While the listening connection is down, the
/// timer alone wakes it, and listening starts again on the next round.
pub fn spawn_woken<W, F>(
    db: Db,
    channel: &'static str,
    every: Duration,
    mut work: W,
) -> JoinHandle<()>
where
    W: FnMut(Db) -> F + Send + 'static,
    F: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut listener = None;
        loop {
            if listener.is_none() {
                match db.listen(channel).await {
                    Ok(l) => listener = Some(l),
                    Err(e) => tracing::warn!(error = %e, channel, "cannot listen for work"),
                }
            }
            work(db.clone()).await;
            let wait = tokio::time::sleep(every);
            match listener.as_mut() {
                Some(l) => {
                    tokio::select! {
                        n = l.try_recv() => if !matches!(n, Ok(Some(_))) { listener = None; },
                        _ = wait => {}
                    }
                }
                None => wait.await,
            }
        }
    })
}

/// Exports of personal data claimed per round, and made at once by one instance.
pub const EXPORTS_PER_ROUND: i32 = 16;
pub const EXPORTS_AT_ONCE: usize = 2;

/// Makes the exports of personal data that are asked for (see `service::privacy::export`),
/// woken by each request and every 5 s (an export whose worker went away is taken again
/// once its lease runs out).
pub fn spawn_exports(db: Db) -> JoinHandle<()> {
    use service::privacy::export;
    spawn_woken(
        db,
        export::CHANNEL,
        Duration::from_secs(5),
        |db| async move {
            loop {
                match export::run_due(&db, EXPORTS_PER_ROUND, EXPORTS_AT_ONCE).await {
                    Ok(n) if n > 0 => tracing::info!(exports = n, "personal data exports made"),
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "making personal data exports failed");
                        break;
                    }
                }
            }
        },
    )
}

/// Tenants whose retention one round applies.
pub const RETENTION_PER_ROUND: i32 = 100;

/// Applies the tenants' retention (see `service::privacy::retention`) when it is due
/// (hourly for each tenant), checked every minute and when a tenant changes its settings.
pub fn spawn_retention(db: Db) -> JoinHandle<()> {
    use service::privacy::retention;
    spawn_woken(
        db,
        retention::CHANNEL,
        Duration::from_secs(60),
        |db| async move {
            loop {
                match retention::run_due(&db, RETENTION_PER_ROUND).await {
                    Ok(n) if n as i32 >= RETENTION_PER_ROUND => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "applying retention failed");
                        break;
                    }
                }
            }
        },
    )
}

/// Key jobs claimed per round (each runs to its end before the next).
pub const KEY_JOBS_PER_ROUND: i32 = 8;

/// Runs the tenants' key jobs (see `service::privacy::keyjobs`): first queues a sealing
/// job for every tenant that still holds personal data in plain text, then runs what is
/// queued, woken by each request for a job and every 5 s (a job whose worker went away is
/// taken again once its lease runs out).
pub fn spawn_key_jobs(db: Db) -> JoinHandle<()> {
    use service::privacy::keyjobs;
    let mut queued = false;
    spawn_woken(db, keyjobs::CHANNEL, Duration::from_secs(5), move |db| {
        let first = !std::mem::replace(&mut queued, true);
        async move {
            if first {
                match keyjobs::queue_sealing(&db).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(
                            tenants = n,
                            "sealing queued for what is stored in plain text"
                        )
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "could not queue the sealing of plain data")
                    }
                }
            }
            loop {
                match keyjobs::run_due(&db, KEY_JOBS_PER_ROUND).await {
                    Ok(n) if n > 0 => {}
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "running key jobs failed");
                        break;
                    }
                }
            }
        }
    })
}

/// Listens for the changes, made by any instance, to what this instance keeps in memory:
/// a tenant's roles, groups and policies (PostgreSQL NOTIFY on `tenantry_authz`: that
/// tenant's compiled data is dropped, and the next request compiles it again) and callers
/// (`tenantry_callers`: an identity, its roles or groups, a tenant or an API key changed;
/// see `service::auth::callers`), a tenant's limits (`tenantry_limits`) and a tenant's keys
/// of field-level encryption (`tenantry_keys`). The caches keep anything only while this
/// listens: when the connection is lost, notifications may have been missed, so they are
/// emptied, requests read the database, and the listener connects again.
pub fn spawn_cache_listener(db: Db) -> JoinHandle<()> {
    use service::auth::callers::CHANNEL as CALLERS;
    use service::authz::cache::CHANNEL as AUTHZ;
    use service::limits::plans::CHANNEL as LIMITS;
    use service::privacy::keys::CHANNEL as KEYS;
    tokio::spawn(async move {
        loop {
            match db.listen_to(&[AUTHZ, CALLERS, LIMITS, KEYS]).await {
                Ok(mut listener) => {
                    db.authz().set_online(true);
                    db.callers().set_online(true);
                    db.limiter().set_online(true);
                    db.keyring().set_online(true);
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(n)) if n.channel() == LIMITS => db.limiter().heard(n.payload()),
                            Ok(Some(n)) if n.channel() == KEYS => db.keyring().heard(n.payload()),
                            Ok(Some(n)) if n.channel() == CALLERS => {
                                db.callers().forget(n.payload())
                            }
                            Ok(Some(n)) => match uuid::Uuid::parse_str(n.payload()) {
                                Ok(tenant) => db.authz().evict(tenant),
                                Err(_) => db.authz().clear(),
                            },
                            Ok(None) => {
                                tracing::warn!("cache listener lost its connection; reconnecting");
                                break;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "cache listener failed; reconnecting");
                                break;
                            }
                        }
                    }
                    db.callers().set_online(false);
                    db.authz().set_online(false);
                    db.limiter().set_online(false);
                    db.keyring().set_online(false);
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for changes to cached data"),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
}

/// How often each instance adds what its rate limits served and refused to the shared
/// counts (see `service::limits::usage`).
pub const USAGE_FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Adds this instance's counts of served and refused requests to `rate_limit_usage` every
/// [`USAGE_FLUSH_EVERY`].
pub fn spawn_usage_flush(db: Db) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(USAGE_FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            if let Err(e) = service::limits::usage::flush(&db).await {
                tracing::warn!(error = ?e, "rate limit counts not saved (these seconds' counts are lost)");
            }
        }
    })
}

/// How often every tenant is swept for audit records committed but never sealed (their
/// instance stopped in between).
pub const AUDIT_SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Links committed audit records to their tenant's hash chain (see
/// `service::audit_log::seal`): at once for the tenants this instance has just written to,
/// and every [`AUDIT_SWEEP_EVERY`] (and at start) for whatever any tenant has waiting.
pub fn spawn_audit_sealer(db: Db) -> JoinHandle<()> {
    use service::audit_log;
    tokio::spawn(async move {
        let mut sweep = tokio::time::interval(AUDIT_SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                tenants = db.sealer().next() => {
                    for tenant in tenants {
                        if let Err(e) = audit_log::seal(&db, tenant).await {
                            // The records stay committed; the sweep or the next read seals them.
                            tracing::warn!(error = ?e, %tenant, "sealing audit records failed");
                        }
                    }
                }
                _ = sweep.tick() => match audit_log::seal_pending(&db).await {
                    Ok(n) if n > 0 => tracing::info!(sealed = n, "audit records left unsealed are now in their chains"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = ?e, "sweeping for unsealed audit records failed"),
                },
            }
        }
    })
}

/// Re-reads the JWT signing keys periodically, so a rotation made by another instance or
/// by `tenantry keys rotate` is used for signing soon, and expired keys stop verifying.
pub fn spawn_key_reload(keys: service::auth::keys::KeyRing) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(service::auth::keys::RELOAD_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = keys.reload().await {
                tracing::warn!(error = ?e, "signing key reload failed");
            }
        }
    })
}

/// Deletes expired console sessions, full rate-limit buckets and counts older than two
/// days, stale sign-in throttle counters, expired tokens,
/// audit records past their tenant's retention, and events and finished webhook
/// deliveries older than `event_retention_days`, every 10 minutes.
pub fn spawn_cleanup(db: Db, event_retention_days: u32) -> JoinHandle<()> {
    tokio::spawn(async move {
        let store = service::sessions::PgSessionStore::new(&db);
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            match store.delete_expired().await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "expired sessions removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "session cleanup failed"),
            }
            if let Err(e) = service::limits::delete_full(&db).await {
                tracing::warn!(error = ?e, "rate limit cleanup failed");
            }
            if let Err(e) = service::limits::usage::delete_old(&db).await {
                tracing::warn!(error = ?e, "rate limit count cleanup failed");
            }
            if let Err(e) = service::auth::throttle::delete_stale(&db).await {
                tracing::warn!(error = ?e, "throttle cleanup failed");
            }
            match service::sessions::delete_expired_credentials(&db).await {
                Ok(n) if n > 0 => {
                    tracing::info!(deleted = n, "expired tokens and old mail removed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "token cleanup failed"),
            }
            if let Err(e) = service::audit_log::prune_all(&db).await {
                tracing::warn!(error = ?e, "audit retention failed");
            }
            if let Err(e) = service::events::prune(&db, event_retention_days).await {
                tracing::warn!(error = ?e, "event retention failed");
            }
            match service::webhooks::prune(&db, event_retention_days).await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "old webhook deliveries removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "webhook delivery retention failed"),
            }
        }
    })
}
