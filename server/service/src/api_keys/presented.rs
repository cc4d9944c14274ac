//! A presented key: who it stands for, from this instance's memory when it can.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::*;
use crate::auth::callers::KnownKey;

/// The caller behind a presented key, or `Unauthenticated` for a malformed, unknown,
/// revoked or expired key, or one whose identity is no longer active. The key and its
/// caller come from this instance's memory when it has met them since their last change
/// (see [`crate::auth::callers`]); the secret is compared every time.
pub async fn authenticate(db: &Db, presented: &str, ip: Option<IpAddr>) -> Result<Caller> {
    let Some((id, secret)) = parse(presented) else {
        return Err(Error::Unauthenticated);
    };
    let presented_hash = crypto::sha256(secret.as_bytes());
    let key = match db.callers().key(id) {
        Some(key) => key,
        None => read_key(db, id).await?.ok_or(Error::Unauthenticated)?,
    };
    let now = OffsetDateTime::now_utc();
    if !crypto::constant_time_eq(&presented_hash, &key.secret_hash)
        || status_of(now, key.expires_at, key.revoked_at) != Status::Active
    {
        return Err(Error::Unauthenticated);
    }
    let mut caller =
        crate::auth::load_caller(db, key.tenant_id, key.identity_id, AuthMethod::ApiKey)
            .await?
            .ok_or(Error::Unauthenticated)?;
    caller.api_key = Some(KeyGrant {
        id,
        name: key.name.clone(),
        scopes: key.scopes.clone(),
        limit: key.limit,
    });
    note_use(db, id, &key, now, ip).await?;
    Ok(caller)
}

/// The key as stored, kept in memory for the next request.
async fn read_key(db: &Db, id: Uuid) -> Result<Option<Arc<KnownKey>>> {
    let ticket = db.callers().ticket();
    let Some(tenant_id) =
        sqlx::query_scalar!("select tenant_id from api_key_tenants where id = $1", id)
            .fetch_optional(db.pool())
            .await?
    else {
        return Ok(None);
    };
    let mut tx = db.begin_tenant(tenant_id).await?;
    let Some(row) = sqlx::query!(
        r#"select identity_id, name, scopes, secret_hash, expires_at, revoked_at, rate, burst,
                  coalesce(extract(epoch from last_used_at)::bigint, 0) as "last_used!"
           from api_keys where tenant_id = $1 and id = $2"#,
        tenant_id,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(None);
    };
    let key = Arc::new(KnownKey {
        tenant_id,
        identity_id: row.identity_id,
        name: row.name,
        scopes: row.scopes,
        secret_hash: row.secret_hash,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        limit: row
            .rate
            .zip(row.burst)
            .map(|(rate, burst)| crate::limits::Limit {
                rate,
                burst: burst.max(1) as u32,
            }),
        last_used: AtomicI64::new(row.last_used),
    });
    db.callers().keep_key(ticket, id, key.clone());
    Ok(Some(key))
}

/// Records when and from where the key was last used, at most once a minute per key and
/// instance: the request that finds the record stale writes it, the others go on.
async fn note_use(
    db: &Db,
    id: Uuid,
    key: &KnownKey,
    now: OffsetDateTime,
    ip: Option<IpAddr>,
) -> Result<()> {
    let now = now.unix_timestamp();
    let last = key.last_used.load(Ordering::Acquire);
    if (now - last) < LAST_USED_GRAIN_SECS
        || key
            .last_used
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return Ok(());
    }
    let ip = ip.map(|ip| ip.to_string());
    let mut tx = db.begin_tenant(key.tenant_id).await?;
    sqlx::query!(
        "update api_keys set last_used_at = now(), last_used_ip = $3::text::inet
         where tenant_id = $1 and id = $2",
        key.tenant_id,
        id,
        ip
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
