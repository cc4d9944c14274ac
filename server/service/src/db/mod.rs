//! The database handle and the two kinds of transaction every service function uses.
//!
//! * [`ReadTx`]: authorized, scoped to the caller's tenant (`tenantry.tenant_id` is set
//!   with `set_config(..., true)`, so row-level security sees it until the end of the
//!   transaction), rolled back when dropped.
//! * [`ChangeTx`]: the same, plus the rule of the pipeline: it cannot be committed unless
//!   at least one [`Change`] was recorded, and recording a change writes its audit record
//!   and its outbox event in the same transaction.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use std::sync::Arc;

use crate::audit_log;
use crate::auth::callers::CallerCache;
use crate::authz::cache::AuthzCache;
use crate::authz::{Permission, Target};
use crate::ctx::Ctx;
use crate::error::{Error, Result};
use crate::privacy::keys::{Keyring, TenantKeys};
use crate::resource::{self, Authorized, Resource};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// The role the application's pooled connections switch to (see the first migration).
pub const APP_ROLE: &str = "tenantry_app";

#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
    authz: Arc<AuthzCache>,
    /// The callers this instance has met (see [`crate::auth::callers`]).
    callers: Arc<CallerCache>,
    /// The tenants whose committed audit records wait for this instance's sealer.
    sealer: Arc<audit_log::SealQueue>,
    /// Seals what must be secret at rest (queued mail); set by the server at start.
    master: Option<Arc<crate::crypto::MasterKey>>,
    /// Tenants' keys of field-level encryption, unwrapped by the master key.
    keyring: Arc<Keyring>,
    /// Embeds memories; the local model unless the server configured another provider.
    embedder: Option<Arc<dyn crate::memories::embeddings::Provider>>,
    /// Recent search queries' vectors (see [`crate::memories::embeddings::QueryVectors`]).
    query_vectors: Arc<crate::memories::embeddings::QueryVectors>,
    /// Recent search queries' keyed words (see [`crate::memories::sealed::QueryWords`]).
    query_words: Arc<crate::memories::sealed::QueryWords>,
    /// Makes webhook attempts, with the server's webhook settings.
    webhooks: Arc<crate::webhooks::delivery::Sender>,
    /// Talks to SSO identity providers, with the server's SSO settings.
    sso: Arc<crate::sso::oidc::Oidc>,
    /// Slots for anonymous requests that redeem a one-time token (see [`Db::anonymous_slot`]).
    anonymous: Arc<tokio::sync::Semaphore>,
    /// How many of those may start per second (see [`Db::anonymous_slot`]).
    anonymous_rate: Arc<Bucket>,
    /// This instance's rate limiter (see [`crate::limits`]).
    limiter: Arc<crate::limits::Limiter>,
}

/// The functions behind the operators that searches' GIN indexes serve; unless they are
/// LEAKPROOF, row-level security keeps every search off its index (migration 027).
const SEARCH_FUNCTIONS: &str = "'ts_match_vq(tsvector,tsquery)'::regprocedure, \
    'textlike(text,text)'::regprocedure, 'arraycontains(anyarray,anyarray)'::regprocedure, \
    'jsonb_contains(jsonb,jsonb)'::regprocedure";

/// Says so at start when migration 027 could not mark the search functions LEAKPROOF (the
/// migrating role was not a superuser).
async fn warn_unless_searches_use_indexes(pool: &PgPool) {
    let sql = format!(
        "select coalesce(array_agg(proname::text order by proname), '{{}}') from pg_proc
         where oid in ({SEARCH_FUNCTIONS}) and not proleakproof"
    );
    match sqlx::query_scalar::<_, Vec<String>>(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
    {
        Ok(missing) if missing.is_empty() => {}
        Ok(missing) => tracing::warn!(
            functions = ?missing,
            "searches read every row of their tenant: a superuser must mark these functions \
             LEAKPROOF (docs/configuration.md, \"Searches and row-level security\")"
        ),
        Err(e) => tracing::warn!(error = %e, "could not check the search functions"),
    }
}

/// Anonymous token redemptions that may start per second in one process, and the burst.
const ANONYMOUS_PER_SECOND: f64 = 100.0;
/// How long a refused anonymous redemption waits before its 429: a flooding connection
/// then costs a timer, not a request's work, each second.
const ANONYMOUS_TARPIT: Duration = Duration::from_secs(1);

/// A token bucket: `rate` a second, at most `rate` saved up.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    state: std::sync::Mutex<(f64, std::time::Instant)>,
}

impl Bucket {
    fn new(rate: f64) -> Bucket {
        Bucket {
            rate,
            state: std::sync::Mutex::new((rate, std::time::Instant::now())),
        }
    }

    fn take(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        let (tokens, at) = *state;
        let tokens = (tokens + now.duration_since(at).as_secs_f64() * self.rate).min(self.rate);
        if tokens >= 1.0 {
            *state = (tokens - 1.0, now);
            true
        } else {
            *state = (tokens, now);
            false
        }
    }
}

/// Says at most every ten seconds that anonymous redemptions are being turned away, with
/// how many were since.
fn log_turned_away() {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SINCE: AtomicU64 = AtomicU64::new(0);
    static LAST: AtomicU64 = AtomicU64::new(0);
    let turned = SINCE.fetch_add(1, Ordering::Relaxed) + 1;
    if due_every(&LAST, 10) {
        SINCE.fetch_sub(turned, Ordering::Relaxed);
        tracing::warn!(
            turned_away = turned,
            "anonymous token redemptions are saturated: requests are answered 429 after a second"
        );
    }
}

/// Whether `secs` have passed since the last time this said yes for `last` (a unix time in
/// seconds), and if so claims now: for a warning said at most that often, from any thread.
pub fn due_every(last: &std::sync::atomic::AtomicU64, secs: u64) -> bool {
    use std::sync::atomic::Ordering;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let seen = last.load(Ordering::Relaxed);
    now >= seen + secs
        && last
            .compare_exchange(seen, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

/// How long a pooled connection may sit idle before it is tested with a ping when borrowed.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(5);

/// How the pools' connections are made, tested and lent.
fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        // sqlx pings every connection it returns to the pool (which also sends a dropped
        // transaction's ROLLBACK), and by default pings it again when it is borrowed:
        // a second round trip on every request's path for a connection that answered
        // a moment ago. Only one idle for a while (the database may have restarted
        // meanwhile) is tested before it is handed out.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_BEFORE_PING {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("set role tenantry_app").await?;
                Ok(())
            })
        })
}

/// Anonymous token redemptions at once: a quarter of the pool, at least two.
fn anonymous_slots(max_connections: u32) -> usize {
    (max_connections as usize / 4).max(2)
}

impl Db {
    /// Connects a pool whose every connection runs as [`APP_ROLE`], which does not bypass
    /// row-level security whatever role `url` names.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| Error::internal("DATABASE_URL", e))?;
        let pool = pool_options(max_connections)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot connect to the database: {e}")))?;
        Ok(Db {
            pool,
            authz: Arc::new(AuthzCache::default()),
            callers: Arc::new(CallerCache::default()),
            sealer: Arc::new(audit_log::SealQueue::default()),
            master: None,
            keyring: Arc::new(Keyring::without_master()),
            embedder: None,
            query_vectors: Default::default(),
            query_words: Default::default(),
            webhooks: Arc::new(crate::webhooks::delivery::Sender::new(
                crate::webhooks::Settings::default(),
            )),
            sso: Arc::new(crate::sso::oidc::Oidc::new(Default::default())),
            anonymous: Arc::new(tokio::sync::Semaphore::new(anonymous_slots(
                max_connections,
            ))),
            anonymous_rate: Arc::new(Bucket::new(ANONYMOUS_PER_SECOND)),
            limiter: Default::default(),
        })
    }

    /// The same database and caches over a pool of its own of at most `max_connections`,
    /// opened as they are first needed, and HTTP clients of its own for webhooks and SSO. Each
    /// console thread (see the server's `renderers`) works through such a handle: a socket a
    /// thread opened is then never lent to another runtime, whose requests would otherwise
    /// depend on that thread to hear the answers.
    pub fn with_own_pool(&self, max_connections: u32) -> Db {
        let options = (*self.pool.connect_options()).clone();
        Db {
            pool: pool_options(max_connections).connect_lazy_with(options),
            webhooks: Arc::new(crate::webhooks::delivery::Sender::new(
                self.webhooks.settings.clone(),
            )),
            sso: Arc::new(crate::sso::oidc::Oidc::new(self.sso.settings)),
            ..self.clone()
        }
    }

    /// A slot for an anonymous request that redeems a one-time token (accepting or
    /// previewing an invitation, asking for or confirming a password reset), held while it
    /// works. At most a quarter of the pool's connections are such slots, and at most
    /// [`ANONYMOUS_PER_SECOND`] may start a second; past either the request waits a second
    /// (holding nothing) and is answered 429. A flood of forged tokens from many addresses,
    /// which the per-address throttle cannot stop, then neither holds the connections
    /// sign-ins and signed-in requests need nor keeps the CPU busy: each flooding
    /// connection costs one cheap answer a second.
    pub(crate) async fn anonymous_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        if self.anonymous_rate.take()
            && let Ok(permit) = self.anonymous.clone().try_acquire_owned()
        {
            return Ok(permit);
        }
        log_turned_away();
        tokio::time::sleep(ANONYMOUS_TARPIT).await;
        Err(Error::RateLimited {
            retry_after_secs: 1,
        })
    }

    /// Applies pending migrations as the role `url` names (the owner of the schema).
    pub async fn migrate(url: &str) -> Result<()> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| Error::internal("DATABASE_URL", e))?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| Error::Unavailable(format!("cannot connect to the database: {e}")))?;
        let result = MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| Error::internal("migrations", e));
        if result.is_ok() {
            warn_unless_searches_use_indexes(&pool).await;
        }
        pool.close().await;
        result
    }

    /// The same handle, able to seal and open secrets at rest with `master`.
    pub fn with_master_key(mut self, master: crate::crypto::MasterKey) -> Db {
        let master = Arc::new(master);
        self.keyring = Arc::new(Keyring::new(master.clone()));
        self.master = Some(master);
        self
    }

    /// This instance's tenant keys (see [`crate::privacy::keys`]).
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The tenant's keys of field-level encryption, from this instance's memory or read in
    /// a short transaction of their own (see [`Keyring::tenant`]):
    /// call it after authorizing and before opening the request's own transaction.
    pub async fn tenant_keys(&self, tenant_id: Uuid) -> Result<Arc<TenantKeys>> {
        self.keyring.tenant(self, tenant_id).await
    }

    pub fn master_key(&self) -> Result<&crate::crypto::MasterKey> {
        self.master
            .as_deref()
            .ok_or_else(|| Error::Internal("the database handle has no master key".into()))
    }

    /// The same handle, embedding memories with `provider`.
    pub fn with_embedder(mut self, provider: Arc<dyn crate::memories::embeddings::Provider>) -> Db {
        self.embedder = Some(provider);
        self.query_vectors = Default::default();
        self
    }

    /// The vectors of recent search queries.
    pub fn query_vectors(&self) -> &crate::memories::embeddings::QueryVectors {
        &self.query_vectors
    }

    /// The keyed words of recent search queries.
    pub(crate) fn query_words(&self) -> &crate::memories::sealed::QueryWords {
        &self.query_words
    }

    /// The embedding provider in use: the configured one, else the local model.
    pub fn embedder(&self) -> Arc<dyn crate::memories::embeddings::Provider> {
        self.embedder
            .clone()
            .unwrap_or_else(crate::memories::embeddings::local)
    }

    /// The same handle, delivering webhooks with `settings`.
    pub fn with_webhooks(mut self, settings: crate::webhooks::Settings) -> Db {
        self.webhooks = Arc::new(crate::webhooks::delivery::Sender::new(settings));
        self
    }

    /// The same handle, limiting requests with `limiter`.
    pub fn with_limiter(mut self, limiter: crate::limits::Limiter) -> Db {
        self.limiter = Arc::new(limiter);
        self
    }

    /// This instance's rate limiter.
    pub fn limiter(&self) -> &crate::limits::Limiter {
        &self.limiter
    }

    /// The same handle, talking to identity providers with `settings`.
    pub fn with_sso(mut self, settings: crate::sso::oidc::Settings) -> Db {
        self.sso = Arc::new(crate::sso::oidc::Oidc::new(settings));
        self
    }

    /// This server's client for identity providers, and its discovery cache.
    pub fn sso(&self) -> &crate::sso::oidc::Oidc {
        &self.sso
    }

    /// What makes webhook attempts, and its settings.
    pub fn webhooks(&self) -> &Arc<crate::webhooks::delivery::Sender> {
        &self.webhooks
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether the database answers (readiness).
    pub async fn ready(&self) -> Result<()> {
        sqlx::query_scalar!("select 1 as one")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }

    /// The pool's connections: open, idle, and the most it opens.
    pub fn pool_gauges(&self) -> (u32, usize, u32) {
        let pool = &self.pool;
        (
            pool.size(),
            pool.num_idle(),
            pool.options().get_max_connections(),
        )
    }

    /// A connection of its own that receives the notifications of `channel` (the workers'
    /// wake-ups, the access-control cache's invalidations).
    pub async fn listen(&self, channel: &str) -> Result<sqlx::postgres::PgListener> {
        self.listen_to(&[channel]).await
    }

    /// A connection listening on every channel of `channels`.
    /// It is a connection of its own, outside the pool (a listener holds its connection
    /// for as long as it lives, and the workers' listeners would otherwise take the
    /// connections requests need).
    pub async fn listen_to(&self, channels: &[&str]) -> Result<sqlx::postgres::PgListener> {
        let own = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_lazy_with((*self.pool.connect_options()).clone());
        let mut listener = sqlx::postgres::PgListener::connect_with(&own).await?;
        listener.listen_all(channels.iter().copied()).await?;
        Ok(listener)
    }

    /// The pool itself, for the integration tests' own checks of what is stored.
    #[cfg(feature = "testing")]
    pub fn pool_for_tests(&self) -> &PgPool {
        &self.pool
    }

    /// Every tenant's id, for the workers that visit each tenant in turn.
    pub(crate) async fn tenant_ids(&self) -> Result<Vec<Uuid>> {
        Ok(sqlx::query_scalar!("select id from tenants order by id")
            .fetch_all(&self.pool)
            .await?)
    }

    /// The tenants' compiled access-control data.
    pub fn authz(&self) -> &AuthzCache {
        &self.authz
    }

    /// The callers and API keys this instance has met.
    pub fn callers(&self) -> &CallerCache {
        &self.callers
    }

    /// The tenants with audit records for this instance's sealer to link to their chain.
    pub fn sealer(&self) -> &audit_log::SealQueue {
        &self.sealer
    }

    pub async fn close(&self) {
        self.pool.close().await
    }

    /// A read-only view of the caller's tenant, after authorizing `permission` on the
    /// permission's module as a whole.
    pub async fn read(&self, ctx: &Ctx, permission: Permission) -> Result<ReadTx> {
        let tenant_id = ctx.tenant_id()?;
        ctx.authorize(permission, Target::collection(tenant_id, permission.module))?;
        Ok(ReadTx {
            tx: self.begin_tenant(tenant_id).await?,
            tenant_id,
            module_allowed: None,
            keyring: self.keyring.clone(),
        })
    }

    /// A read-only view of the caller's tenant for reading one object with `permission`:
    /// a caller who lacks it on the module as a whole may still be allowed on the object by
    /// a rule on its id, owner or metadata, which [`ReadTx::lookup`] decides.
    pub async fn read_object(&self, ctx: &Ctx, permission: Permission) -> Result<ReadTx> {
        let tenant_id = ctx.tenant_id()?;
        let module_allowed = module_allows(ctx, tenant_id, permission)?;
        Ok(ReadTx {
            tx: self.begin_tenant(tenant_id).await?,
            tenant_id,
            module_allowed: Some((permission, module_allowed)),
            keyring: self.keyring.clone(),
        })
    }

    /// Reads object `id` of the caller's tenant and authorizes reading it, as
    /// [`ReadTx::lookup`] with [`Resource::READ`] does, in the fewest round trips the kind
    /// allows ([`Resource::fetch_alone`]): for an answer that is the object alone.
    pub async fn get<R: Resource>(&self, ctx: &Ctx, id: Uuid) -> Result<R> {
        let tenant_id = ctx.tenant_id()?;
        let module_allowed = module_allows(ctx, tenant_id, R::READ)?;
        let found = R::fetch_alone(self, tenant_id, id).await?;
        Ok(resource::decide(ctx, tenant_id, found, R::READ, module_allowed)?.into_inner())
    }

    /// Authorizes `permission` on object `id` of the caller's tenant in a short read of its
    /// own: for costly work that must come after the object's check but outside the
    /// change's transaction (resolving a URL, hashing). The change looks the object up
    /// again, locked.
    pub async fn authorized<R: Resource>(
        &self,
        ctx: &Ctx,
        id: Uuid,
        permission: Permission,
    ) -> Result<Authorized<R>> {
        let tenant_id = ctx.tenant_id()?;
        let module_allowed = module_allows(ctx, tenant_id, permission)?;
        let mut tx = self.begin_tenant(tenant_id).await?;
        resource::lookup(
            ctx,
            (&mut *tx, &*self.keyring),
            tenant_id,
            id,
            permission,
            false,
            module_allowed,
        )
        .await
    }

    /// A read-only view of `tenant_id` for a caller that authorizes row by row itself
    /// (memories: an agent may read its own rows and no others).
    pub(crate) async fn read_in(&self, tenant_id: Uuid) -> Result<ReadTx> {
        Ok(ReadTx {
            tx: self.begin_tenant(tenant_id).await?,
            tenant_id,
            module_allowed: None,
            keyring: self.keyring.clone(),
        })
    }

    /// A change inside the caller's tenant, after authorizing `permission` on the
    /// permission's module as a whole.
    pub async fn change<'c>(&self, ctx: &'c Ctx, permission: Permission) -> Result<ChangeTx<'c>> {
        let tenant_id = ctx.tenant_id()?;
        ctx.authorize(permission, Target::collection(tenant_id, permission.module))?;
        self.change_in(ctx, tenant_id).await
    }

    /// A change of one object with `permission`: a caller who lacks it on the module as a
    /// whole may still be allowed on the object by a rule on its id, owner or metadata,
    /// which [`ChangeTx::lookup`] decides.
    pub async fn change_object<'c>(
        &self,
        ctx: &'c Ctx,
        permission: Permission,
    ) -> Result<ChangeTx<'c>> {
        let tenant_id = ctx.tenant_id()?;
        let module_allowed = module_allows(ctx, tenant_id, permission)?;
        let mut tx = self.change_in(ctx, tenant_id).await?;
        tx.module_allowed = Some((permission, module_allowed));
        Ok(tx)
    }

    /// A change inside `tenant_id` for callers that are not its members (the system, the
    /// super-admin creating a tenant); the caller has authorized already.
    pub(crate) async fn change_in<'c>(
        &self,
        ctx: &'c Ctx,
        tenant_id: Uuid,
    ) -> Result<ChangeTx<'c>> {
        Ok(ChangeTx {
            tx: self.begin_tenant(tenant_id).await?,
            ctx,
            tenant_id,
            module_allowed: None,
            pending: Vec::new(),
            authz: self.authz.clone(),
            authz_changed: false,
            callers: self.callers.clone(),
            sealer: self.sealer.clone(),
            limiter: self.limiter.clone(),
            keyring: self.keyring.clone(),
            subjects: Default::default(),
        })
    }

    /// A transaction scoped to `tenant_id` with no principal: for sign-in and token
    /// refresh, which establish who the caller is.
    pub(crate) async fn begin_tenant(
        &self,
        tenant_id: Uuid,
    ) -> Result<Transaction<'static, Postgres>> {
        self.begin_tenant_as(tenant_id, "BEGIN").await
    }

    /// A read of `tenant_id` whose statements all see one snapshot (`REPEATABLE READ`):
    /// for reading the audit chain in chunks while the sealing job may link it again.
    pub(crate) async fn read_snapshot_in(&self, tenant_id: Uuid) -> Result<ReadTx> {
        Ok(ReadTx {
            tx: self
                .begin_tenant_as(tenant_id, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?,
            tenant_id,
            module_allowed: None,
            keyring: self.keyring.clone(),
        })
    }

    async fn begin_tenant_as(
        &self,
        tenant_id: Uuid,
        begin: &'static str,
    ) -> Result<Transaction<'static, Postgres>> {
        // sqlx 0.9.0's Postgres `begin` is not cancel-safe (transact-rs/sqlx#4393, fixed
        // upstream after 0.9.0): a request dropped while its BEGIN is in flight leaves the
        // pooled connection inside a transaction that the next borrower's statements
        // silently join, holding their locks. Beginning in a task of its own lets BEGIN
        // finish even when the request goes away; the finished transaction is then dropped
        // and rolled back as usual.
        //
        // BEGIN and the tenant setting travel together, in one round trip: a tenant's id
        // (hexadecimal and dashes, from a `Uuid`) is all that is spliced into the text.
        let pool = self.pool.clone();
        let begin = sqlx::AssertSqlSafe(format!(
            "{begin}; SELECT set_config('tenantry.tenant_id', '{tenant_id}', true)"
        ));
        let tx = tokio::spawn(async move { pool.begin_with(begin).await })
            .await
            .map_err(|e| Error::internal("begin a transaction", e))??;
        Ok(tx)
    }
}

/// Whether the caller holds `permission` on its module as a whole (quietly: a rule on one
/// object may still allow it). Callers who are not members of the tenant are refused here.
fn module_allows(ctx: &Ctx, tenant_id: Uuid, permission: Permission) -> Result<bool> {
    match ctx.authorize_quietly(permission, Target::collection(tenant_id, permission.module)) {
        Ok(()) => Ok(true),
        Err(Error::Forbidden { .. }) if matches!(ctx.principal, crate::Principal::Member(_)) => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// For a lookup with `permission` in a transaction opened as `opened`: whether the caller
/// holds it on the whole module. A transaction opened with the module checked (`None`)
/// checked only its own permission: another one is checked now.
fn module_flag(
    ctx: &Ctx,
    tenant_id: Uuid,
    opened: Option<(Permission, bool)>,
    permission: Permission,
) -> Result<bool> {
    match opened {
        Some((p, allowed)) if p == permission => Ok(allowed),
        _ => module_allows(ctx, tenant_id, permission),
    }
}

mod tx;

pub use tx::*;

/// Points row-level security at `tenant_id` until the transaction ends.
pub(crate) async fn set_tenant(conn: &mut PgConnection, tenant_id: Uuid) -> Result<()> {
    sqlx::query("select set_config('tenantry.tenant_id', $1, true)")
        .bind(tenant_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod bucket_tests {
    use super::*;

    #[test]
    fn a_bucket_admits_its_burst_then_its_rate() {
        let bucket = Bucket::new(10.0);
        assert_eq!((0..10).filter(|_| bucket.take()).count(), 10);
        assert!(!bucket.take(), "the burst is spent");
        std::thread::sleep(Duration::from_millis(250));
        // At least a quarter second passed: at least 2.5 tokens, never more than the burst.
        let refilled = (0..20).filter(|_| bucket.take()).count();
        assert!(
            (2..=10).contains(&refilled),
            "{refilled} after a quarter second"
        );
    }

    #[test]
    fn slots_are_a_quarter_of_the_pool_and_at_least_two() {
        assert_eq!(anonymous_slots(20), 5);
        assert_eq!(anonymous_slots(5), 2);
        assert_eq!(anonymous_slots(1), 2);
    }
}
