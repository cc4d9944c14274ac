//! Console sessions for tower-sessions, stored in PostgreSQL so that every server instance
//! sees the same sessions and a revoked one is gone everywhere. The table keys each session
//! by the SHA-256 of its id: a copy of the table does not yield usable cookies.

use async_trait::async_trait;
use sqlx::PgPool;
use time::OffsetDateTime;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{self, SessionStore};
use uuid::Uuid;

use crate::crypto::sha256;

/// Session keys holding who signed in.
pub const TENANT_KEY: &str = "tid";
pub const IDENTITY_KEY: &str = "iid";

#[derive(Clone, Debug)]
pub struct PgSessionStore {
    pool: PgPool,
}

impl PgSessionStore {
    pub fn new(pool: PgPool) -> Self {
        PgSessionStore { pool }
    }

    /// Deletes expired sessions; run periodically by a worker.
    pub async fn delete_expired(&self) -> crate::Result<u64> {
        let done = sqlx::query!("delete from sessions where expires_at < now()")
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

fn key(id: &Id) -> Vec<u8> {
    sha256(id.to_string().as_bytes()).to_vec()
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn owner(record: &Record) -> (Option<Uuid>, Option<Uuid>) {
    let get = |k: &str| {
        record
            .data
            .get(k)
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
    };
    (get(TENANT_KEY), get(IDENTITY_KEY))
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let data = serde_json::to_value(&record.data).map_err(backend)?;
            let (tenant, identity) = owner(record);
            let inserted = sqlx::query!(
                "insert into sessions (id_hash, data, expires_at, tenant_id, identity_id)
                 values ($1, $2, $3, $4, $5) on conflict (id_hash) do nothing",
                key(&record.id),
                data,
                record.expiry_date,
                tenant,
                identity
            )
            .execute(&self.pool)
            .await
            .map_err(backend)?;
            if inserted.rows_affected() == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    /// Updates a session that exists. A session deleted meanwhile (signed out, revoked,
    /// its identity disabled) stays deleted: a request still in flight cannot bring it back.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_value(&record.data).map_err(backend)?;
        let (tenant, identity) = owner(record);
        sqlx::query!(
            "update sessions set data = $2, expires_at = $3, tenant_id = $4, identity_id = $5,
                                 last_seen_at = now()
             where id_hash = $1",
            key(&record.id),
            data,
            record.expiry_date,
            tenant,
            identity
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = sqlx::query!(
            "select data, expires_at from sessions where id_hash = $1 and expires_at > $2",
            key(id),
            OffsetDateTime::now_utc()
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some(Record {
                id: *id,
                data: serde_json::from_value(r.data).map_err(backend)?,
                expiry_date: r.expires_at,
            })),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query!("delete from sessions where id_hash = $1", key(id))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
