//! The key hierarchy: the master key wraps each tenant's keys (`tenant_keys`), a tenant's
//! data key wraps each data subject's key (`subject_keys`).
//!
//! Every instance keeps its tenants' unwrapped keys in memory ([`Keyring`]) and forgets a
//! tenant's when told on [`CHANNEL`] (a new version, a re-wrap, a removal). Subjects' keys
//! are not kept: each read unwraps them from the row it joins, so a subject whose key was
//! destroyed is unreadable on every instance at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::PgConnection;
use uuid::Uuid;

use super::envelope::{self, Key, KeyRef, Place};
use crate::crypto::MasterKey;
use crate::db::Db;
use crate::error::{Error, Result};

/// The PostgreSQL notification channel of tenant keys (payload: the tenant's id).
pub const CHANNEL: &str = "tenantry_keys";

/// How long keys read while this instance is not listening on [`CHANNEL`] are trusted.
const OFFLINE_TTL: Duration = Duration::from_secs(1);

/// A subject's key is made once and never replaced (a new tenant data key wraps it again),
/// so every envelope under it names version 1.
const SUBJECT_KEY_VERSION: u32 = 1;

const DATA: &str = "data";
const BLIND: &str = "blind";

/// One tenant's keys, unwrapped.
pub struct TenantKeys {
    tenant: Uuid,
    /// Data keys by version, highest (the one that seals) first.
    data: Vec<(u32, Key)>,
    blind: Key,
}

impl std::fmt::Debug for TenantKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let versions: Vec<u32> = self.data.iter().map(|(v, _)| *v).collect();
        f.debug_struct("TenantKeys")
            .field("tenant", &self.tenant)
            .field("data_versions", &versions)
            .finish_non_exhaustive()
    }
}

impl TenantKeys {
    fn data_key(&self, version: u32) -> Result<&Key> {
        self.data
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, k)| k)
            .ok_or_else(|| {
                Error::Internal(format!(
                    "tenant {} has no data key of version {version}",
                    self.tenant
                ))
            })
    }

    /// A blind index of `normalized` for `domain` (see [`envelope::blind_index`]).
    pub fn blind_index(&self, domain: &str, normalized: &str) -> Vec<u8> {
        envelope::blind_index(&self.blind, domain, normalized)
    }

    /// The search grams of `text` for `domain` (see [`envelope::grams`]).
    pub fn grams(&self, domain: &str, text: &str) -> Vec<i32> {
        envelope::grams(&self.blind, domain, text)
    }

    /// The grams a search for `query` needs (see [`envelope::query_grams`]).
    pub fn query_grams(&self, domain: &str, query: &str) -> Vec<i32> {
        envelope::query_grams(&self.blind, domain, query)
    }

    /// Seals a field with no one person behind it under the tenant's data key.
    pub fn seal(&self, place: Place<'_>, plaintext: &[u8]) -> Vec<u8> {
        let (version, key) = &self.data[0];
        envelope::seal(key, KeyRef::Tenant(*version), place, plaintext)
    }

    /// Opens a field sealed by [`TenantKeys::seal`] (under any version still held).
    pub fn open(&self, place: Place<'_>, sealed: &[u8]) -> Result<Vec<u8>> {
        match envelope::key_of(sealed)? {
            KeyRef::Tenant(v) => envelope::open(self.data_key(v)?, place, sealed),
            KeyRef::Subject(_) => Err(Error::Internal(
                "a field sealed under a subject's key was opened with the tenant's".into(),
            )),
        }
    }

    /// The version of the data key that seals now (the highest).
    pub fn data_version(&self) -> u32 {
        self.data[0].0
    }

    /// Seals again under the data key that seals now a field sealed by
    /// [`TenantKeys::seal`] under an older version.
    pub fn reseal(&self, place: Place<'_>, sealed: &[u8]) -> Result<Vec<u8>> {
        let mut plain = self.open(place, sealed)?;
        let again = self.seal(place, &plain);
        zeroize::Zeroize::zeroize(&mut plain);
        Ok(again)
    }

    /// Wraps subject `identity`'s key again under the data key that seals now.
    pub fn rewrap_subject_key(&self, identity: Uuid, wrapped: &[u8]) -> Result<Vec<u8>> {
        let key = self.unwrap_subject_key(identity, wrapped)?;
        let (version, tenant_key) = &self.data[0];
        Ok(envelope::wrap_subject_key(
            tenant_key,
            *version,
            self.tenant,
            identity,
            &key,
        ))
    }

    /// A new key for subject `identity`, and its wrapped form for `subject_keys`.
    pub fn new_subject_key(&self, identity: Uuid) -> (Key, Vec<u8>) {
        let key = Key::generate();
        let (version, tenant_key) = &self.data[0];
        let wrapped = envelope::wrap_subject_key(tenant_key, *version, self.tenant, identity, &key);
        (key, wrapped)
    }

    /// Seals one of a data subject's fields under their key (see [`TenantKeys::new_subject_key`]).
    pub fn seal_for_subject(&self, subject: &Key, place: Place<'_>, plaintext: &[u8]) -> Vec<u8> {
        envelope::seal(
            subject,
            KeyRef::Subject(SUBJECT_KEY_VERSION),
            place,
            plaintext,
        )
    }

    /// Opens a field sealed by [`TenantKeys::seal_for_subject`].
    pub fn open_bytes_for_subject(
        &self,
        subject: &Key,
        place: Place<'_>,
        sealed: &[u8],
    ) -> Result<Vec<u8>> {
        match envelope::key_of(sealed)? {
            KeyRef::Subject(_) => envelope::open(subject, place, sealed),
            KeyRef::Tenant(_) => Err(Error::Internal(
                "a field sealed under the tenant's key was opened with a subject's".into(),
            )),
        }
    }

    /// Opens a text field sealed by [`TenantKeys::seal_for_subject`].
    pub fn open_for_subject(
        &self,
        subject: &Key,
        place: Place<'_>,
        sealed: &[u8],
    ) -> Result<String> {
        String::from_utf8(self.open_bytes_for_subject(subject, place, sealed)?)
            .map_err(|_| Error::Internal("a sealed text field is not UTF-8".into()))
    }

    /// Keys made on the spot, for unit tests.
    #[cfg(test)]
    pub(crate) fn for_tests(tenant: Uuid) -> TenantKeys {
        TenantKeys {
            tenant,
            data: vec![(1, Key::generate())],
            blind: Key::generate(),
        }
    }

    /// Unwraps subject `identity`'s key from its `subject_keys` row.
    pub fn unwrap_subject_key(&self, identity: Uuid, wrapped: &[u8]) -> Result<Key> {
        let KeyRef::Tenant(version) = envelope::key_of(wrapped)? else {
            return Err(Error::Internal(
                "a subject's key is not wrapped by a tenant key".into(),
            ));
        };
        envelope::unwrap_subject_key(self.data_key(version)?, self.tenant, identity, wrapped)
    }
}

/// This instance's unwrapped tenant keys.
pub struct Keyring {
    /// `None` on a handle made without `TENANTRY_MASTER_KEY` (tools, some tests): it opens
    /// nothing sealed and seals nothing.
    master: Option<Arc<MasterKey>>,
    tenants: Mutex<HashMap<Uuid, (Arc<TenantKeys>, Instant)>>,
    /// Bumped by every forgetting: keys read before it are not kept.
    generation: AtomicU64,
    /// Whether this instance is listening on [`CHANNEL`].
    online: AtomicBool,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("tenants", &self.lock().len())
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    purpose: String,
    version: i32,
    wrapped: Vec<u8>,
}

impl Keyring {
    pub fn new(master: Arc<MasterKey>) -> Self {
        Keyring {
            master: Some(master),
            tenants: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            online: AtomicBool::new(false),
        }
    }

    /// A keyring that has no master key: every use of a tenant's keys is an error.
    pub fn without_master() -> Self {
        Keyring {
            master: None,
            tenants: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            online: AtomicBool::new(false),
        }
    }

    fn master(&self) -> Result<&MasterKey> {
        self.master.as_deref().ok_or_else(|| {
            Error::Internal(
                "field-level encryption needs a master key (TENANTRY_MASTER_KEY)".into(),
            )
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, (Arc<TenantKeys>, Instant)>> {
        self.tenants.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Release);
        if !online {
            self.forget_all();
        }
    }

    /// Whether this instance is listening on [`CHANNEL`] (and so keeps keys for longer
    /// than a second).
    pub fn online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock().clear();
    }

    /// Handles a notification on [`CHANNEL`].
    pub fn heard(&self, payload: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        match Uuid::parse_str(payload) {
            Ok(tenant) => {
                self.lock().remove(&tenant);
            }
            Err(_) => self.lock().clear(),
        }
    }

    /// How many tenants' keys this instance holds (tests).
    pub fn held(&self) -> usize {
        self.lock().len()
    }

    /// A tenant's keys: from memory, else read (and made, the first time) in a short
    /// transaction of their own, so that a key is never held unless it is committed. Take
    /// them before the request's own transaction, which would otherwise hold one pooled
    /// connection while this waits for another.
    pub async fn tenant(&self, db: &Db, tenant: Uuid) -> Result<Arc<TenantKeys>> {
        if let Some(keys) = self.held_keys(tenant) {
            return Ok(keys);
        }
        let ticket = self.generation.load(Ordering::Acquire);
        let mut tx = db.begin_tenant(tenant).await?;
        let mut rows = read(&mut tx, tenant).await?;
        if !has_both(&rows) {
            self.make_missing(&mut tx, tenant, &rows).await?;
            rows = read(&mut tx, tenant).await?;
        }
        tx.commit().await?;
        let keys = Arc::new(self.unwrap(tenant, rows)?);
        self.keep(ticket, tenant, &keys);
        Ok(keys)
    }

    /// A tenant's keys, from memory or read in the caller's open transaction (scoped to
    /// `tenant`), for work that already holds one: it waits for no other connection. A
    /// tenant with no keys yet gets them in that transaction; they are kept in memory only
    /// once read committed (by a later call), so a transaction that rolls back takes its
    /// keys and everything sealed under them with it.
    pub async fn tenant_in(
        &self,
        conn: &mut PgConnection,
        tenant: Uuid,
    ) -> Result<Arc<TenantKeys>> {
        if let Some(keys) = self.held_keys(tenant) {
            return Ok(keys);
        }
        let ticket = self.generation.load(Ordering::Acquire);
        let mut rows = read(&mut *conn, tenant).await?;
        let committed = has_both(&rows);
        if !committed {
            self.make_missing(&mut *conn, tenant, &rows).await?;
            rows = read(&mut *conn, tenant).await?;
        }
        let keys = Arc::new(self.unwrap(tenant, rows)?);
        if committed {
            self.keep(ticket, tenant, &keys);
        }
        Ok(keys)
    }

    /// Adds a new version of `tenant`'s data key, sealed by the master key, in the caller's
    /// transaction (scoped to `tenant`); returns its version. From its commit on, every
    /// instance seals under it (they are told on [`CHANNEL`]; this one forgets the tenant's
    /// keys at once when the caller calls [`Keyring::heard`]).
    pub async fn add_data_key(&self, conn: &mut PgConnection, tenant: Uuid) -> Result<u32> {
        let version = sqlx::query_scalar!(
            r#"select coalesce(max(version), 0) + 1 as "v!" from tenant_keys
               where tenant_id = $1 and purpose = 'data'"#,
            tenant
        )
        .fetch_one(&mut *conn)
        .await?;
        let wrapped = self.master()?.seal(
            Key::generate().as_bytes(),
            &envelope::tenant_key_context(tenant, DATA, version as u32),
        );
        sqlx::query!(
            "insert into tenant_keys (tenant_id, purpose, version, wrapped) values ($1, $2, $3, $4)",
            tenant,
            DATA,
            version,
            wrapped
        )
        .execute(&mut *conn)
        .await?;
        Ok(version as u32)
    }

    fn held_keys(&self, tenant: Uuid) -> Option<Arc<TenantKeys>> {
        let online = self.online.load(Ordering::Acquire);
        match self.lock().get(&tenant) {
            Some((keys, at)) if online || at.elapsed() < OFFLINE_TTL => Some(keys.clone()),
            _ => None,
        }
    }

    fn keep(&self, ticket: u64, tenant: Uuid, keys: &Arc<TenantKeys>) {
        if self.generation.load(Ordering::Acquire) == ticket {
            self.lock().insert(tenant, (keys.clone(), Instant::now()));
        }
    }

    /// Adds the keys `tenant` lacks (version 1); another instance adding them at the same
    /// time wins, and what is stored is what counts.
    async fn make_missing(
        &self,
        conn: &mut PgConnection,
        tenant: Uuid,
        rows: &[KeyRow],
    ) -> Result<()> {
        for purpose in [DATA, BLIND] {
            if !rows.iter().any(|r| r.purpose == purpose) {
                let wrapped = self.master()?.seal(
                    Key::generate().as_bytes(),
                    &envelope::tenant_key_context(tenant, purpose, 1),
                );
                sqlx::query!(
                    "insert into tenant_keys (tenant_id, purpose, version, wrapped)
                     values ($1, $2, 1, $3) on conflict do nothing",
                    tenant,
                    purpose,
                    wrapped
                )
                .execute(&mut *conn)
                .await?;
            }
        }
        Ok(())
    }

    fn unwrap(&self, tenant: Uuid, rows: Vec<KeyRow>) -> Result<TenantKeys> {
        let mut data = Vec::new();
        let mut blind = None;
        for row in rows {
            let version = row.version as u32;
            let mut bytes = self.master()?.open(
                &row.wrapped,
                &envelope::tenant_key_context(tenant, &row.purpose, version),
            )?;
            let key = Key::from_bytes(&bytes);
            zeroize::Zeroize::zeroize(&mut bytes);
            match row.purpose.as_str() {
                DATA => data.push((version, key?)),
                _ => blind = Some(key?),
            }
        }
        data.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
        match (data.is_empty(), blind) {
            (false, Some(blind)) => Ok(TenantKeys {
                tenant,
                data,
                blind,
            }),
            _ => Err(Error::Internal(format!(
                "tenant {tenant} has no data or blind-index key"
            ))),
        }
    }
}

/// Wraps every key of `tenant` again under the master key that seals now (the first of
/// `TENANTRY_MASTER_KEY`); returns how many were re-wrapped. Rows sealed under the
/// tenant's keys are not touched.
pub async fn rewrap_tenant(db: &Db, master: &MasterKey, tenant: Uuid) -> Result<usize> {
    let mut tx = db.begin_tenant(tenant).await?;
    let rows = sqlx::query_as!(
        KeyRow,
        "select purpose, version, wrapped from tenant_keys where tenant_id = $1 for update",
        tenant
    )
    .fetch_all(&mut *tx)
    .await?;
    let (keys, wrapped) = master.reseal_rows(
        rows.into_iter()
            .map(|r| ((r.purpose, r.version), r.wrapped)),
        |(purpose, version)| envelope::tenant_key_context(tenant, purpose, *version as u32),
    )?;
    let (purposes, versions): (Vec<String>, Vec<i32>) = keys.into_iter().unzip();
    sqlx::query!(
        "update tenant_keys k set wrapped = v.wrapped
             from unnest($2::text[], $3::int[], $4::bytea[]) as v (purpose, version, wrapped)
             where k.tenant_id = $1 and k.purpose = v.purpose and k.version = v.version",
        tenant,
        &purposes,
        &versions,
        &wrapped
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(purposes.len())
}

fn has_both(rows: &[KeyRow]) -> bool {
    [DATA, BLIND]
        .iter()
        .all(|purpose| rows.iter().any(|r| r.purpose == *purpose))
}

async fn read(conn: &mut PgConnection, tenant: Uuid) -> Result<Vec<KeyRow>> {
    Ok(sqlx::query_as!(
        KeyRow,
        "select purpose, version, wrapped from tenant_keys where tenant_id = $1",
        tenant
    )
    .fetch_all(conn)
    .await?)
}
