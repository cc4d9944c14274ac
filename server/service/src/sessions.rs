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
use crate::events::catalogue::{shapes, types};

/// Session keys holding who signed in.
pub const TENANT_KEY: &str = "tid";
pub const IDENTITY_KEY: &str = "iid";
/// Session keys holding where the sign-in came from (shown in the sessions list).
pub const IP_KEY: &str = "ip";
pub const USER_AGENT_KEY: &str = "ua";

#[derive(Clone, Debug)]
pub struct PgSessionStore {
    pool: PgPool,
}

impl PgSessionStore {
    pub fn new(db: &crate::Db) -> Self {
        PgSessionStore {
            pool: db.pool().clone(),
        }
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

/// The device a session came from: its IP (as text, checked by PostgreSQL) and user agent.
fn device(record: &Record) -> (Option<String>, Option<String>) {
    let get = |k: &str| {
        record
            .data
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    (
        get(IP_KEY).filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()),
        get(USER_AGENT_KEY),
    )
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let data = serde_json::to_value(&record.data).map_err(backend)?;
            let (tenant, identity) = owner(record);
            let (ip, user_agent) = device(record);
            let inserted = sqlx::query!(
                "insert into sessions (id_hash, data, expires_at, tenant_id, identity_id, ip, user_agent)
                 values ($1, $2, $3, $4, $5, $6::text::inet, $7) on conflict (id_hash) do nothing",
                key(&record.id),
                data,
                record.expiry_date,
                tenant,
                identity,
                ip,
                user_agent
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
        let (ip, user_agent) = device(record);
        sqlx::query!(
            "update sessions set data = $2, expires_at = $3, tenant_id = $4, identity_id = $5,
                                 last_seen_at = now(), ip = $6::text::inet, user_agent = $7
             where id_hash = $1",
            key(&record.id),
            data,
            record.expiry_date,
            tenant,
            identity,
            ip,
            user_agent
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

// ---------------------------------------------------------------------------------------
// Sessions as their owners and admins see them.

/// A console session, named by its public id (never by its cookie or the cookie's hash).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SessionInfo {
    pub id: Uuid,
    pub identity_id: Uuid,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The user agent in words: "Firefox on Linux".
    pub device: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The session this request came with.
    pub current: bool,
}

/// "Browser on system" from a user agent string; good enough to recognise one's devices.
pub fn describe_device(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|u| !u.trim().is_empty()) else {
        return "Unknown device".into();
    };
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") || ua.contains("Opera") {
        "Opera"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") || ua.contains("CriOS/") {
        if ua.contains("HeadlessChrome") {
            "Headless Chrome"
        } else {
            "Chrome"
        }
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.starts_with("curl/") {
        "curl"
    } else {
        ua.split(['/', ' ']).next().unwrap_or("Unknown browser")
    };
    let system = if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        Some("iOS")
    } else if ua.contains("Windows") {
        Some("Windows")
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        Some("macOS")
    } else if ua.contains("CrOS") {
        Some("ChromeOS")
    } else if ua.contains("Linux") {
        Some("Linux")
    } else {
        None
    };
    match system {
        Some(s) => format!("{browser} on {s}"),
        None => browser.to_owned(),
    }
}

/// What a policy sees of `owner`'s sessions (`session`: one of them in particular).
fn target_of(tenant_id: Uuid, owner: Uuid, session: Option<Uuid>) -> crate::authz::Target {
    let base = match session {
        Some(id) => crate::authz::Target::object(tenant_id, "sessions", id),
        None => crate::authz::Target::collection(tenant_id, "sessions"),
    };
    crate::authz::Target {
        owner: Some(owner),
        ..base
    }
}

/// The permission seeing or ending `owner`'s sessions takes with `own`: their own with
/// `own`, anyone's in the tenant with `sessions:manage`.
fn permission_for(
    caller: &crate::ctx::Caller,
    owner: Uuid,
    own: crate::authz::Permission,
) -> crate::authz::Permission {
    if caller.identity_id == owner {
        own
    } else {
        crate::authz::perm::SESSIONS_MANAGE
    }
}

/// Whether the caller may see or end `owner`'s sessions (or one of them, `session`).
fn authorize_for(
    ctx: &crate::Ctx,
    owner: Uuid,
    own: crate::authz::Permission,
    session: Option<Uuid>,
) -> crate::Result<()> {
    let caller = ctx.caller()?;
    ctx.authorize(
        permission_for(caller, owner, own),
        target_of(caller.tenant_id, owner, session),
    )
}

/// The console sessions of `identity_id` (default: the caller), most recently seen first.
pub async fn list(
    ctx: &crate::Ctx,
    db: &crate::Db,
    identity_id: Option<Uuid>,
) -> crate::Result<Vec<SessionInfo>> {
    let caller = ctx.caller()?;
    let owner = identity_id.unwrap_or(caller.identity_id);
    authorize_for(ctx, owner, crate::authz::perm::SESSIONS_READ, None)?;
    let read = permission_for(caller, owner, crate::authz::perm::SESSIONS_READ);
    let rows = sqlx::query!(
        r#"select public_id, identity_id as "identity_id!", host(ip) as ip, user_agent, id_hash,
                  created_at, last_seen_at, expires_at
           from sessions
           where tenant_id = $1 and identity_id = $2 and expires_at > now()
           order by last_seen_at desc, public_id"#,
        caller.tenant_id,
        owner
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        // A rule on one session (its id) hides it as `revoke` would.
        .filter(|r| {
            ctx.authorize_quietly(read, target_of(caller.tenant_id, owner, Some(r.public_id)))
                .is_ok()
        })
        .map(|r| SessionInfo {
            id: r.public_id,
            identity_id: r.identity_id,
            device: describe_device(r.user_agent.as_deref()),
            ip: r.ip,
            user_agent: r.user_agent,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
            current: ctx.session_key.as_deref() == Some(r.id_hash.as_slice()),
        })
        .collect())
}

/// Ends one session: the browser holding it is signed out at its next request.
pub async fn revoke(ctx: &crate::Ctx, db: &crate::Db, id: Uuid) -> crate::Result<()> {
    let caller = ctx.caller()?;
    ctx.authorize(
        crate::authz::perm::SESSIONS_DELETE,
        crate::authz::Target::collection(caller.tenant_id, "sessions"),
    )?;
    let not_found = || crate::Error::NotFound {
        resource: "session",
    };
    let owner = sqlx::query_scalar!(
        r#"select identity_id as "identity_id!" from sessions
           where public_id = $1 and tenant_id = $2 and identity_id is not null"#,
        id,
        caller.tenant_id
    )
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(not_found)?;
    // A session the caller may not see does not exist for them: someone else's without
    // the right to end it, or one a rule on its id hides.
    let read = permission_for(caller, owner, crate::authz::perm::SESSIONS_READ);
    let hidden = ctx
        .authorize_quietly(read, target_of(caller.tenant_id, owner, None))
        .is_ok()
        && ctx
            .authorize_quietly(read, target_of(caller.tenant_id, owner, Some(id)))
            .is_err();
    let unmanaged = owner != caller.identity_id
        && authorize_for(ctx, owner, crate::authz::perm::SESSIONS_DELETE, Some(id)).is_err();
    if hidden || unmanaged {
        return Err(not_found());
    }
    authorize_for(ctx, owner, crate::authz::perm::SESSIONS_DELETE, Some(id))?;
    let mut tx = db.change(ctx, crate::authz::perm::SESSIONS_DELETE).await?;
    let gone = sqlx::query!(
        "delete from sessions where public_id = $1 and tenant_id = $2",
        id,
        caller.tenant_id
    )
    .execute(tx.conn())
    .await?;
    if gone.rows_affected() == 0 {
        return Err(not_found());
    }
    tx.record(crate::db::Change {
        action: types::SESSION_REVOKED,
        target_type: "session",
        target_id: Some(id),
        before: Some(shapes::to_value(shapes::IdentityRefData {
            identity_id: owner,
        })),
        after: None,
    })
    .await?;
    tx.commit().await
}

/// Ends every session of `identity_id` (default: the caller) but the one this request came
/// with, and, for another identity or `everywhere`, their refresh tokens too. Returns how many
/// sessions ended.
pub async fn revoke_all(
    ctx: &crate::Ctx,
    db: &crate::Db,
    identity_id: Option<Uuid>,
) -> crate::Result<u64> {
    let caller = ctx.caller()?;
    let owner = identity_id.unwrap_or(caller.identity_id);
    authorize_for(ctx, owner, crate::authz::perm::SESSIONS_DELETE, None)?;
    let mut tx = db.change(ctx, crate::authz::perm::SESSIONS_DELETE).await?;
    let keep = (owner == caller.identity_id)
        .then(|| ctx.session_key.clone())
        .flatten();
    let (sessions, tokens) =
        end_sessions_of(tx.conn(), caller.tenant_id, owner, keep.as_deref()).await?;
    tx.record(crate::db::Change {
        action: types::SESSION_REVOKED_ALL,
        target_type: "identity",
        target_id: Some(owner),
        before: None,
        after: Some(shapes::to_value(shapes::SessionsRevokedData {
            sessions_ended: sessions,
            refresh_tokens_revoked: tokens,
            kept_current: keep.is_some(),
        })),
    })
    .await?;
    tx.commit().await?;
    Ok(sessions)
}

/// Ends an identity's console sessions (all but `keep`, the hash of one to spare) and
/// revokes its live refresh tokens, inside the caller's transaction. Used when sessions
/// are revoked, a password changes, or an identity is disabled or deleted.
///
/// A session ends when it holds a sign-in of the identity anywhere: as the identity it
/// acts for now, or among the tenants its browser switched between (`signins`), so a
/// session switched to another tenant does not outlive the revocation. Without `keep`
/// (nobody's session is spared) the identity's sign-ins made before now stop standing too,
/// which switching tenants re-checks.
pub(crate) async fn end_sessions_of(
    conn: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    identity_id: Uuid,
    keep: Option<&[u8]>,
) -> crate::Result<(u64, u64)> {
    let held = serde_json::json!([{
        "tenant_id": tenant_id.to_string(),
        "identity_id": identity_id.to_string(),
    }]);
    let sessions = sqlx::query!(
        "delete from sessions
         where ((tenant_id = $1 and identity_id = $2) or (data -> 'signins') @> $4)
           and ($3::bytea is null or id_hash <> $3)",
        tenant_id,
        identity_id,
        keep,
        held
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if keep.is_none() {
        sqlx::query!(
            "update identities set sessions_valid_after = now() where tenant_id = $1 and id = $2",
            tenant_id,
            identity_id
        )
        .execute(&mut *conn)
        .await?;
    }
    let tokens = sqlx::query!(
        "update refresh_tokens set revoked_at = now()
         where tenant_id = $1 and identity_id = $2 and revoked_at is null",
        tenant_id,
        identity_id
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((sessions, tokens))
}

/// Whether a sign-in of `identity_id` made at `signed_in_at` still stands: the identity's
/// sessions were not all ended after it (a reset, a disable, an admin's revoke).
pub async fn sign_in_stands(
    db: &crate::Db,
    tenant_id: Uuid,
    identity_id: Uuid,
    signed_in_at: Option<OffsetDateTime>,
) -> crate::Result<bool> {
    let mut tx = db.begin_tenant(tenant_id).await?;
    let valid_after = sqlx::query_scalar!(
        "select sessions_valid_after from identities where tenant_id = $1 and id = $2",
        tenant_id,
        identity_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    Ok(match (valid_after, signed_in_at) {
        (None, _) => true,
        (Some(after), Some(at)) => at > after,
        // A sign-in recorded before sign-in times were kept: it stands only if no
        // revocation ever happened.
        (Some(_), None) => false,
    })
}

/// Marks a session as seen now, at most once a minute (sessions are otherwise written only
/// when their data changes).
pub async fn touch(db: &crate::Db, session_key: &[u8]) -> crate::Result<()> {
    sqlx::query!(
        "update sessions set last_seen_at = now()
         where id_hash = $1 and last_seen_at < now() - interval '1 minute'",
        session_key
    )
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The key a session is stored under (SHA-256 of its id), for marking the current one.
pub fn key_of(id: &Id) -> Vec<u8> {
    key(id)
}

/// Removes what can never be used again, tenant by tenant (row-level security applies):
/// refresh tokens and password reset links a day past their expiry, and mail sent more than
/// 30 days ago. Returns how many rows went.
pub async fn delete_expired_credentials(db: &crate::Db) -> crate::Result<u64> {
    let tenants = sqlx::query_scalar!("select id from tenants")
        .fetch_all(db.pool())
        .await?;
    let mut removed = 0;
    for tenant_id in tenants {
        let mut tx = db.begin_tenant(tenant_id).await?;
        removed += sqlx::query!(
            "delete from refresh_tokens where tenant_id = $1 and expires_at < now() - interval '1 day'",
            tenant_id
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        removed += sqlx::query!(
            "delete from password_resets where tenant_id = $1 and expires_at < now() - interval '1 day'",
            tenant_id
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
    }
    removed += sqlx::query!("delete from mail_outbox where sent_at < now() - interval '30 days'")
        .execute(db.pool())
        .await?
        .rows_affected();
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::describe_device;

    #[test]
    fn devices_are_named() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1",
                "Chrome on iOS",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0 Safari/537.36",
                "Headless Chrome on Linux",
            ),
            ("curl/8.5.0", "curl"),
        ];
        for (ua, want) in cases {
            assert_eq!(describe_device(Some(ua)), want, "{ua}");
        }
        assert_eq!(describe_device(None), "Unknown device");
    }
}
