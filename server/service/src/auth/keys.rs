//! JWT signing keys (Ed25519). Generated on first start, the private half sealed with the
//! master key in `signing_keys`. Rotation adds a key and retires the old ones; a retired key
//! stays in the JWKS (and keeps verifying) until every token it signed has expired.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::Serialize;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crypto::MasterKey;
use crate::error::{Error, Result};

/// One public key as published at `/.well-known/jwks.json` (RFC 8037 OKP key).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
}

struct Loaded {
    signing_kid: String,
    signing: EncodingKey,
    /// Each key with the moment it stops verifying (retired keys only).
    verifying: HashMap<String, (DecodingKey, Option<OffsetDateTime>)>,
    jwks: Vec<Jwk>,
}

/// The keys in memory, shared by every request. They are re-read from the database
/// periodically ([`KeyRing::reload`], run by a worker) so that every instance signs with
/// the newest key soon after a rotation, and when a token names a key this instance has
/// not seen, at most once per [`UNKNOWN_KID_RELOAD`] (so forged kids cannot turn into a
/// query per request).
#[derive(Clone)]
pub struct KeyRing {
    pool: PgPool,
    master: MasterKey,
    /// How long a retired key keeps verifying: the access-token lifetime plus margin.
    retired_grace_secs: i64,
    loaded: Arc<RwLock<Loaded>>,
    last_reload: Arc<Mutex<Option<Instant>>>,
}

const UNKNOWN_KID_RELOAD: Duration = Duration::from_secs(5);

/// How often instances re-read the keys; retired keys verify `2 × RELOAD_EVERY` longer
/// than the token lifetime so tokens signed just before an instance noticed a rotation
/// stay valid to their end.
pub const RELOAD_EVERY: Duration = Duration::from_secs(30);

fn context(kid: &str) -> Vec<u8> {
    format!("signing_keys:{kid}").into_bytes()
}

/// Seals the token signing keys' private halves again under the master key that seals now
/// (`tenantry keys rotate-master`); returns how many changed.
pub(crate) async fn reseal(db: &crate::Db, master: &MasterKey) -> Result<usize> {
    let mut tx = db.pool().begin().await?;
    let rows = sqlx::query!("select kid, private_key_sealed from signing_keys for update")
        .fetch_all(&mut *tx)
        .await?;
    let (kids, sealed) = master.reseal_rows(
        rows.into_iter().map(|r| (r.kid, r.private_key_sealed)),
        |kid| context(kid),
    )?;
    sqlx::query!(
        "update signing_keys s set private_key_sealed = v.sealed
         from unnest($1::text[], $2::bytea[]) as v (kid, sealed) where s.kid = v.kid",
        &kids,
        &sealed
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(kids.len())
}

impl KeyRing {
    /// Loads the current keys, creating the first one if there is none.
    pub async fn load_or_create(
        db: &crate::Db,
        master: MasterKey,
        access_ttl_secs: i64,
    ) -> Result<KeyRing> {
        let pool = db.pool().clone();
        let retired_grace_secs = access_ttl_secs + 2 * RELOAD_EVERY.as_secs() as i64 + 60;
        let loaded = match load(&pool, &master, retired_grace_secs).await? {
            Some(l) => l,
            None => {
                insert_new(&pool, &master).await?;
                load(&pool, &master, retired_grace_secs)
                    .await?
                    .ok_or_else(|| {
                        Error::Internal("a newly created signing key is missing".into())
                    })?
            }
        };
        Ok(KeyRing {
            pool,
            master,
            retired_grace_secs,
            loaded: Arc::new(RwLock::new(loaded)),
            last_reload: Arc::new(Mutex::new(None)),
        })
    }

    /// A ring of one fresh key held only in memory, never stored (benchmarks).
    #[cfg(feature = "testing")]
    pub fn ephemeral(access_ttl_secs: i64) -> Result<KeyRing> {
        let key = SigningKey::generate(&mut rand_core::OsRng);
        let kid = "ephemeral".to_owned();
        let der = key
            .to_pkcs8_der()
            .map_err(|e| Error::internal("encode signing key", e))?;
        let public = key.verifying_key().to_bytes();
        let loaded = Loaded {
            signing_kid: kid.clone(),
            signing: EncodingKey::from_ed_der(der.as_bytes()),
            verifying: HashMap::from([(kid, (DecodingKey::from_ed_der(&public), None))]),
            jwks: Vec::new(),
        };
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://127.0.0.1:1/none")
            .map_err(|e| Error::internal("lazy pool", e))?;
        Ok(KeyRing {
            pool,
            master: MasterKey::generate().0,
            retired_grace_secs: access_ttl_secs,
            loaded: Arc::new(RwLock::new(loaded)),
            last_reload: Arc::new(Mutex::new(None)),
        })
    }

    /// Adds a new signing key and retires the others. Returns the new key id.
    pub async fn rotate(db: &crate::Db, master: &MasterKey) -> Result<String> {
        let mut tx = db.pool().begin().await?;
        sqlx::query!("update signing_keys set retired_at = now() where retired_at is null")
            .execute(&mut *tx)
            .await?;
        let kid = insert_new(&mut *tx, master).await?;
        tx.commit().await?;
        tracing::info!(kid = %kid, "signing key rotated");
        Ok(kid)
    }

    /// Re-reads the keys: picks up a rotation and drops keys past their grace period.
    pub async fn reload(&self) -> Result<()> {
        if let Some(l) = load(&self.pool, &self.master, self.retired_grace_secs).await? {
            *self.loaded.write().expect("key ring lock") = l;
        }
        Ok(())
    }

    pub fn jwks(&self) -> Vec<Jwk> {
        self.loaded.read().expect("key ring lock").jwks.clone()
    }

    pub(crate) fn signing(&self) -> (String, EncodingKey) {
        let l = self.loaded.read().expect("key ring lock");
        (l.signing_kid.clone(), l.signing.clone())
    }

    /// The key named `kid`, if it exists and has not expired after its retirement.
    pub(crate) async fn verifying(&self, kid: &str) -> Result<Option<DecodingKey>> {
        if let Some(found) = self.lookup(kid) {
            return Ok(found);
        }
        {
            let mut last = self.last_reload.lock().expect("reload lock");
            if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_RELOAD) {
                return Ok(None);
            }
            *last = Some(Instant::now());
        }
        self.reload().await?;
        Ok(self.lookup(kid).flatten())
    }

    /// `None`: unknown kid; `Some(None)`: known but expired; `Some(Some(key))`: usable.
    fn lookup(&self, kid: &str) -> Option<Option<DecodingKey>> {
        let loaded = self.loaded.read().expect("key ring lock");
        let (key, expires) = loaded.verifying.get(kid)?;
        let usable = expires.is_none_or(|t| t > OffsetDateTime::now_utc());
        Some(usable.then(|| key.clone()))
    }
}

async fn insert_new<'e>(conn: impl sqlx::PgExecutor<'e>, master: &MasterKey) -> Result<String> {
    let key = SigningKey::generate(&mut rand_core::OsRng);
    let kid = Uuid::now_v7().simple().to_string();
    let der = key
        .to_pkcs8_der()
        .map_err(|e| Error::internal("encode signing key", e))?;
    let sealed = master.seal(der.as_bytes(), &context(&kid));
    let public = key.verifying_key().to_bytes();
    sqlx::query!(
        "insert into signing_keys (kid, algorithm, public_key, private_key_sealed) values ($1, 'EdDSA', $2, $3)",
        kid,
        public.as_slice(),
        sealed
    )
    .execute(conn)
    .await?;
    Ok(kid)
}

async fn load(pool: &PgPool, master: &MasterKey, grace_secs: i64) -> Result<Option<Loaded>> {
    let rows = sqlx::query!(
        r#"select kid, public_key, private_key_sealed, retired_at is null as "active!",
                  retired_at + make_interval(secs => $1) as verify_until
           from signing_keys
           where retired_at is null or retired_at > now() - make_interval(secs => $1)
           order by created_at desc"#,
        grace_secs as f64
    )
    .fetch_all(pool)
    .await?;
    let Some(active) = rows.iter().find(|r| r.active) else {
        return Ok(None);
    };
    let der = master.open(&active.private_key_sealed, &context(&active.kid))?;
    let signing = EncodingKey::from_ed_der(&der);
    let mut verifying = HashMap::new();
    let mut jwks = Vec::new();
    for r in &rows {
        verifying.insert(
            r.kid.clone(),
            (DecodingKey::from_ed_der(&r.public_key), r.verify_until),
        );
        jwks.push(Jwk {
            kty: "OKP",
            crv: "Ed25519",
            x: URL_SAFE_NO_PAD.encode(&r.public_key),
            kid: r.kid.clone(),
            alg: "EdDSA",
            use_: "sig",
        });
    }
    Ok(Some(Loaded {
        signing_kid: active.kid.clone(),
        signing,
        verifying,
        jwks,
    }))
}
