//! The callers an instance has met, kept in memory so that a request resolves its caller
//! without a database round trip.
//!
//! Two maps, each bounded (least recently used entries leave first): callers by tenant and
//! identity (status is implied: only active identities are kept; profile, roles, groups and
//! the tenant's name and plan), and API keys by id (their identity, scopes, expiry,
//! revocation and secret hash). The tenant's compiled roles and policies stay in the
//! [`AuthzCache`](crate::authz::cache::AuthzCache).
//!
//! Every change that can alter an entry fires the trigger `tenantry_caller_changed`
//! (migration 19), whatever code made it; PostgreSQL delivers its notification on
//! [`CHANNEL`] at commit to every instance, whose listener calls [`CallerCache::forget`].
//! The cache answers only while that listener is connected ([`CallerCache::set_online`]):
//! before it connects, and from the moment it loses its connection until it has listened
//! again, every request reads. A generation counter keeps a read that raced with a change
//! from being cached.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use hashlink::LruCache;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ctx::Plan;

/// The PostgreSQL notification channel; see the module's documentation for its payloads.
pub const CHANNEL: &str = "tenantry_callers";

/// How many callers, and how many API keys, one instance keeps.
pub const CAPACITY: usize = 100_000;

/// What is kept of a caller: all of [`Caller`](crate::ctx::Caller) but how this request
/// came (session, token or key) and the tenant's compiled access control.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub tenant_slug: String,
    pub tenant_name: String,
    pub plan: Plan,
    pub email: Option<String>,
    pub display_name: String,
    pub kind: String,
    pub metadata: serde_json::Value,
    pub roles: Vec<Uuid>,
    pub groups: Vec<Uuid>,
    pub external_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub tenant_created_at: OffsetDateTime,
}

/// What is kept of an API key.
#[derive(Debug)]
pub(crate) struct KnownKey {
    pub tenant_id: Uuid,
    pub identity_id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub secret_hash: Vec<u8>,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    /// The key's own rate, when it has one.
    pub limit: Option<crate::limits::Limit>,
    /// When this instance last recorded the key's use (unix seconds; 0: unknown), so that
    /// only one request a minute writes it.
    pub last_used: AtomicI64,
}

/// Taken before reading what will be cached; the read is cached only if nothing was
/// forgotten (and the listener stayed connected) in between.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

pub struct CallerCache {
    callers: Mutex<LruCache<(Uuid, Uuid), Arc<Known>>>,
    keys: Mutex<LruCache<Uuid, Arc<KnownKey>>>,
    generation: AtomicU64,
    online: AtomicBool,
}

impl Default for CallerCache {
    fn default() -> Self {
        CallerCache::new(CAPACITY)
    }
}

impl std::fmt::Debug for CallerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerCache")
            .field("callers", &self.lock_callers().len())
            .field("keys", &self.lock_keys().len())
            .field("online", &self.online.load(Ordering::Acquire))
            .finish()
    }
}

impl CallerCache {
    pub fn new(capacity: usize) -> Self {
        CallerCache {
            callers: Mutex::new(LruCache::new(capacity)),
            keys: Mutex::new(LruCache::new(capacity)),
            generation: AtomicU64::new(0),
            online: AtomicBool::new(false),
        }
    }

    fn lock_callers(&self) -> std::sync::MutexGuard<'_, LruCache<(Uuid, Uuid), Arc<Known>>> {
        self.callers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_keys(&self) -> std::sync::MutexGuard<'_, LruCache<Uuid, Arc<KnownKey>>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the cache answers: only while changes are being heard.
    pub fn online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Called by the listener: `true` once it listens on [`CHANNEL`], `false` as soon as
    /// it may have missed a notification. Either way everything kept is dropped: while
    /// nobody listened, any entry may have gone stale.
    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Release);
        self.clear();
    }

    /// Drops everything.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock_callers().clear();
        self.lock_keys().clear();
    }

    /// Acts on one notification of [`CHANNEL`]: drops what it names (everything, when it
    /// cannot be read).
    pub fn forget(&self, payload: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut words = payload.split(' ');
        match (words.next(), words.next(), words.next()) {
            (Some("key"), Some(id), None) => match Uuid::parse_str(id) {
                Ok(id) => {
                    self.lock_keys().remove(&id);
                }
                Err(_) => self.clear(),
            },
            (Some(tenant), Some(identity), None) => {
                match (Uuid::parse_str(tenant), Uuid::parse_str(identity)) {
                    (Ok(t), Ok(i)) => {
                        self.lock_callers().remove(&(t, i));
                    }
                    _ => self.clear(),
                }
            }
            (Some(tenant), None, None) => match Uuid::parse_str(tenant) {
                Ok(t) => self.lock_callers().retain(|(tenant, _), _| *tenant != t),
                Err(_) => self.clear(),
            },
            _ => self.clear(),
        }
    }

    /// After a commit on this instance: drops what its transaction noted it changed (one
    /// payload, or `*` for several: every caller and key of the tenant).
    pub(crate) fn forget_noted(&self, tenant_id: Uuid, noted: &str) {
        if noted != "*" {
            return self.forget(noted);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock_callers().retain(|(t, _), _| *t != tenant_id);
        self.lock_keys().retain(|_, k| k.tenant_id != tenant_id);
    }

    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    fn still(&self, ticket: Ticket) -> bool {
        self.online() && self.generation.load(Ordering::Acquire) == ticket.0
    }

    pub(crate) fn caller(&self, tenant_id: Uuid, identity_id: Uuid) -> Option<Arc<Known>> {
        if !self.online() {
            return None;
        }
        self.lock_callers().get(&(tenant_id, identity_id)).cloned()
    }

    pub(crate) fn keep_caller(
        &self,
        ticket: Ticket,
        tenant_id: Uuid,
        identity_id: Uuid,
        known: Arc<Known>,
    ) {
        let mut callers = self.lock_callers();
        // Checked under the lock: a `forget` bumps the generation before it takes it.
        if self.still(ticket) {
            callers.insert((tenant_id, identity_id), known);
        }
    }

    pub(crate) fn key(&self, id: Uuid) -> Option<Arc<KnownKey>> {
        if !self.online() {
            return None;
        }
        self.lock_keys().get(&id).cloned()
    }

    pub(crate) fn keep_key(&self, ticket: Ticket, id: Uuid, key: Arc<KnownKey>) {
        let mut keys = self.lock_keys();
        if self.still(ticket) {
            keys.insert(id, key);
        }
    }

    /// Keeps `known` as if it had just been read (benchmarks of the cache-hit path).
    #[cfg(feature = "testing")]
    pub fn remember(&self, tenant_id: Uuid, identity_id: Uuid, known: Known) {
        self.keep_caller(self.ticket(), tenant_id, identity_id, Arc::new(known));
    }

    /// How many callers and keys are kept (for tests and metrics).
    pub fn len(&self) -> (usize, usize) {
        (self.lock_callers().len(), self.lock_keys().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(name: &str) -> Arc<Known> {
        Arc::new(Known {
            tenant_slug: "acme".into(),
            tenant_name: "Acme".into(),
            plan: Plan::PRO,
            email: None,
            display_name: name.into(),
            kind: "user".into(),
            metadata: serde_json::json!({}),
            roles: vec![],
            groups: vec![],
            external_id: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            tenant_created_at: OffsetDateTime::UNIX_EPOCH,
        })
    }

    fn key(tenant_id: Uuid) -> Arc<KnownKey> {
        Arc::new(KnownKey {
            tenant_id,
            identity_id: Uuid::now_v7(),
            name: "k".into(),
            scopes: vec![],
            secret_hash: vec![0; 32],
            expires_at: None,
            revoked_at: None,
            limit: None,
            last_used: AtomicI64::new(0),
        })
    }

    #[test]
    fn nothing_is_kept_or_answered_while_offline() {
        let cache = CallerCache::new(10);
        let (t, i) = (Uuid::now_v7(), Uuid::now_v7());
        cache.keep_caller(cache.ticket(), t, i, known("ada"));
        assert!(cache.caller(t, i).is_none());
        assert_eq!(cache.len(), (0, 0));

        cache.set_online(true);
        cache.keep_caller(cache.ticket(), t, i, known("ada"));
        assert_eq!(cache.caller(t, i).unwrap().display_name, "ada");
        // Losing the listener drops everything and stops answering.
        cache.set_online(false);
        assert_eq!(cache.len(), (0, 0));
        cache.keep_caller(cache.ticket(), t, i, known("ada"));
        assert!(cache.caller(t, i).is_none());
    }

    #[test]
    fn a_read_that_raced_with_a_change_is_not_kept() {
        let cache = CallerCache::new(10);
        cache.set_online(true);
        let (t, i) = (Uuid::now_v7(), Uuid::now_v7());
        let ticket = cache.ticket();
        cache.forget(&format!("{t} {}", Uuid::now_v7()));
        cache.keep_caller(ticket, t, i, known("stale"));
        assert!(cache.caller(t, i).is_none());
        // Coming back online also voids tickets taken before.
        let ticket = cache.ticket();
        cache.set_online(true);
        cache.keep_key(ticket, i, key(t));
        assert!(cache.key(i).is_none());
    }

    #[test]
    fn notifications_drop_what_they_name() {
        let cache = CallerCache::new(10);
        cache.set_online(true);
        let (acme, globex) = (Uuid::now_v7(), Uuid::now_v7());
        let (ada, bob, eve, key_id) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let fill = |cache: &CallerCache| {
            for (t, i) in [(acme, ada), (acme, bob), (globex, eve)] {
                cache.keep_caller(cache.ticket(), t, i, known("x"));
            }
            cache.keep_key(cache.ticket(), key_id, key(acme));
        };
        fill(&cache);
        cache.forget(&format!("{acme} {ada}"));
        assert!(cache.caller(acme, ada).is_none());
        assert!(cache.caller(acme, bob).is_some() && cache.caller(globex, eve).is_some());

        cache.forget(&acme.to_string());
        assert!(cache.caller(acme, bob).is_none());
        assert!(cache.caller(globex, eve).is_some() && cache.key(key_id).is_some());

        cache.forget(&format!("key {key_id}"));
        assert!(cache.key(key_id).is_none());
        assert!(cache.caller(globex, eve).is_some());

        fill(&cache);
        cache.forget("not a payload");
        assert_eq!(cache.len(), (0, 0));
    }

    #[test]
    fn the_least_recently_used_leave_first() {
        let cache = CallerCache::new(2);
        cache.set_online(true);
        let t = Uuid::now_v7();
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        cache.keep_caller(cache.ticket(), t, a, known("a"));
        cache.keep_caller(cache.ticket(), t, b, known("b"));
        assert!(cache.caller(t, a).is_some());
        cache.keep_caller(cache.ticket(), t, c, known("c"));
        assert!(cache.caller(t, b).is_none());
        assert!(cache.caller(t, a).is_some() && cache.caller(t, c).is_some());
    }
}
