//! Rate limits: buckets of requests per tenant, per identity (by kind, from the tenant's plan)
//! and per client address (requests made before anyone signed in), shared by every instance
//! through PostgreSQL, with a first filter in each instance's memory.
//!
//! The store is the table `rate_buckets` and the function `tenantry_rate_take` (migration 23),
//! which runs the arithmetic of [`gcra`] on the database's clock. Asking it on every request
//! would put a round trip (and a row lock shared by all of a tenant's requests) on every
//! request's path, so an instance takes a *lease*: several requests at once, which it then
//! hands out from memory for at most [`LEASE_TTL`]. A lease is small: at most 1/20 of a
//! second of the bucket's rate, 1/8 of its burst, a quarter of what the bucket held at the
//! last ask, and what this instance handed out of the bucket over a lease's life at its
//! recent pace (so an instance that sees few requests leases few); one request when the
//! bucket is near empty, so near its edge every request asks the store. One ask for a lease
//! is in flight per bucket and instance: requests that find it under way ask for themselves
//! alone, and what any answer grants adds to what is leased, so nothing granted is dropped
//! while it is valid. What a lease changes:
//!
//! - Nothing is ever granted that the store did not grant: over any span, a bucket serves at
//!   most what GCRA allows, except that a request may be served up to [`LEASE_TTL`] after the
//!   instance's last grant. So over N instances, a span of `d` seconds sees at most
//!   `burst + d·rate + N·lease` requests, `lease` being at most `max(1, min(rate/20, burst/8))`.
//! - A lease that expires unused is lost for a moment: the bucket refills at its rate. Since
//!   a lease is sized by the pace that used the last one (and by the rate: a client near its
//!   rate uses each lease up within its life), what expires is small beside what is served,
//!   and a client below its rate is not refused for leases that concurrent requests let
//!   expire.
//!
//! A refused bucket is remembered until its retry time: until then every request that needs
//! it is refused from memory, without asking the store. A flood from a limited client costs a
//! map lookup per request.

pub mod gcra;
pub mod plans;
pub mod quotas;
pub mod redis_store;
pub mod usage;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hashlink::LruCache;
use uuid::Uuid;

pub use gcra::Limit;
pub use plans::TenantLimits;
pub use quotas::Quota;

use crate::ctx::Caller;
use crate::{Db, Result};

/// How long an instance may hand out what it leased.
pub const LEASE_TTL: Duration = Duration::from_millis(200);

/// How long an ask for a lease keeps other requests from asking for one (the answer usually
/// comes in a millisecond; a request dropped while asking frees the bucket after this).
const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// How many buckets one instance remembers (least recently used leave first).
const CAPACITY: usize = 100_000;

/// Which bucket a request spends from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BucketKey {
    /// A tenant's requests, all together.
    Tenant(Uuid),
    /// One identity's requests (whatever credential it uses): tenant, identity.
    Identity(Uuid, Uuid),
    /// One API key's requests, when the key has a rate of its own: tenant, key.
    ApiKey(Uuid, Uuid),
    /// Requests before sign-in from one address (an IPv6 address's /64).
    Address(IpAddr),
}

impl BucketKey {
    /// The bucket's row in the store.
    fn stored(&self) -> String {
        match self {
            BucketKey::Tenant(id) => format!("t:{id}"),
            BucketKey::Identity(t, id) => format!("i:{t}:{id}"),
            BucketKey::ApiKey(t, id) => format!("k:{t}:{id}"),
            BucketKey::Address(ip) => format!("a:{ip}"),
        }
    }

    /// The tenant whose requests the bucket counts (none for an address).
    pub fn tenant(&self) -> Option<Uuid> {
        match self {
            BucketKey::Tenant(t) | BucketKey::Identity(t, _) | BucketKey::ApiKey(t, _) => Some(*t),
            BucketKey::Address(_) => None,
        }
    }

    /// The bucket of requests from `ip` (see [`client_prefix`]).
    pub fn address(ip: IpAddr) -> BucketKey {
        BucketKey::Address(client_prefix(ip))
    }
}

/// What stands for one client: an IPv4 address (also when mapped into IPv6), or an IPv6
/// address's /64, which one subscriber usually holds whole.
pub fn client_prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// A bucket a request spends from, with its limit and the name its policy has in the
/// `RateLimit-Policy` header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub key: BucketKey,
    pub policy: &'static str,
    pub limit: Limit,
}

/// What a bucket looked like to a request: enough for the `RateLimit` headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Report {
    pub key: BucketKey,
    pub policy: &'static str,
    pub limit: Limit,
    /// Requests the bucket holds (about: other instances spend too).
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds until the bucket holds a request again (0 when it does).
    pub retry_after_secs: u64,
}

/// Whether a request may go on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Served; the report is the bucket with the least left (none when no bucket applied).
    Allowed(Option<Report>),
    /// Refused by the bucket reported (of those that refused, the one that frees last).
    Refused(Report),
}

/// What an instance keeps of a bucket.
#[derive(Debug, Clone)]
struct Local {
    limit: Limit,
    /// Requests leased from the store and not yet handed out.
    leased: u32,
    lease_until: Instant,
    /// Refused by the store: every request until then is refused here.
    refused_until: Option<Instant>,
    /// The store's figures at the last ask.
    asked_at: Instant,
    remaining: u32,
    full_in: Duration,
    /// Requests handed out since the last lease was asked for: the pace the next lease is
    /// sized by.
    handed: u32,
    /// A lease is being asked for (until then, or until the answer comes).
    asking_until: Option<Instant>,
}

impl Local {
    /// An entry for a bucket this instance has not asked yet, its first ask under way.
    fn first(limit: Limit, now: Instant) -> Local {
        Local {
            limit,
            leased: 0,
            lease_until: now,
            refused_until: None,
            asked_at: now,
            remaining: limit.burst,
            full_in: Duration::ZERO,
            handed: 0,
            asking_until: Some(now + ASK_TIMEOUT),
        }
    }

    /// Requests a second handed out since the last lease was asked for.
    fn pace(&self, now: Instant) -> f64 {
        let secs = now.saturating_duration_since(self.asked_at).as_secs_f64();
        f64::from(self.handed) / secs.max(0.001)
    }

    fn report(&self, key: BucketKey, policy: &'static str, now: Instant) -> Report {
        let since = now.saturating_duration_since(self.asked_at);
        let refilled = (since.as_secs_f64() * self.limit.rate) as u64;
        let remaining = (u64::from(self.remaining) + u64::from(self.leased) + refilled)
            .min(u64::from(self.limit.burst)) as u32;
        let full_in = self.full_in.saturating_sub(since);
        let retry_after = self
            .refused_until
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        Report {
            key,
            policy,
            limit: self.limit,
            remaining: if retry_after.is_zero() { remaining } else { 0 },
            reset_secs: full_in.as_secs_f64().ceil() as u64,
            retry_after_secs: retry_after.as_secs_f64().ceil() as u64,
        }
    }
}

/// What one request asks the store for, of one bucket.
struct Ask {
    bucket: Bucket,
    want: u32,
    /// The bucket's lease ask (its answer starts a new measure of the pace), or one request
    /// asked while that is under way.
    lease: bool,
}

impl Ask {
    fn lease(bucket: Bucket, want: u32) -> Ask {
        Ask {
            bucket,
            want,
            lease: true,
        }
    }
}

/// How many requests to lease from a bucket that held `remaining` at the last ask, for an
/// instance that handed its requests out at `pace` a second.
fn lease_size(limit: Limit, remaining: u32, pace: f64) -> u32 {
    let by_rate = (limit.rate / 20.0).floor() as u32;
    let by_burst = limit.burst / 8;
    let by_pace = (pace * LEASE_TTL.as_secs_f64())
        .ceil()
        .min(f64::from(u32::MAX)) as u32;
    by_rate.min(by_burst).min(remaining / 4).min(by_pace).max(1)
}

/// One instance's limiter: its leases, what it was refused, the tenants' limits, its
/// estimates of quota use, and its counts of what it served and refused.
pub struct Limiter {
    buckets: Mutex<LruCache<BucketKey, Local>>,
    tenants: Mutex<LruCache<Uuid, plans::Kept>>,
    estimates: Mutex<LruCache<(Uuid, Quota), quotas::Estimate>>,
    tally: Mutex<HashMap<BucketKey, usage::Tally>>,
    /// Bumped whenever limits are forgotten, so that a read racing with a change is not kept.
    generation: AtomicU64,
    /// Whether changes to limits are being heard (see `workers::spawn_cache_listener`).
    online: AtomicBool,
    /// Limits for requests before sign-in, per address.
    pub anonymous: Limit,
    /// Whether rate limits apply at all (`TENANTRY_RATE_LIMITS`); quotas always do.
    pub enabled: bool,
    /// The buckets' store when it is Redis (`TENANTRY_REDIS_URL`); PostgreSQL otherwise.
    redis: Option<redis_store::Store>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("enabled", &self.enabled)
            .field("anonymous", &self.anonymous)
            .finish_non_exhaustive()
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(
            true,
            Limit {
                rate: 10.0,
                burst: 30,
            },
        )
    }
}

/// How long a tenant's limits are trusted while changes are not being heard.
const OFFLINE_TTL: Duration = Duration::from_secs(1);

/// Taken before reading what will be kept; see [`Limiter::keep_tenant`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

impl Limiter {
    pub fn new(enabled: bool, anonymous: Limit) -> Limiter {
        Limiter {
            buckets: Mutex::new(LruCache::new(CAPACITY)),
            tenants: Mutex::new(LruCache::new(CAPACITY)),
            estimates: Mutex::new(LruCache::new(CAPACITY)),
            tally: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            online: AtomicBool::new(false),
            anonymous,
            enabled,
            redis: None,
        }
    }

    /// The same limiter, keeping its buckets in Redis (see [`redis_store`]).
    pub fn with_redis(mut self, conn: redis_store::Store) -> Limiter {
        self.redis = Some(conn);
        self
    }

    /// Where the buckets are kept: `postgresql` or `redis`.
    pub fn store(&self) -> &'static str {
        if self.redis.is_some() {
            "redis"
        } else {
            "postgresql"
        }
    }

    pub(crate) fn redis(&self) -> Option<&redis_store::Store> {
        self.redis.as_ref()
    }

    fn lock_buckets(&self) -> std::sync::MutexGuard<'_, LruCache<BucketKey, Local>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_tenants(&self) -> std::sync::MutexGuard<'_, LruCache<Uuid, plans::Kept>> {
        self.tenants.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_estimates(
        &self,
    ) -> std::sync::MutexGuard<'_, LruCache<(Uuid, Quota), quotas::Estimate>> {
        self.estimates.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_tally(&self) -> std::sync::MutexGuard<'_, HashMap<BucketKey, usage::Tally>> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by the listener: `true` once it hears changes to limits, `false` as soon as
    /// it may have missed one. Either way every tenant's limits are forgotten.
    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Release);
        self.forget_tenants();
    }

    /// Forgets every tenant's limits and quota estimates (a plan changed).
    pub fn forget_tenants(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock_tenants().clear();
        self.lock_estimates().clear();
    }

    /// Forgets one tenant's limits (its plan or overrides changed).
    pub fn forget_tenant(&self, tenant_id: Uuid) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock_tenants().remove(&tenant_id);
    }

    /// Handles a notification on [`plans::CHANNEL`].
    pub fn heard(&self, payload: &str) {
        match Uuid::parse_str(payload) {
            Ok(tenant) => self.forget_tenant(tenant),
            Err(_) => self.forget_tenants(),
        }
    }

    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    pub(crate) fn cached_tenant(&self, tenant_id: Uuid) -> Option<Arc<TenantLimits>> {
        let online = self.online.load(Ordering::Acquire);
        let mut tenants = self.lock_tenants();
        match tenants.get(&tenant_id) {
            Some((l, at)) if online || at.elapsed() < OFFLINE_TTL => Some(l.clone()),
            _ => None,
        }
    }

    /// Keeps a tenant's limits read after `ticket` was taken, unless something was
    /// forgotten in between.
    pub(crate) fn keep_tenant(&self, ticket: Ticket, limits: Arc<TenantLimits>) {
        let mut tenants = self.lock_tenants();
        if self.generation.load(Ordering::Acquire) == ticket.0 {
            tenants.insert(limits.tenant_id, (limits, Instant::now()));
        }
    }

    /// Forgets every bucket this instance leased from or was refused by (tests, and an
    /// operator's reset).
    pub fn forget_buckets(&self) {
        self.lock_buckets().clear();
    }

    /// Whether this instance has leased from or been refused by `key` since it last forgot.
    pub fn knows(&self, key: BucketKey) -> bool {
        self.lock_buckets().contains_key(&key)
    }
}

/// The buckets a member's request spends from: its tenant's, its own (by kind, from the
/// tenant's limits), and, when it comes with an API key that has a rate of its own, the
/// key's.
pub async fn buckets_of(db: &Db, caller: &Caller) -> Result<Vec<Bucket>> {
    let limits = plans::of_tenant(db, caller.tenant_id).await?;
    let (policy, limit) = if caller.kind == "agent" {
        ("agent", limits.rates.agent)
    } else {
        ("user", limits.rates.user)
    };
    let mut buckets = Vec::with_capacity(3);
    buckets.push(Bucket {
        key: BucketKey::Tenant(caller.tenant_id),
        policy: "tenant",
        limit: limits.rates.tenant.into(),
    });
    buckets.push(Bucket {
        key: BucketKey::Identity(caller.tenant_id, caller.identity_id),
        policy,
        limit: limit.into(),
    });
    if let Some(key) = &caller.api_key
        && let Some(limit) = key.limit
    {
        buckets.push(Bucket {
            key: BucketKey::ApiKey(caller.tenant_id, key.id),
            policy: "api_key",
            limit,
        });
    }
    Ok(buckets)
}

/// The bucket of a request made before sign-in from `ip`.
pub fn address_bucket(db: &Db, ip: IpAddr) -> Bucket {
    Bucket {
        key: BucketKey::address(ip),
        policy: "ip",
        limit: db.limiter().anonymous,
    }
}

/// Spends one request from each of `buckets`: served only if every bucket holds one. The
/// store is asked only for buckets whose lease ran out; an error from it is the caller's to
/// judge (fail open or closed).
pub async fn spend(db: &Db, buckets: &[Bucket]) -> Result<Decision> {
    let limiter = db.limiter();
    let now = Instant::now();
    let mut ask: Vec<Ask> = Vec::new();
    {
        let mut local = limiter.lock_buckets();
        // A bucket that refused a moment ago refuses again from memory, before anything is
        // asked or marked as being asked.
        let mut refused: Option<Report> = None;
        for b in buckets {
            if let Some(l) = local.peek(&b.key).filter(|l| l.limit == b.limit)
                && l.refused_until.is_some_and(|t| t > now)
            {
                let r = l.report(b.key, b.policy, now);
                if refused.is_none_or(|f| r.retry_after_secs > f.retry_after_secs) {
                    refused = Some(r);
                }
            }
        }
        if refused.is_none() {
            for b in buckets {
                let Some(l) = local.get_mut(&b.key).filter(|l| l.limit == b.limit) else {
                    // New to this instance, or its limit changed (what was leased under the
                    // old one is dropped): one request, and the next lease sized by the pace.
                    local.insert(b.key, Local::first(b.limit, now));
                    ask.push(Ask::lease(*b, 1));
                    continue;
                };
                if l.leased > 0 && l.lease_until > now {
                    continue;
                }
                if l.asking_until.is_some_and(|t| t > now) {
                    ask.push(Ask {
                        bucket: *b,
                        want: 1,
                        lease: false,
                    });
                } else {
                    l.asking_until = Some(now + ASK_TIMEOUT);
                    ask.push(Ask::lease(
                        *b,
                        lease_size(b.limit, l.remaining, l.pace(now)),
                    ));
                }
            }
        }
        if let Some(r) = refused {
            drop(local);
            limiter.count(r.key, 0, 1);
            return Ok(Decision::Refused(r));
        }
        if ask.is_empty() {
            let report = hand_out(&mut local, buckets, now);
            drop(local);
            limiter.count_served(buckets);
            return Ok(Decision::Allowed(report));
        }
    }

    // Ask the store, keys in one order so that two asks never lock in a cycle.
    ask.sort_by_cached_key(|a| a.bucket.key.stored());
    let asked = ask_store(db, &ask).await;
    let now = Instant::now();
    let mut local = limiter.lock_buckets();
    let rows = match asked {
        Ok(rows) => rows,
        Err(e) => {
            // The next request asks again.
            for a in ask.iter().filter(|a| a.lease) {
                if let Some(l) = local.get_mut(&a.bucket.key) {
                    l.asking_until = None;
                }
            }
            return Err(e);
        }
    };
    let mut refused: Option<Report> = None;
    for (
        Ask {
            bucket: b, lease, ..
        },
        row,
    ) in ask.iter().zip(rows)
    {
        let us = |v: i64| Duration::from_micros(v.max(0) as u64);
        let prior = local.get(&b.key).filter(|l| l.limit == b.limit);
        // What is still leased stays: an answer only adds to it.
        let kept = prior
            .filter(|l| l.lease_until > now)
            .map_or(0, |l| l.leased);
        let granted = row.granted.clamp(0, i64::from(u32::MAX)) as u32;
        let leased = kept.saturating_add(granted);
        // A lease's answer starts a new measure of the pace; a lone request's keeps it.
        let (asked_at, handed, asking_until) = match prior {
            Some(p) if !*lease => (p.asked_at, p.handed, p.asking_until),
            _ => (now, 0, None),
        };
        let entry = Local {
            limit: b.limit,
            leased,
            lease_until: now + LEASE_TTL,
            refused_until: (leased == 0).then(|| now + us(row.retry_after_us)),
            asked_at,
            remaining: row.remaining.clamp(0, i64::from(u32::MAX)) as u32,
            full_in: us(row.full_in_us),
            handed,
            asking_until,
        };
        if leased == 0 {
            let r = entry.report(b.key, b.policy, now);
            if refused.is_none_or(|f| r.retry_after_secs > f.retry_after_secs) {
                refused = Some(r);
            }
        }
        local.insert(b.key, entry);
    }
    if let Some(r) = refused {
        drop(local);
        limiter.count(r.key, 0, 1);
        return Ok(Decision::Refused(r));
    }
    // Every bucket now holds a leased request, unless another request took the last one
    // meanwhile: then this one is served anyway (the store granted it).
    let report = hand_out(&mut local, buckets, now);
    drop(local);
    limiter.count_served(buckets);
    Ok(Decision::Allowed(report))
}

/// Takes what `ask` wants from the store (PostgreSQL's `tenantry_rate_take`, or the Redis
/// script), one answer per bucket in `ask`'s order.
async fn ask_store(db: &Db, ask: &[Ask]) -> Result<Vec<redis_store::Taken>> {
    if let Some(redis) = db.limiter().redis() {
        let buckets: Vec<(String, i64, i32, i32)> = ask
            .iter()
            .map(|a| {
                (
                    a.bucket.key.stored(),
                    a.bucket.limit.cost_us(),
                    a.bucket.limit.burst as i32,
                    a.want as i32,
                )
            })
            .collect();
        return redis_store::take(redis, &buckets, None).await;
    }
    let keys: Vec<String> = ask.iter().map(|a| a.bucket.key.stored()).collect();
    let costs: Vec<i64> = ask.iter().map(|a| a.bucket.limit.cost_us()).collect();
    let bursts: Vec<i32> = ask.iter().map(|a| a.bucket.limit.burst as i32).collect();
    let wants: Vec<i32> = ask.iter().map(|a| a.want as i32).collect();
    let rows = sqlx::query!(
        r#"select granted as "granted!", remaining as "remaining!",
                  retry_after_us as "retry_after_us!", full_in_us as "full_in_us!"
           from tenantry_rate_take($1, $2, $3, $4)"#,
        &keys,
        &costs,
        &bursts,
        &wants
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| redis_store::Taken {
            granted: i64::from(r.granted),
            remaining: i64::from(r.remaining),
            retry_after_us: r.retry_after_us,
            full_in_us: r.full_in_us,
        })
        .collect())
}

/// Deletes the stored buckets that are full again: their rows hold nothing a new row would
/// not. Run by the cleanup worker.
pub async fn delete_full(db: &Db) -> Result<u64> {
    let done = sqlx::query!("delete from rate_buckets where full_at < now()")
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// Hands out one leased request from each bucket; reports the one with the least left.
fn hand_out(
    local: &mut LruCache<BucketKey, Local>,
    buckets: &[Bucket],
    now: Instant,
) -> Option<Report> {
    let mut tightest: Option<Report> = None;
    for b in buckets {
        if let Some(l) = local.get_mut(&b.key) {
            l.leased = l.leased.saturating_sub(1);
            l.handed = l.handed.saturating_add(1);
            let r = l.report(b.key, b.policy, now);
            let share = |r: &Report| f64::from(r.remaining) / f64::from(r.limit.burst);
            if tightest.is_none_or(|t| share(&r) < share(&t)) {
                tightest = Some(r);
            }
        }
    }
    tightest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_small_and_one_near_the_edge() {
        let l = |rate, burst| Limit { rate, burst };
        let busy = 1e9;
        assert_eq!(lease_size(l(500.0, 1000), 1000, busy), 25);
        assert_eq!(lease_size(l(500.0, 40), 40, busy), 5);
        assert_eq!(lease_size(l(10.0, 30), 30, busy), 1);
        assert_eq!(lease_size(l(500.0, 1000), 40, busy), 10);
        assert_eq!(lease_size(l(500.0, 1000), 3, busy), 1);
        assert_eq!(lease_size(l(500.0, 1000), 0, busy), 1);
    }

    #[test]
    fn a_lease_covers_the_recent_pace_over_its_life() {
        let l = |rate, burst| Limit { rate, burst };
        let huge = l(1_000_000.0, 1_000_000);
        // 8,000 a second for 200 ms is 1,600: that is leased, not 50,000.
        assert_eq!(lease_size(huge, 1_000_000, 8_000.0), 1_600);
        assert_eq!(lease_size(huge, 1_000_000, 0.0), 1);
        assert_eq!(lease_size(huge, 1_000_000, 2.0), 1);
        assert_eq!(lease_size(l(500.0, 1000), 1000, 50.0), 10);
        // A client near its rate is capped by the rate: leases used up well within their life.
        assert_eq!(lease_size(l(500.0, 1000), 1000, 450.0), 25);
    }

    #[test]
    fn addresses_share_a_bucket_by_ipv4_or_ipv6_slash_64() {
        let a = |s: &str| BucketKey::address(s.parse().unwrap());
        assert_eq!(a("2001:db8:1:2:aaaa::1"), a("2001:db8:1:2:ffff::9"));
        assert_ne!(a("2001:db8:1:2::1"), a("2001:db8:1:3::1"));
        assert_eq!(a("::ffff:192.0.2.7"), a("192.0.2.7"));
        assert_ne!(a("192.0.2.7"), a("192.0.2.8"));
        assert_eq!(a("2001:db8:1:2::1").stored(), "a:2001:db8:1:2::");
        assert_eq!(a("192.0.2.7").tenant(), None);
    }
}
