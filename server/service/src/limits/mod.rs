//! Rate limits: buckets of requests per tenant, per identity (by kind, from the tenant's plan)
//! and per client address (requests made before anyone signed in), shared by every instance
//! through PostgreSQL, with a first filter in each instance's memory.
//!
//! The store is the table `rate_buckets` and the function `tenantry_rate_take` (migration 23),
//! which runs the arithmetic of [`gcra`] on the database's clock. Asking it on every request
//! would put a round trip (and a row lock shared by all of a tenant's requests) on every
//! request's path, so an instance takes a *lease*: several requests at once, which it then
//! hands out from memory for at most [`LEASE_TTL`]. A lease is small (at most 1/20 of a
//! second of the bucket's rate, 1/8 of its burst, and a quarter of what the bucket held at the
//! last ask), and one request when the bucket is near empty, so near its edge every request
//! asks the store. What a lease changes:
//!
//! - Nothing is ever granted that the store did not grant: over any span, a bucket serves at
//!   most what GCRA allows, except that a request may be served up to [`LEASE_TTL`] after its
//!   lease was granted. So over N instances, a span of `d` seconds sees at most
//!   `burst + d·rate + N·lease` requests, `lease` being at most `max(1, min(rate/20, burst/8))`.
//! - A lease that expires unused is lost for a moment: the bucket refills at its rate.
//!
//! A refused bucket is remembered until its retry time: until then every request that needs
//! it is refused from memory, without asking the store. A flood from a limited client costs a
//! map lookup per request.

pub mod gcra;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hashlink::LruCache;
use uuid::Uuid;

pub use gcra::Limit;

use crate::ctx::{Caller, Plan};
use crate::{Db, Error, Result};

/// How long an instance may hand out what it leased.
pub const LEASE_TTL: Duration = Duration::from_millis(200);

/// How many buckets one instance remembers (least recently used leave first).
const CAPACITY: usize = 100_000;

/// Which bucket a request spends from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BucketKey {
    /// A tenant's requests, all together.
    Tenant(Uuid),
    /// One identity's requests (whatever credential it uses).
    Identity(Uuid),
    /// Requests before sign-in from one address (an IPv6 address's /64).
    Address(IpAddr),
}

impl BucketKey {
    /// The bucket's row in the store.
    fn stored(&self) -> String {
        match self {
            BucketKey::Tenant(id) => format!("t:{id}"),
            BucketKey::Identity(id) => format!("i:{id}"),
            BucketKey::Address(ip) => format!("a:{ip}"),
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
}

impl Local {
    fn report(&self, policy: &'static str, now: Instant) -> Report {
        let since = now.saturating_duration_since(self.asked_at);
        let refilled = (since.as_secs_f64() * self.limit.rate) as u64;
        let remaining = (u64::from(self.remaining) + u64::from(self.leased) + refilled)
            .min(u64::from(self.limit.burst)) as u32;
        let full_in = self.full_in.saturating_sub(since);
        let retry_after = self
            .refused_until
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        Report {
            policy,
            limit: self.limit,
            remaining: if retry_after.is_zero() { remaining } else { 0 },
            reset_secs: full_in.as_secs_f64().ceil() as u64,
            retry_after_secs: retry_after.as_secs_f64().ceil() as u64,
        }
    }
}

/// How many requests to lease from a bucket that held `remaining` at the last ask.
fn lease_size(limit: Limit, remaining: Option<u32>) -> u32 {
    let by_rate = (limit.rate / 20.0).floor() as u32;
    let by_burst = limit.burst / 8;
    let mut size = by_rate.min(by_burst);
    if let Some(remaining) = remaining {
        size = size.min(remaining / 4);
    }
    size.max(1)
}

/// The plans' limits, as every instance caches them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanLimits {
    pub tenant: Limit,
    pub user: Limit,
    pub agent: Limit,
}

/// One instance's limiter: its leases, what it was refused, and the plans.
pub struct Limiter {
    buckets: Mutex<LruCache<BucketKey, Local>>,
    plans: Mutex<Option<(HashMap<Plan, PlanLimits>, Instant)>>,
    /// Limits for requests before sign-in, per address.
    pub anonymous: Limit,
    /// Whether limits apply at all (`TENANTRY_RATE_LIMITS`).
    pub enabled: bool,
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

/// How long the plans are trusted while the change listener is down.
const PLANS_OFFLINE_TTL: Duration = Duration::from_secs(1);

impl Limiter {
    pub fn new(enabled: bool, anonymous: Limit) -> Limiter {
        Limiter {
            buckets: Mutex::new(LruCache::new(CAPACITY)),
            plans: Mutex::new(None),
            anonymous,
            enabled,
        }
    }

    fn lock_buckets(&self) -> std::sync::MutexGuard<'_, LruCache<BucketKey, Local>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the cached plans (a plan changed).
    pub fn forget_plans(&self) {
        *self.plans.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Forgets every bucket this instance leased from or was refused by (tests, and an
    /// operator's reset).
    pub fn forget_buckets(&self) {
        self.lock_buckets().clear();
    }
}

/// The limits of `plan`.
pub async fn plan_limits(db: &Db, plan: Plan) -> Result<PlanLimits> {
    let online = db.callers().online();
    {
        let cached = db.limiter().plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((plans, at)) = cached.as_ref()
            && (online || at.elapsed() < PLANS_OFFLINE_TTL)
            && let Some(limits) = plans.get(&plan)
        {
            return Ok(*limits);
        }
    }
    let rows = sqlx::query!(
        "select name, tenant_rate, tenant_burst, user_rate, user_burst, agent_rate, agent_burst
         from plans"
    )
    .fetch_all(db.pool())
    .await?;
    let mut plans = HashMap::new();
    for r in rows {
        let Some(p) = Plan::parse(&r.name) else {
            continue;
        };
        let limit = |rate: f64, burst: i32| Limit {
            rate,
            burst: burst.max(1) as u32,
        };
        plans.insert(
            p,
            PlanLimits {
                tenant: limit(r.tenant_rate, r.tenant_burst),
                user: limit(r.user_rate, r.user_burst),
                agent: limit(r.agent_rate, r.agent_burst),
            },
        );
    }
    let limits = plans
        .get(&plan)
        .copied()
        .ok_or_else(|| Error::Internal(format!("the plan {} has no limits", plan.as_str())))?;
    *db.limiter().plans.lock().unwrap_or_else(|e| e.into_inner()) = Some((plans, Instant::now()));
    Ok(limits)
}

/// The buckets a member's request spends from: its tenant's and its own.
pub async fn buckets_of(db: &Db, caller: &Caller) -> Result<[Bucket; 2]> {
    let plan = plan_limits(db, caller.plan).await?;
    let (policy, limit) = if caller.kind == "agent" {
        ("agent", plan.agent)
    } else {
        ("user", plan.user)
    };
    Ok([
        Bucket {
            key: BucketKey::Tenant(caller.tenant_id),
            policy: "tenant",
            limit: plan.tenant,
        },
        Bucket {
            key: BucketKey::Identity(caller.identity_id),
            policy,
            limit,
        },
    ])
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
    let mut ask: Vec<(Bucket, u32)> = Vec::new();
    {
        let mut local = limiter.lock_buckets();
        let mut refused: Option<Report> = None;
        for b in buckets {
            match local.get_mut(&b.key) {
                Some(l) if l.limit != b.limit => {
                    // The limit changed: what was leased under the old one is dropped.
                    ask.push((*b, lease_size(b.limit, None)));
                }
                Some(l) if l.refused_until.is_some_and(|t| t > now) => {
                    let r = l.report(b.policy, now);
                    if refused.is_none_or(|f| r.retry_after_secs > f.retry_after_secs) {
                        refused = Some(r);
                    }
                }
                Some(l) if l.leased > 0 && l.lease_until > now => {}
                Some(l) => ask.push((*b, lease_size(b.limit, Some(l.remaining)))),
                None => ask.push((*b, lease_size(b.limit, None))),
            }
        }
        if let Some(r) = refused {
            return Ok(Decision::Refused(r));
        }
        if ask.is_empty() {
            return Ok(Decision::Allowed(hand_out(&mut local, buckets, now)));
        }
    }

    // Ask the store, keys in one order so that two asks never lock in a cycle.
    ask.sort_by_cached_key(|(b, _)| b.key.stored());
    let keys: Vec<String> = ask.iter().map(|(b, _)| b.key.stored()).collect();
    let costs: Vec<i64> = ask.iter().map(|(b, _)| b.limit.cost_us()).collect();
    let bursts: Vec<i32> = ask.iter().map(|(b, _)| b.limit.burst as i32).collect();
    let wants: Vec<i32> = ask.iter().map(|(_, w)| *w as i32).collect();
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
    let now = Instant::now();
    let mut local = limiter.lock_buckets();
    let mut refused: Option<Report> = None;
    for ((b, _), row) in ask.iter().zip(rows) {
        let us = |v: i64| Duration::from_micros(v.max(0) as u64);
        let entry = Local {
            limit: b.limit,
            // What an earlier lease left is dropped (a concurrent ask): every request this
            // instance hands out was granted less than LEASE_TTL ago.
            leased: row.granted.max(0) as u32,
            lease_until: now + LEASE_TTL,
            refused_until: (row.granted == 0).then(|| now + us(row.retry_after_us)),
            asked_at: now,
            remaining: row.remaining.max(0) as u32,
            full_in: us(row.full_in_us),
        };
        if row.granted == 0 {
            let r = entry.report(b.policy, now);
            if refused.is_none_or(|f| r.retry_after_secs > f.retry_after_secs) {
                refused = Some(r);
            }
        }
        local.insert(b.key, entry);
    }
    if let Some(r) = refused {
        return Ok(Decision::Refused(r));
    }
    // Every bucket now holds a leased request, unless another request took the last one
    // meanwhile: then this one is served anyway (the store granted it).
    Ok(Decision::Allowed(hand_out(&mut local, buckets, now)))
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
            let r = l.report(b.policy, now);
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
        assert_eq!(lease_size(l(500.0, 1000), None), 25);
        assert_eq!(lease_size(l(500.0, 40), None), 5);
        assert_eq!(lease_size(l(10.0, 30), None), 1);
        assert_eq!(lease_size(l(500.0, 1000), Some(40)), 10);
        assert_eq!(lease_size(l(500.0, 1000), Some(3)), 1);
        assert_eq!(lease_size(l(500.0, 1000), Some(0)), 1);
    }

    #[test]
    fn addresses_share_a_bucket_by_ipv4_or_ipv6_slash_64() {
        let a = |s: &str| BucketKey::address(s.parse().unwrap());
        assert_eq!(a("2001:db8:1:2:aaaa::1"), a("2001:db8:1:2:ffff::9"));
        assert_ne!(a("2001:db8:1:2::1"), a("2001:db8:1:3::1"));
        assert_eq!(a("::ffff:192.0.2.7"), a("192.0.2.7"));
        assert_ne!(a("192.0.2.7"), a("192.0.2.8"));
        assert_eq!(a("2001:db8:1:2::1").stored(), "a:2001:db8:1:2::");
    }
}
